"""Texture and motion accuracy of an appearance-and-motion evaluation (``eval.json`` of ``neurocv eval``): a
prediction counts for texture when its class has the true texture (whatever its motion), and the reverse.

    .venv/bin/python scripts/factor_accuracy.py RUN/final/eval.json [RUN/holdout/eval.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def factor_accuracy(report: dict) -> dict:
    classes, cm = report["classes"], report["confusion"]
    n = sum(map(sum, cm))
    split = [c.split("_", 1) for c in classes]
    tex = sum(cm[i][j] for i in range(len(cm)) for j in range(len(cm)) if split[i][0] == split[j][0])
    mot = sum(cm[i][j] for i in range(len(cm)) for j in range(len(cm)) if split[i][1] == split[j][1])
    return {"top1": report["top1"], "texture": tex / n, "motion": mot / n, "n": n}


def main(argv: list[str]) -> int:
    for p in argv:
        r = factor_accuracy(json.loads(Path(p).read_text()))
        print(f"{p}: top-1 {100 * r['top1']:.1f} %, texture {100 * r['texture']:.1f} %, motion "
              f"{100 * r['motion']:.1f} % ({r['n']} clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
