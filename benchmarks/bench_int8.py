"""int8 against float32 ANN partition: file size and onnxruntime CPU speed, side by side in one run.

For each model (registered variant, random weights, seed 0, 8 segments at the variant's input size) the ANN partition
is exported to float32 ONNX (:func:`neurocv.exporters.onnx_export.export_onnx`, validated) and quantized to int8
(:func:`neurocv.exporters.int8.quantize_ann`: QDQ, per-channel int8 weights, uint8 activations, min/max calibration
on ``--calibration`` random clips), both in a temporary folder (nothing is kept but the JSON). Then both models run
in onnxruntime (CPU, batch 1, ``--threads`` intra-op threads) on the same STM maps, interleaved run by run so the
machine's load hits them alike; one warm-up run each first. Per model: ``bytes`` of each file and their ratio, and
``videos_per_s`` (1 / median seconds per run) of each with ``int8_speedup`` = int8 / float.

Random weights are fine for size and speed (neither depends on the values); accuracy is measured on a trained model
(docs/int8.md).

The machine is shared: absolute numbers vary between runs, the ratios much less; ``load_avg`` records the 1-minute
load average before and after each model.

Usage: python benchmarks/bench_int8.py [--out benchmarks/results/deploy_int8.json] [--models stm-tiny stm-base]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def bench_model(name: str, folder: Path, runs: int, calibration: int, threads: int | None) -> dict:
    import torch

    from neurocv.exporters.int8 import INT8_FILE, quantize_ann, random_feeds
    from neurocv.exporters.onnx_export import export_onnx
    from neurocv.exporters.partition import partition_model
    from neurocv.hardware.onnx_backend import OnnxSession
    from neurocv.models import create_model

    load0 = os.getloadavg()[0]
    torch.manual_seed(0)
    model = create_model(name, num_classes=10).eval().set_surrogate(False)
    part = partition_model(model)
    fp, q = folder / f"{name}.onnx", folder / f"{name}.{INT8_FILE}"
    t0 = time.perf_counter()
    export_onnx(part, fp)
    t1 = time.perf_counter()
    info = quantize_ann(fp, q, random_feeds(part, calibration, 1000))
    t2 = time.perf_counter()
    feeds = random_feeds(part, 1, 7)[0]
    sessions = {"float": OnnxSession(fp, threads=threads), "int8": OnnxSession(q, threads=threads)}
    times = {k: [] for k in sessions}
    for s in sessions.values():
        s.run(feeds)                                   # warm-up
    for _ in range(runs):                              # interleaved: the load hits both alike
        for k, s in sessions.items():
            a = time.perf_counter()
            s.run(feeds)
            times[k].append(time.perf_counter() - a)
    speed = {k: 1.0 / statistics.median(v) for k, v in times.items()}
    size = {"float": fp.stat().st_size, "int8": q.stat().st_size}
    fp.unlink()
    q.unlink()
    return {"model": name, "weights": "random initialisation (seed 0)", "segments": part.segments,
            "input_size": list(part.input_size), "bytes": size, "smaller": size["float"] / size["int8"],
            "videos_per_s": speed, "int8_speedup": speed["int8"] / speed["float"], "runs": runs,
            "quantized_ops": info["quantized_ops"], "export_s": round(t1 - t0, 1), "quantize_s": round(t2 - t1, 1),
            "load_avg": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "deploy_int8.json")
    ap.add_argument("--models", nargs="+", default=["stm-tiny", "stm-base"])
    ap.add_argument("--runs", type=int, default=10, help="timed runs per model and precision (stm-base: 3)")
    ap.add_argument("--calibration", type=int, default=8, help="random calibration clips")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: its own)")
    args = ap.parse_args()
    from neurocv._io import atomic_open
    from neurocv.exporters.int8 import QUANTIZED_OPS

    import onnxruntime

    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "processor": platform.processor() or platform.machine(),
                           "onnxruntime": onnxruntime.__version__,
                           "note": "2 shared cores; other jobs ran at the same time"},
               "int8": {"format": "QDQ", "weights": "int8 symmetric per channel", "activations": "uint8 per tensor",
                        "op_types": list(QUANTIZED_OPS),
                        "float": "the attention's probabilities x V MatMuls (docs/int8.md)"}, "models": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        for name in args.models:
            runs = args.runs if name == "stm-tiny" else max(1, min(args.runs, 3))
            r = bench_model(name, Path(tmp), runs, args.calibration, args.threads)
            results["models"].append(r)
            print(f"{name}: float {r['bytes']['float'] / 1e6:.1f} MB, int8 {r['bytes']['int8'] / 1e6:.1f} MB "
                  f"({r['smaller']:.2f}x smaller); onnxruntime {r['videos_per_s']['float']:.3g} vs "
                  f"{r['videos_per_s']['int8']:.3g} videos/s (int8 {r['int8_speedup']:.2f}x)", flush=True)
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    with atomic_open(args.out, "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"wrote {args.out} ({results['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
