"""Which clips of an appearance-and-motion set the models get wrong, against how truly each clip's motion vectors
trace its motion (docs/learning.md, section 9).

For every clip of ``SPLIT`` of ``DATA`` (made by ``neurocv synth --kind appearance-motion --seed SEED``) the clip is
rendered again from its seed (the generator is deterministic per class and index) and its accumulated motion
vectors, as neurocv reads them, are compared with the true motion: the share of interior object pixels within
1 px (``neurocv.synth.motion_within_1px``'s measure). Each checkpoint is then evaluated on the split; a clip's row
says in how many of the checkpoints it was wrong and as what.

    .venv/bin/python scripts/errors_vs_motion.py DATA SEED OUT.json CKPT [CKPT ...] [--split test]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np


def mv_quality(data: Path, seed: int, split: str) -> dict[str, float]:
    """``{clip name: share of interior object pixels whose accumulated MV is within 1 px of the truth}``."""
    from neurocv.data.layout import load_split
    from neurocv.synth.appearance import AM_CLASSES, render_am_clip
    from neurocv.synth.render import motion_within_1px

    meta = json.loads((data / "meta.json").read_text())
    out = {}
    for path, _ in load_split(data, split).items:
        cls, v = path.stem.rsplit("_", 1)
        rng = np.random.default_rng(np.random.SeedSequence([seed, AM_CLASSES.index(cls), int(v)]))
        clip = render_am_clip(cls, rng, meta["width"], meta["height"], meta["frames"])
        good, total, _ = motion_within_1px(path, clip, erode=2)
        out[path.stem] = good / max(total, 1)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("seed", type=int, help="the --seed the set was made with")
    ap.add_argument("out", type=Path)
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    from neurocv.training.evaluate import evaluate

    quality = mv_quality(args.data, args.seed, args.split)
    wrong, predicted = collections.Counter(), collections.defaultdict(list)
    for ckpt in args.checkpoints:
        for w in evaluate(ckpt, args.data, split=args.split)["wrong"]:
            wrong[Path(w["video"]).stem] += 1
            predicted[Path(w["video"]).stem].append(w["predicted"])
    by_class = collections.defaultdict(list)
    for name, q in quality.items():
        by_class[name.rsplit("_", 1)[0]].append(q)
    rows = [{"clip": name, "wrong_in": n, "of": len(args.checkpoints), "mv_within_1px": round(quality[name], 3),
             "class_median_mv_within_1px": round(float(np.median(by_class[name.rsplit("_", 1)[0]])), 3),
             "predicted": collections.Counter(predicted[name]).most_common()}
            for name, n in sorted(wrong.items(), key=lambda x: (-x[1], x[0]))]
    args.out.write_text(json.dumps({"data": str(args.data), "split": args.split, "seed": args.seed,
                                    "checkpoints": [str(c) for c in args.checkpoints], "wrong": rows,
                                    "mv_within_1px": {k: round(v, 3) for k, v in quality.items()}}, indent=1))
    for r in rows:
        print(f"{r['clip']}: wrong in {r['wrong_in']}/{r['of']} as {r['predicted'][0][0]}; MVs within 1 px "
              f"{100 * r['mv_within_1px']:.0f} % (its class's median {100 * r['class_median_mv_within_1px']:.0f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
