"""Run a deployment over a dataset split on each spiking backend with ``--check`` and summarise: top-1 accuracy of
the runtime and of torch, clips whose top-1 differs from torch, largest difference per stage.

    .venv/bin/python scripts/deploy_check.py DEPLOY DATA [--split test] [--backends lava-float lava-fixed]
        [--out docs/deploy_check.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("deploy", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--backends", nargs="+", default=["lava-float", "lava-fixed"])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from rich.progress import Progress

    from neurocv._io import atomic_open
    from neurocv.data import load_split
    from neurocv.runtime import Deployment

    videos = load_split(args.data, args.split)
    dep = Deployment.load(args.deploy)
    summary = {"deploy": str(args.deploy), "data": str(args.data), "split": args.split, "n_videos": len(videos),
               "backends": {}}
    with Progress() as bar:
        for backend in args.backends:
            task = bar.add_task(backend, total=len(videos))
            hits = torch_hits = 0
            differ, worst = [], {}
            with dep.session(backend, check=True) as s:
                for path, label in videos.items:
                    r = s.run_video(path)
                    truth = videos.classes[label]
                    hits += r["top1"] == truth
                    torch_hits += r["torch_top1"] == truth
                    if r["top1"] != r["torch_top1"]:
                        differ.append(str(path))
                    for k, v in r["max_abs_diff"].items():
                        worst[k] = max(worst.get(k, 0.0), v)
                    bar.advance(task)
            n = len(videos)
            summary["backends"][backend] = {"top1": hits / n, "torch_top1": torch_hits / n,
                                            "same_top1_as_torch": n - len(differ), "differ": differ,
                                            "max_abs_diff": worst}
    text = json.dumps(summary, indent=1)
    print(text)
    if args.out:
        with atomic_open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
