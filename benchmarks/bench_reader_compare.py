"""The 8-segment extraction of the P1 clip, this checkout against an older one, side by side in one run (issue 21).

The P1 clip is the reader benchmark's MPEG-4 clip (340x256, 10.6 s, GOP 12, no B-frames; see bench_reader.py).
The older checkout (default ``d747b23``) is unpacked with ``git archive`` into a temporary folder and imported through
``PYTHONPATH``; both run in the same environment (same PyAV, numpy, numba). Each round starts one fresh process per
checkout, in alternating order; a process warms up (imports, numba kernels, one 2-segment read), then times its
first 8-segment read ("first") and ``--reads`` more ("warm", their median). The ratios are this checkout's median
time over the older one's: below 1 is faster. The load average is recorded before and after, since on a busy machine
both numbers move.

Usage: python benchmarks/bench_reader_compare.py [--baseline d747b23] --out benchmarks/results/reader_compare.json
"""

from __future__ import annotations

import argparse
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


def run_child(video: str, reads: int) -> None:
    """In a fresh process: time 8-segment reads of ``video`` with whichever ``neurocv`` PYTHONPATH gives."""
    import neurocv
    from neurocv.codec import probe, read_clip

    probe(video)
    read_clip(video, 2)
    times = []
    for _ in range(reads + 1):
        t0 = time.perf_counter()
        clip = read_clip(video, 8)
        times.append(time.perf_counter() - t0)
        assert len(clip) == 8
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
    print(json.dumps({"neurocv": neurocv.__file__, "first_s": times[0], "warm_s": times[1:],
                      "threads_after": threads}))


def _unpack(rev: str, into: Path) -> str:
    """``neurocv/`` of ``rev`` extracted under ``into``; returns the full commit id."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    archive = into / "src.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), commit, "neurocv"], cwd=REPO, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return commit


def _measure(tree: Path, video: Path, reads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tree)
    out = subprocess.run([sys.executable, __file__, "--child", str(video), "--reads", str(reads)], env=env,
                         cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench_reader_compare: the run with {tree} failed:\n{out.stderr[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if not Path(r["neurocv"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"bench_reader_compare: imported {r['neurocv']}, not the checkout in {tree}")
    return r


def _head() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "neurocv"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    return head + ("+uncommitted" if dirty else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="d747b23", help="the older checkout (any git revision)")
    ap.add_argument("--also", action="append", default=[], metavar="REV",
                    help="another revision to time in the same rounds (e.g. the commit before a fix)")
    ap.add_argument("--rounds", type=int, default=6, help="fresh processes per checkout")
    ap.add_argument("--reads", type=int, default=10, help="timed warm reads per process")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "reader_compare.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.reads)
        return

    sys.path.insert(0, str(HERE))
    from bench_reader import make_mpeg4_clip

    clips = HERE / "results" / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    video = make_mpeg4_clip(clips / "bbb_340x256_mpeg4.mp4")
    import av

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="neurocv-baseline-") as tmp:
        trees, commits = {"current": REPO}, {"current": _head()}
        for name, rev in [("baseline", args.baseline)] + [(rev, rev) for rev in args.also]:
            trees[name] = Path(tmp, name)
            trees[name].mkdir()
            commits[name] = _unpack(rev, trees[name])
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for k in range(args.rounds):
            order = list(trees) if k % 2 == 0 else list(trees)[::-1]
            for name in order:
                runs[name].append(_measure(trees[name], video, args.reads))
                print(f"round {k + 1}/{args.rounds} {name}: first {runs[name][-1]['first_s'] * 1e3:.1f} ms, "
                      f"warm {statistics.median(runs[name][-1]['warm_s']) * 1e3:.1f} ms", file=sys.stderr)
    load_after = os.getloadavg()

    def summary(rs: list[dict]) -> dict:
        return {"first_ms_median": 1e3 * statistics.median(r["first_s"] for r in rs),
                "warm_ms_median": 1e3 * statistics.median(t for r in rs for t in r["warm_s"]),
                "warm_ms_min": 1e3 * min(t for r in rs for t in r["warm_s"]),
                "threads_after_reads": [r["threads_after"] for r in rs]}

    sums = {name: {"commit": commits[name], **summary(rs)} for name, rs in runs.items()}
    base = sums["baseline"]
    for s in sums.values():
        s["ratio_warm_vs_baseline"] = s["warm_ms_median"] / base["warm_ms_median"]
        s["ratio_first_vs_baseline"] = s["first_ms_median"] / base["first_ms_median"]
    result = {
        "what": "read_clip(P1 clip, 8) wall time, this checkout vs the baseline, alternating fresh processes",
        "video": "bench_reader.make_mpeg4_clip: 340x256 MPEG-4, 10.6 s, GOP 12, no B-frames",
        "ratio_warm": sums["current"]["ratio_warm_vs_baseline"],
        "ratio_first": sums["current"]["ratio_first_vs_baseline"],
        "checkouts": sums,
        "rounds": args.rounds, "reads_per_round": args.reads,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "machine": {"python": platform.python_version(), "pyav": av.__version__, "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(args.out)
    for name, r in sums.items():
        print(f"{name} ({r['commit'][:12]}): warm {r['warm_ms_median']:.1f} ms, first {r['first_ms_median']:.1f} ms; "
              f"vs baseline {r['ratio_warm_vs_baseline']:.2f} warm, {r['ratio_first_vs_baseline']:.2f} first")
    print(f"load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
