"""The 8-segment extraction of the P1 clip, this checkout against an older one, side by side in one run (issue 21).

The P1 clip is the reader benchmark's MPEG-4 clip (340x256, 10.6 s, GOP 12, no B-frames; see bench_reader.py).
The older checkout (``--baseline``, default ``d747b23``: a git revision, unpacked with ``git archive`` into a temporary
folder, or a folder holding a ``neurocv/`` package) is imported through ``PYTHONPATH``; all checkouts run in the same
environment (same PyAV, numpy, numba).

Each round starts one fresh worker process per checkout. A worker warms up (imports, numba kernels, one 2-segment
read, one untimed 8-segment read whose arrays it hashes), then times 8-segment reads one at a time when told to. The
first timed read of each worker is its "first"; then ``--reads`` reads are taken in turn, one per checkout, the order
swapped every read, so that the machine's load falls on every checkout alike. Reported per checkout: the median wall
time of the warm reads and of the first reads, the median CPU time of the process per read, and the ratios to the
baseline: the ratio of the medians and the median of the per-read ratios (a read against the baseline's read of the
same turn). Below 1 is faster. The hashes show whether the checkouts extracted the same arrays, bit for bit.

``--with-pyav-threads`` adds this checkout once more with PyAV's default swscale threading for the RGB conversion
(one thread per CPU for every converted frame, as PyAV >= 17 does unless told otherwise): the reader's one-thread
conversion is the difference between this checkout and ``d747b23``.

Usage: python benchmarks/bench_reader_compare.py [--baseline d747b23] [--also REV|DIR] [--with-pyav-threads]
       [--rounds 10] [--reads 20] --out benchmarks/results/reader_compare.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYAV_THREADS = "current, PyAV's default swscale threads"


def run_worker(video: str, pyav_threads: bool) -> None:
    """In a fresh process: time one 8-segment read of ``video`` per line read from stdin, one JSON line per read."""
    import neurocv
    from neurocv.codec import probe, read_clip

    if pyav_threads:
        from neurocv.codec import decoder

        decoder._sws_one_thread = lambda: {}
    probe(video)
    read_clip(video, 2)
    clip = read_clip(video, 8)
    digest = hashlib.sha256()
    for name, arr in sorted(clip.arrays().items()):
        digest.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
    print(json.dumps({"neurocv": neurocv.__file__, "sha256": digest.hexdigest()}), flush=True)
    for _ in sys.stdin:
        c0, t0 = time.process_time(), time.perf_counter()
        clip = read_clip(video, 8)
        t1, c1 = time.perf_counter(), time.process_time()
        assert len(clip) == 8
        print(json.dumps({"wall_s": t1 - t0, "cpu_s": c1 - c0, "threads": _threads()}), flush=True)


def _threads() -> int | None:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None


class _Worker:
    def __init__(self, name: str, tree: Path, video: Path, pyav_threads: bool):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(tree)
        cmd = [sys.executable, __file__, "--worker", str(video)] + (["--pyav-threads"] if pyav_threads else [])
        self.name, self.tree = name, tree
        self.err = tempfile.TemporaryFile("w+")  # a file, not a pipe: a chatty worker never blocks on it
        self.proc = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.ready = self._line()
        if not Path(self.ready["neurocv"]).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"bench_reader_compare: {name} imported {self.ready['neurocv']}, "
                             f"not the checkout in {tree}")

    def _line(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            self.proc.wait()
            self.err.seek(0)
            raise SystemExit(f"bench_reader_compare: the worker for {self.name} ({self.tree}) failed:\n"
                             f"{self.err.read()[-2000:]}")
        return json.loads(line)

    def read(self) -> dict:
        self.proc.stdin.write("read\n")
        self.proc.stdin.flush()
        return self._line()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.err.close()


def _resolve(spec: str, into: Path) -> tuple[Path, str]:
    """A checkout folder for ``spec`` (a folder with ``neurocv/``, or a git revision unpacked under ``into``)."""
    folder = Path(spec)
    if (folder / "neurocv" / "__init__.py").is_file():
        return folder.resolve(), f"folder {folder.resolve()}"
    out = subprocess.run(["git", "rev-parse", "--verify", f"{spec}^{{commit}}"], cwd=REPO, capture_output=True,
                         text=True)
    if out.returncode != 0:
        print(f"bench_reader_compare: {spec}: neither a folder holding neurocv/ nor a git revision", file=sys.stderr)
        sys.exit(2)
    commit = out.stdout.strip()
    into.mkdir(parents=True)
    archive = into / "src.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), commit, "neurocv"], cwd=REPO, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return into, commit


def _head() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "neurocv"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    return head + ("+uncommitted" if dirty else "")


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[round(q * (len(xs) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="d747b23", help="the older checkout: a git revision or a folder")
    ap.add_argument("--also", action="append", default=[], metavar="REV|DIR",
                    help="another checkout to time in the same turns (e.g. the commit before a fix)")
    ap.add_argument("--with-pyav-threads", action="store_true",
                    help="also time this checkout with PyAV's default swscale threads for the RGB conversion")
    ap.add_argument("--rounds", type=int, default=10, help="fresh worker processes per checkout")
    ap.add_argument("--reads", type=int, default=20, help="warm reads per worker, taken in turn across checkouts")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "reader_compare.json")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--pyav-threads", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_worker(args.worker, args.pyav_threads)
        return
    if args.rounds < 1 or args.reads < 1:
        ap.error("--rounds and --reads must be at least 1")

    sys.path.insert(0, str(HERE))
    from bench_reader import make_mpeg4_clip

    clips = HERE / "results" / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    video = make_mpeg4_clip(clips / "bbb_340x256_mpeg4.mp4")
    import av

    load_before = os.getloadavg()
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="neurocv-baseline-") as tmp:
        trees, commits, pyav_threads = {"current": REPO}, {"current": _head()}, {"current": False}
        for k, (name, spec) in enumerate([("baseline", args.baseline)] + [(s, s) for s in args.also]):
            trees[name], commits[name] = _resolve(spec, Path(tmp, f"tree{k}"))
            pyav_threads[name] = False
        if args.with_pyav_threads:
            trees[PYAV_THREADS], commits[PYAV_THREADS], pyav_threads[PYAV_THREADS] = REPO, _head(), True
        names = list(trees)
        first = {n: [] for n in names}
        warm = {n: [] for n in names}
        threads = {n: [] for n in names}
        digests = {n: set() for n in names}
        for k in range(args.rounds):
            order = names if k % 2 == 0 else names[::-1]
            workers = {}
            try:
                for n in order:
                    workers[n] = _Worker(n, trees[n], video, pyav_threads[n])
                    digests[n].add(workers[n].ready["sha256"])
                for n in order:
                    first[n].append(workers[n].read())
                for i in range(args.reads):
                    for n in (order if i % 2 == 0 else order[::-1]):
                        warm[n].append(workers[n].read())
                for n in names:
                    threads[n].append(warm[n][-1]["threads"])
            finally:
                for w in workers.values():
                    w.close()
            print(f"round {k + 1}/{args.rounds}: " + ", ".join(
                f"{n} {1e3 * statistics.median(r['wall_s'] for r in warm[n][-args.reads:]):.1f} ms" for n in names),
                file=sys.stderr)
    load_after = os.getloadavg()

    base = "baseline"
    sums = {}
    for n in names:
        w = [r["wall_s"] * 1e3 for r in warm[n]]
        c = [r["cpu_s"] * 1e3 for r in warm[n]]
        f = [r["wall_s"] * 1e3 for r in first[n]]
        sums[n] = {"commit": commits[n], "sha256_of_arrays": sorted(digests[n]),
                   "warm_ms_median": statistics.median(w), "warm_ms_p10": _quantile(w, 0.1),
                   "warm_ms_p90": _quantile(w, 0.9), "warm_ms_min": min(w),
                   "cpu_ms_median": statistics.median(c), "first_ms_median": statistics.median(f),
                   "threads_after_reads": threads[n]}
    for n in names:
        s, b = sums[n], sums[base]
        s["ratio_warm_vs_baseline"] = s["warm_ms_median"] / b["warm_ms_median"]
        s["ratio_first_vs_baseline"] = s["first_ms_median"] / b["first_ms_median"]
        s["ratio_cpu_vs_baseline"] = s["cpu_ms_median"] / b["cpu_ms_median"]
        paired = [a["wall_s"] / o["wall_s"] for a, o in zip(warm[n], warm[base])]
        s["paired_ratio_median"] = statistics.median(paired)
        s["paired_ratio_p25_p75"] = [_quantile(paired, 0.25), _quantile(paired, 0.75)]
    same = len({d for s in sums.values() for d in s["sha256_of_arrays"]}) == 1
    result = {
        "what": "read_clip(P1 clip, 8) wall time, this checkout vs the baseline, reads taken in turn by fresh "
                "worker processes of one run",
        "video": "bench_reader.make_mpeg4_clip: 340x256 MPEG-4, 10.6 s, GOP 12, no B-frames",
        "ratio_warm": sums["current"]["ratio_warm_vs_baseline"],
        "ratio_first": sums["current"]["ratio_first_vs_baseline"],
        "ratio_cpu": sums["current"]["ratio_cpu_vs_baseline"],
        "same_arrays_bit_for_bit": same,
        "checkouts": sums,
        "rounds": args.rounds, "reads_per_round": args.reads,
        "seconds": round(time.monotonic() - t_start, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "nice": os.nice(0),
        "machine": {"python": platform.python_version(), "pyav": av.__version__, "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(args.out)
    for n, r in sums.items():
        label = r["commit"] if r["commit"].startswith("folder") else r["commit"][:12]
        print(f"{n} ({label}): warm {r['warm_ms_median']:.1f} ms (p10 {r['warm_ms_p10']:.1f}), first "
              f"{r['first_ms_median']:.1f} ms, CPU {r['cpu_ms_median']:.1f} ms; vs baseline "
              f"{r['ratio_warm_vs_baseline']:.3f} warm (per read {r['paired_ratio_median']:.3f}), "
              f"{r['ratio_first_vs_baseline']:.3f} first, {r['ratio_cpu_vs_baseline']:.3f} CPU")
    print(f"same arrays bit for bit: {'yes' if same else 'NO'}; {args.rounds} rounds x {args.reads} reads; load "
          f"average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs, nice {os.nice(0)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
