"""Model benchmark: training clips/s and inference videos/s of the registered variants on this CPU, with peak memory;
the same on CUDA where a GPU is present; and the data loader's clips/s (cache and on the fly) everywhere.

Each case runs in a fresh process on random inputs of the model's own input size and 8 segments: training =
forward + backward + Adam step at ``--train-batch``; inference = forward under ``torch.inference_mode`` at batch 1
(one video, the paper's 8x1 views). Best of ``--repeat`` timed steps after one warm-up step.

CUDA (only when ``torch.cuda.is_available()``): stm-base training and inference at batch 1 and 16 with the
training defaults there (bf16 autocast, or fp16 with a scaler; channels-last), timed between
``torch.cuda.synchronize()`` calls; peak memory = ``torch.cuda.max_memory_allocated``. The paper reports 16 videos/s
(RTX 2080 Ti, inference).

Data loader: a synthetic set (``--loader-videos`` clips, 340x256 MPEG-4 GOP 12 like the prepared datasets) read by
``CompressedVideoDataset`` through a DataLoader (training mode: random P-frames, augmentation, crop 224) with 0 and
``--loader-workers`` worker processes, on the fly and from the cache: clips/s and clips/s per worker. Whether
on-the-fly extraction keeps a GPU fed = loader clips/s against the GPU's training clips/s.

Usage: python benchmarks/bench_model.py --out benchmarks/results/model.json [--models stm-tiny stm-base]
       [--skip-loader] [--loader-workers N]
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


def run_cuda_case(model_name: str, mode: str, batch: int, repeat: int) -> None:
    import torch

    from neurocv.models import create_model
    from neurocv.training.precision import amp_dtype, autocast, backward_step, grad_scaler

    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = create_model(model_name, num_classes=101).to(dev).to(memory_format=torch.channels_last)
    dtype = amp_dtype("auto", dev)
    scaler = grad_scaler(dev, dtype)
    h, w = model.config.input_size
    t = 8
    x = tuple(torch.randn(batch, t, c, h, w, device=dev) for c in (3, 2, 3))
    y = torch.randint(0, 101, (batch,), device=dev)
    torch.cuda.reset_peak_memory_stats()
    times = []
    if mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4, eps=1e-3)
    else:
        model.eval()
    for k in range(repeat + 1):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        if mode == "train":
            with autocast(dev, dtype):
                logits = model(*x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
            backward_step(loss, opt, scaler)
        else:
            with torch.inference_mode(), autocast(dev, dtype):
                model(*x)
        torch.cuda.synchronize()
        if k:
            times.append(time.perf_counter() - t0)
    best = min(times)
    print(json.dumps({"model": model_name, "mode": f"cuda-{mode}", "batch": batch, "seconds_per_step": best,
                      "videos_per_s": batch / best, "amp": str(dtype), "channels_last": True,
                      "device": torch.cuda.get_device_name(0), "input": [w, h], "segments": t,
                      "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20}))


def run_loader_case(root: str, source: str, workers: int, batches: int) -> None:
    import torch

    from neurocv.data import CompressedVideoDataset
    from neurocv.training.distributed import DistContext

    torch.set_num_threads(1)
    cache_dir = Path(root) / ("cache" if source == "cache" else "no-cache")
    ds = CompressedVideoDataset(root, "train", 8, 224, train=True, cache_dir=cache_dir)
    loader = DistContext().loader(ds, 4, shuffle=True, seed=0, epoch=0, workers=workers)
    it = iter(loader)
    next(it)                                     # warm-up: worker start, first decode
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        try:
            n += len(next(it)["label"])
        except StopIteration:
            break
    dt = time.perf_counter() - t0
    print(json.dumps({"mode": "loader", "source": source, "workers": workers, "clips": n, "seconds": dt,
                      "clips_per_s": n / dt, "clips_per_s_per_worker": n / dt / max(1, workers),
                      "batch": 4, "segments": 8, "crop": 224}))


def loader_bench(videos: int, workers: int) -> list[dict]:
    import tempfile

    from neurocv.data import cache_dataset
    from neurocv.synth import make_synthetic_dataset

    rows = []
    with tempfile.TemporaryDirectory(prefix="neurocv-bench-loader-") as tmp:
        root = make_synthetic_dataset(Path(tmp) / "synth", videos_per_class=max(2, videos // 10), test_fraction=0.1,
                                      width=340, height=256, n_frames=48, seed=0, progress=False)
        cache_dataset(root, None, max(1, workers), accumulate=True, progress=False)
        n_train = sum(1 for _ in open(Path(root) / "splits" / "trainlist01.txt"))
        for source in ("fly", "cache"):
            for w in sorted({0, workers}):
                out = subprocess.run([sys.executable, __file__, "--loader-case", str(root), source, str(w),
                                      str(max(1, n_train // 4 - 1))], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(r)
                print(f"loader {source:5s} workers {w}: {r['clips_per_s']:7.2f} clips/s "
                      f"({r['clips_per_s_per_worker']:.2f} per worker)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "model.json")
    ap.add_argument("--models", nargs="*", default=["stm-tiny", "stm-base"])
    ap.add_argument("--train-batch", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--cuda-case", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--loader-case", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--skip-loader", action="store_true", help="Skip the data-loader benchmark.")
    ap.add_argument("--loader-videos", type=int, default=40, help="Synthetic videos for the loader benchmark.")
    ap.add_argument("--loader-workers", type=int, default=min(4, os.cpu_count() or 1))
    args = ap.parse_args()
    if args.case:
        run_case(args.case[0], args.case[1], args.train_batch, args.repeat)
        return
    if args.cuda_case:
        run_cuda_case(args.cuda_case[0], args.cuda_case[1], int(args.cuda_case[2]), args.repeat)
        return
    if args.loader_case:
        run_loader_case(args.loader_case[0], args.loader_case[1], int(args.loader_case[2]), int(args.loader_case[3]))
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
    import torch

    results["cuda"] = {"available": torch.cuda.is_available(), "cases": [],
                       "paper": {"videos_per_s": 16.025, "device": "RTX 2080 Ti", "source": "Table 1, row 'Ours'"}}
    if torch.cuda.is_available():
        for mode in ("infer", "train"):
            for batch in (1, 16):
                out = subprocess.run([sys.executable, __file__, "--cuda-case", "stm-base", mode, str(batch),
                                      "--repeat", str(max(args.repeat, 5))], capture_output=True, text=True,
                                     check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results["cuda"]["cases"].append(r)
                print(f"stm-base   cuda-{mode:5s} batch {batch:2d} {r['videos_per_s']:8.2f} videos/s  "
                      f"peak {r['peak_cuda_mb']:.0f} MB  ({r['device']}, {r['amp']}; paper: 16 videos/s)")
    else:
        print("no CUDA device: the GPU cases are skipped")
    if not args.skip_loader:
        results["loader"] = loader_bench(args.loader_videos, args.loader_workers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
