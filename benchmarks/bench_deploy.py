"""Deployment benchmark: export time, videos/s of the stitched runtime per spiking backend, of torch alone and of
onnxruntime alone, Lava milliseconds per time step per neuron, and where the runtime's time goes.

For each model (random weights, seed 0, 10 classes, 8 segments at the variant's input size) it exports a deployment
(timed, with its validation numbers), renders synthetic 112x112 MPEG-4 clips and then measures, per video:

* ``runtime/<backend>``: :class:`neurocv.runtime.RuntimeSession` end to end (decode + transform, STMs, onnxruntime);
  the breakdown is the mean of ``decode`` (read_clip + test transform), ``stm`` (for Lava: ``stm_worker`` = Lava
  compute inside the worker, ``ipc`` = the rest: serialising the clip and the membranes through the pipe), ``ann``;
  one warm-up video first for stm-tiny (a Lava worker's first clip compiles its network; ~1 s, negligible for
  stm-base, whose Lava clip takes ~1 min per STM);
* ``torch``: the whole torch model on the same decoded clips (batch 1, ``inference_mode``), compute only;
* ``onnxruntime``: the ANN partition alone in onnxruntime on the torch STM maps, compute only;
* ``check``: every timed video is also run through the torch model (``--check``; not part of the timings):
  top-1 agreement and the largest difference per stage.

``videos_per_s`` counts end to end for the runtime and compute only (``compute_videos_per_s``: STM + ANN, no decode)
so that it compares with ``torch`` and ``onnxruntime``. Lava's ``ms_per_step_per_neuron`` is the worker's compute
time / (segments x neurons of both STMs). The machine is shared: numbers vary by tens of percent between runs.

Usage: python benchmarks/bench_deploy.py [--out benchmarks/results/deploy.json] [--models stm-tiny stm-base]
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

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def render_videos(folder: Path, n: int) -> list[Path]:
    from neurocv.codec.encode import write_video
    from neurocv.synth import ACTIONS, render_clip

    paths = []
    for k in range(n):
        action = ACTIONS[k % len(ACTIONS)]
        clip = render_clip(action, np.random.default_rng(100 + k), width=112, height=112, n_frames=36)
        path = folder / f"{k:02d}_{action}.mp4"
        write_video(path, clip.frames, codec="mpeg4", gop_size=12, max_b_frames=0, qscale=2)
        paths.append(path)
    return paths


def _mean(results: list[dict], key: str) -> float:
    vals = [r["timing_s"][key] for r in results if key in r["timing_s"]]
    return statistics.fmean(vals) if vals else float("nan")


def bench_backend(dep, backend: str, videos: list[Path], warmup: bool) -> dict:
    """One session with ``check``: per-video timings (the torch check is not part of them) and differences."""
    t0 = time.perf_counter()
    with dep.session(backend, check=True) as s:
        start_s = time.perf_counter() - t0
        if warmup:
            s.run_video(videos[0])                               # a Lava worker compiles its network on clip 1
        results = [s.run_video(v) for v in videos]
    n = len(results)
    total = sum(r["timing_s"]["total"] for r in results)
    out = {"videos": n, "warmup": warmup, "start_s": start_s, "videos_per_s": n / total,
           "compute_videos_per_s": n / sum(r["timing_s"]["stm"] + r["timing_s"]["ann"] for r in results),
           "breakdown_s": {k: _mean(results, k) for k in ("decode", "stm", "stm_worker", "ipc", "ann", "total")
                           if k in results[0]["timing_s"]}}
    if backend.startswith("lava"):
        neurons = sum(layer["neurons"] for spec in dep.specs.values() for layer in _layers(spec))
        worker = _mean(results, "stm_worker")
        out["lava_ms_per_step"] = 1e3 * worker / dep.segments
        out["lava_ms_per_step_per_neuron"] = 1e3 * worker / (dep.segments * neurons)
        out["neurons"] = neurons
    out["check"] = {"same_top1": sum(r["top1"] == r["torch_top1"] for r in results), "videos": n,
                    "max_abs_diff": {k: max(r["max_abs_diff"][k] for r in results)
                                     for k in results[0]["max_abs_diff"]}}
    return out


def _layers(spec):
    from neurocv.hardware.stm_spec import empty_counts

    return empty_counts(spec)["layers"]


def bench_alone(dep, videos: list[Path]) -> dict:
    """Whole torch model and the ANN partition in onnxruntime alone, on the decoded clips (compute only)."""
    import torch

    model = dep.reference_model()
    with dep.session("torch") as s:
        clips = [s.read(v) for v in videos]
        feeds = []
        for c in clips:
            x = {k: torch.from_numpy(v)[None] for k, v in c.items()}
            with torch.no_grad():
                mv, r = model.spiking_forward(x["mv"], x["r"])
            feeds.append({"iframes": c["i"][None], "mv_maps": mv.numpy(), "r_maps": r.numpy()})
    times = []
    with torch.inference_mode():
        model(*(torch.from_numpy(clips[0][k])[None] for k in ("i", "mv", "r")))     # warm-up
        for c in clips:
            t0 = time.perf_counter()
            model(*(torch.from_numpy(c[k])[None] for k in ("i", "mv", "r")))
            times.append(time.perf_counter() - t0)
    ort_times = []
    dep.ann.run(feeds[0])
    for f in feeds:
        t0 = time.perf_counter()
        dep.ann.run(f)
        ort_times.append(time.perf_counter() - t0)
    return {"torch": {"videos": len(times), "videos_per_s": len(times) / sum(times),
                      "seconds_per_video": statistics.fmean(times), "threads": torch.get_num_threads()},
            "onnxruntime_ann": {"videos": len(ort_times), "videos_per_s": len(ort_times) / sum(ort_times),
                                "seconds_per_video": statistics.fmean(ort_times)}}


def bench_model(name: str, n_videos: int, backends: list[str], lava_videos: int, work: Path) -> dict:
    import torch

    from neurocv.exporters.deploy import export_deployment
    from neurocv.models import create_model
    from neurocv.runtime import Deployment
    from neurocv.synth import ACTIONS

    torch.manual_seed(0)
    model = create_model(name, num_classes=len(ACTIONS), segments=8).eval()
    out = work / name
    t0 = time.perf_counter()
    manifest = export_deployment(model, out, classes=list(ACTIONS), name=name)
    export_s = time.perf_counter() - t0
    validation = json.loads((out / "validation.json").read_text())
    print(f"{name}: exported in {export_s:.1f} s", flush=True)
    videos = render_videos(work, n_videos)
    dep = Deployment.load(out)
    result = {"model": name, "input": manifest["input"]["size"], "segments": dep.segments, "export_s": export_s,
              "files_mb": {k: v["bytes"] / 2**20 for k, v in manifest["files"].items()},
              "validation": {"onnx_max_abs_diff": validation["onnx"]["outputs"]["logits"]["max_abs_diff"],
                             "stm_from_nir_max_abs_diff": {m: r["max_abs_diff"] for m, r in validation["stm"].items()},
                             "pipeline_max_abs_diff": validation["pipeline"]["logits"]["max_abs_diff"]},
              "ann_macs": manifest["ops"]["ann_macs"], "runtime": {}}
    for backend in backends:
        vids = videos if backend == "torch" else videos[:lava_videos]
        if not vids:
            continue
        r = bench_backend(dep, backend, vids, warmup=name == "stm-tiny")
        result["runtime"][backend] = r
        print(f"{name}: runtime/{backend}: {r['videos_per_s']:.3f} videos/s end to end, "
              f"{r['compute_videos_per_s']:.3f} compute only; breakdown "
              + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in r["breakdown_s"].items()), flush=True)
    result.update(bench_alone(dep, videos))
    print(f"{name}: torch alone {result['torch']['videos_per_s']:.3f} videos/s, onnxruntime (ANN) alone "
          f"{result['onnxruntime_ann']['videos_per_s']:.3f} videos/s", flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "deploy.json")
    ap.add_argument("--models", nargs="+", default=["stm-tiny", "stm-base"])
    ap.add_argument("--backends", nargs="+", default=["torch", "lava-float", "lava-fixed"])
    ap.add_argument("--videos", type=int, default=6, help="videos per backend for stm-tiny")
    ap.add_argument("--base-videos", type=int, default=2, help="videos for the torch paths of larger models")
    ap.add_argument("--base-lava-videos", type=int, default=1,
                    help="videos per Lava backend for larger models (~1 min per STM per video)")
    args = ap.parse_args()
    from neurocv._io import atomic_open

    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "processor": platform.processor() or platform.machine(),
                           "note": "2 shared cores; other jobs ran at the same time"}, "models": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        for name in args.models:
            tiny = name == "stm-tiny"
            n = args.videos if tiny else args.base_videos
            lava_n = args.videos if tiny else args.base_lava_videos
            results["models"].append(bench_model(name, n, args.backends, lava_n, Path(tmp)))
    results["wall_s"] = time.perf_counter() - t0
    with atomic_open(args.out, "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"wrote {args.out} ({results['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
