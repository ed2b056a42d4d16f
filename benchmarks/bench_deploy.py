"""Deployment benchmark: export time, Lava against the torch STMs side by side, videos/s of the stitched runtime per
spiking backend, of torch alone and of onnxruntime alone, and where the runtime's time goes.

For each model (random weights, seed 0, 10 classes, 8 segments at the variant's input size) it exports a deployment
(timed, with its validation numbers), renders synthetic 112x112 MPEG-4 clips and then measures:

* ``stms`` (the Lava speed figures): both STMs of each video run by the torch STMs (the ``torch`` simulator) and
  by the Lava worker in float and fixed mode, interleaved video by video in one process so that the machine's load
  hits all of them alike (2 shared cores); torch both with its default threads and with one (on a loaded machine
  its OpenMP threads wait on each other), the faster being the reference. Per backend: ``s_per_video`` (both
  STMs; for Lava the worker's own wall time, no pipe), ``s_per_step`` (per video time step = both STMs' step),
  ``x_torch_stms`` (ratio of means to the reference torch STMs on the same videos), and for Lava
  ``overhead_share``: the part of Lava's time that is not the layers' own compute (conv, neurons, counts, timed
  inside each process): message passing, process synchronisation, copies. One warm-up clip per backend first (a
  Lava network compiles on its first clip). ``lava-float-today`` (``--today-videos``, first video(s) only): the
  Lava network as it was before the fast conv (Lava's own Conv process and model, a neuron process per layer,
  Injector/Extractor) and how many times slower it is.
* ``runtime/<backend>``: :class:`neurocv.runtime.RuntimeSession` end to end (decode + transform, STMs, onnxruntime)
  with ``--check`` (top-1 agreement with torch and the largest difference per stage; the torch check is not part
  of the timings); the breakdown is the mean of ``decode``, ``stm`` (for Lava: ``stm_worker`` = Lava inside the
  worker, ``ipc`` = the rest), ``ann``;
* ``torch``: the whole torch model on the same decoded clips (batch 1, ``inference_mode``), compute only;
* ``onnxruntime``: the ANN partition alone in onnxruntime on the torch STM maps, compute only.

``--split DEPLOY DATA`` also times ``neurocv run DEPLOY <DATA's test split> --backend lava-fixed --json`` end to end
(a fresh process, as a user runs it) and the same with ``--backend torch``, and counts the videos whose top-1 agree.

The machine is shared: absolute numbers vary by tens of percent between runs; ``load_avg`` records the 1-minute
load average before and after each model.

Usage: python benchmarks/bench_deploy.py [--out benchmarks/results/deploy.json] [--models stm-tiny stm-base]
       [--split DEPLOY DATA]
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


def bench_stms(dep, videos: list[Path], reps: int, today_videos: int = 0) -> dict:
    """torch STMs vs Lava float vs Lava fixed on the same clips, interleaved (module docstring, ``stms``); on the
    first ``today_videos`` clips also ``lava-float-today``: the network before this work (Lava's own Conv
    processes and model, a neuron process each, Injector/Extractor)."""
    from neurocv.hardware.lava_backend import LavaSTMRunner
    from neurocv.hardware.sims.torch_sim import TorchSimulator

    with dep.session("torch") as s:
        clips = [{m: s._pad(c[m]) for m in dep.spiking} for c in (s.read(v) for v in videos)]
    paths = {m: dep.path / info["file"] for m, info in dep.spiking.items()}
    import torch

    threads = torch.get_num_threads()
    names = ["torch", "torch-1thread", "lava-float", "lava-fixed"]
    runners = {"torch": TorchSimulator.from_specs(dep.specs)}
    runners["torch-1thread"] = runners["torch"]
    runners.update({f"lava-{mode}": LavaSTMRunner(paths, mode) for mode in ("float", "fixed")})
    if today_videos:
        names.append("lava-float-today")
        runners["lava-float-today"] = LavaSTMRunner(paths, "float", network={"layout": "split", "conv": "lava"})
    rows = {n: [] for n in names}
    try:
        for name in names:                                   # warm-up: each Lava network compiles on clip 1
            torch.set_num_threads(1 if name == "torch-1thread" else threads)
            for m, x in clips[0].items():
                runners[name].run(m, x)
        for rep in range(reps):
            for k, clip in enumerate(clips):
                for name in names:
                    if name == "lava-float-today" and (rep or k >= today_videos):
                        continue
                    runner, lava = runners[name], name.startswith("lava")
                    torch.set_num_threads(1 if name == "torch-1thread" else threads)
                    wall = worker = compute = 0.0
                    for m, x in clip.items():
                        t0 = time.perf_counter()
                        runner.run(m, x)
                        wall += time.perf_counter() - t0
                        if lava:
                            worker += runner.last_seconds
                            compute += runner.last_compute_s
                    rows[name].append((worker if lava else wall, wall, compute))
    finally:
        torch.set_num_threads(threads)
        for r in runners.values():
            r.close()
    steps = dep.segments
    # the reference is the faster torch: on a loaded machine its OpenMP threads can wait on each other
    torch_s = min(statistics.fmean(r[0] for r in rows[n]) for n in ("torch", "torch-1thread"))
    out = {"videos": len(videos), "reps": reps, "segments": steps, "stms": len(dep.spiking),
           "torch_threads": threads, "torch_reference_s_per_video": torch_s}
    for name in names:
        sec = statistics.fmean(r[0] for r in rows[name])
        entry = {"s_per_video": sec, "s_per_step": sec / steps, "x_torch_stms": sec / torch_s,
                 "s_per_video_min": min(r[0] for r in rows[name])}
        if name == "lava-float-today":
            n = len(rows[name])
            now = statistics.fmean(r[0] for r in rows["lava-float"][:n])
            entry.update(videos=n, speedup_of_lava_float=sec / now)
        elif name.startswith("lava"):
            compute = statistics.fmean(r[2] for r in rows[name])
            entry.update(s_per_video_with_pipe=statistics.fmean(r[1] for r in rows[name]),
                         compute_s_per_video=compute, overhead_share=1.0 - compute / sec,
                         overhead_s_per_step=(sec - compute) / steps)
        out[name] = entry
    return out


def _load() -> float:
    return os.getloadavg()[0]


def bench_split(deploy: Path, data: Path) -> dict:
    """``neurocv run`` over DATA's test split, lava-fixed and torch, each a fresh process timed end to end."""
    import subprocess

    from neurocv.data.layout import load_split

    videos = [str(p) for p, _ in load_split(data, "test").items]
    out = {"deploy": str(deploy), "data": str(data), "videos": len(videos)}
    top1 = {}
    for backend in ("lava-fixed", "torch"):
        load = _load()
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "neurocv.cli", "run", str(deploy), *videos, "--backend", backend,
                               "--json"], capture_output=True, text=True, cwd=str(HERE.parent))
        wall = time.perf_counter() - t0
        lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
        top1[backend] = {r["video"]: r.get("top1") for r in lines}
        out[backend] = {"wall_s": wall, "exit_code": proc.returncode, "results": len(lines), "load_avg": load}
        print(f"split: neurocv run --backend {backend}: {len(lines)} videos in {wall:.1f} s "
              f"(exit {proc.returncode}, load {load:.1f})", flush=True)
    out["same_top1"] = sum(top1["lava-fixed"].get(v) == t and t is not None for v, t in top1["torch"].items())
    return out


def _layers(spec):
    from neurocv.hardware.formats.stm_spec import empty_counts

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


def bench_model(name: str, n_videos: int, backends: list[str], lava_videos: int, work: Path, stm_videos: int,
                stm_reps: int, today_videos: int = 1) -> dict:
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
              "ann_macs": manifest["ops"]["ann_macs"], "load_avg": {"start": _load()}, "runtime": {}}
    st = bench_stms(dep, videos[:stm_videos], stm_reps, today_videos)
    result["stms"] = st
    result["load_avg"]["after_stms"] = _load()
    print(f"{name}: STMs per video: torch {st['torch']['s_per_video'] * 1e3:.1f} ms ({st['torch_threads']} threads), "
          f"{st['torch-1thread']['s_per_video'] * 1e3:.1f} ms (1 thread); "
          + "; ".join(f"{b} {st[b]['s_per_video'] * 1e3:.1f} ms ({st[b]['s_per_step'] * 1e3:.2f} ms/step, "
                      f"{st[b]['x_torch_stms']:.1f}x torch, Lava overhead {100 * st[b]['overhead_share']:.0f} %)"
                      for b in ("lava-float", "lava-fixed"))
          + f" (load {result['load_avg']['start']:.1f} -> {result['load_avg']['after_stms']:.1f})"
          + (f"; before this work (Lava's Conv model, split network): {st['lava-float-today']['s_per_video']:.2f} s,"
             f" {st['lava-float-today']['speedup_of_lava_float']:.0f}x slower" if "lava-float-today" in st else ""),
          flush=True)
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
    result["load_avg"]["end"] = _load()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "deploy.json")
    ap.add_argument("--models", nargs="+", default=["stm-tiny", "stm-base"])
    ap.add_argument("--backends", nargs="+", default=["torch", "lava-float", "lava-fixed"])
    ap.add_argument("--videos", type=int, default=6, help="videos per backend for stm-tiny")
    ap.add_argument("--base-videos", type=int, default=2, help="videos for the torch paths of larger models")
    ap.add_argument("--base-lava-videos", type=int, default=2, help="videos per Lava backend for larger models")
    ap.add_argument("--stm-videos", type=int, default=6, help="videos of the side-by-side STM timing")
    ap.add_argument("--stm-reps", type=int, default=3, help="passes over them (stm-tiny; larger models: 1)")
    ap.add_argument("--today-videos", type=int, default=1,
                    help="videos run also by the network before the fast conv (stm-base: ~1 min each); 0: none")
    ap.add_argument("--split", nargs=2, type=Path, metavar=("DEPLOY", "DATA"),
                    help="also time `neurocv run` over DATA's test split with this deployment")
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
            results["models"].append(bench_model(name, n, args.backends, lava_n, Path(tmp),
                                                 args.stm_videos if tiny else min(args.stm_videos, 2),
                                                 args.stm_reps if tiny else 1, args.today_videos))
    if args.split:
        results["split"] = bench_split(*args.split)
    results["wall_s"] = time.perf_counter() - t0
    with atomic_open(args.out, "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"wrote {args.out} ({results['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
