"""Model benchmark: training clips/s and inference videos/s of the registered variants on this CPU, with peak memory.

Each case runs in a fresh process on random inputs of the model's own input size and 8 segments (the data pipeline
is benchmarked by bench_reader.py): training = forward + backward + Adam step at ``--train-batch``; inference =
forward under ``torch.inference_mode`` at batch 1 (one video, the paper's 8x1 views). Best of ``--repeat`` timed
steps after one warm-up step.

Usage: python benchmarks/bench_model.py --out benchmarks/results/model.json [--models stm-tiny stm-base]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_case(model_name: str, mode: str, batch: int, repeat: int) -> None:
    import torch

    from neurocv.models import create_model

    torch.manual_seed(0)
    model = create_model(model_name, num_classes=101)
    h, w = model.config.input_size
    t = 8

    def inputs(b):
        return (torch.randn(b, t, 3, h, w), torch.randn(b, t, 2, h, w), torch.randn(b, t, 3, h, w))

    times = []
    if mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4, eps=1e-3)
        x, y = inputs(batch), torch.randint(0, 101, (batch,))
        for k in range(repeat + 1):
            t0 = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(model(*x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if k:
                times.append(time.perf_counter() - t0)
    else:
        model.eval()
        x = inputs(1)
        with torch.inference_mode():
            for k in range(repeat + 1):
                t0 = time.perf_counter()
                model(*x)
                if k:
                    times.append(time.perf_counter() - t0)
    best = min(times)
    per_s = (batch if mode == "train" else 1) / best
    print(json.dumps({"model": model_name, "mode": mode, "batch": batch if mode == "train" else 1,
                      "seconds_per_step": best, "clips_per_s" if mode == "train" else "videos_per_s": per_s,
                      "input": [w, h], "segments": t, "torch_threads": torch.get_num_threads(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "model.json")
    ap.add_argument("--models", nargs="+", default=["stm-tiny", "stm-base"])
    ap.add_argument("--train-batch", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        run_case(args.case[0], args.case[1], args.train_batch, args.repeat)
        return
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "processor": platform.processor() or platform.machine()}, "cases": []}
    for name in args.models:
        for mode in ("train", "infer"):
            out = subprocess.run([sys.executable, __file__, "--case", name, mode, "--train-batch",
                                  str(args.train_batch), "--repeat", str(args.repeat)], capture_output=True,
                                 text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results["cases"].append(r)
            rate = r.get("clips_per_s", r.get("videos_per_s"))
            print(f"{name:10s} {mode:5s} {rate:8.3f} {'clips' if mode == 'train' else 'videos'}/s  "
                  f"peak {r['peak_rss_mb']:.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
