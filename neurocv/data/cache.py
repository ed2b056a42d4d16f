"""Offline extraction of a whole dataset: one ``.npz`` per video holding every P-frame, written atomically.

Layout: ``CACHE/{acc,raw}/<video path relative to the videos folder>.npz`` with

* ``iframes`` ``(G, H, W, 3)`` uint8, the I-frame of each GOP that holds P-frames, and ``iframe_of`` ``(P,)``
* ``mvs`` ``(P, H, W, 2)`` float32 pixels; ``residuals`` ``(P, H, W, 3)`` int16 (exact: differences of uint8 images)
* ``frame_index``, ``gop_index`` ``(P,)``; ``n_frames``; ``source_size`` and ``source_mtime_ns`` of the video, so a
  changed video is extracted again; ``format_version``.

A run that is killed leaves only complete files (and perhaps a stray temporary file, removed on the next run); the
next run skips the videos already done, so ``neurocv cache`` is resumable.

A video that cannot be read leaves ``<video>.failed.json`` (its reason, and the video's size and mtime) where its
``.npz`` would be; ``CACHE/failed-acc.json`` (``failed-raw.json``) lists them all. Training and evaluation skip these
videos; a changed video is tried again. ``--shard I/N`` splits the videos by a stable hash of their path, so N machines
(or array jobs) fill one cache together and their results equal a single run's.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_open, atomic_savez
from ..codec import probe, read_clip
from ..codec.sampling import sample_positions
from ..errors import ConfigError, NeuroCVError, VideoDecodeError
from .layout import load_split

__all__ = ["cache_path", "extract_to_cache", "load_cached", "cache_dataset", "CacheReport", "failure_path",
           "known_failure", "parse_shard", "shard_of", "write_failure_list"]

FORMAT_VERSION = 1


def cache_path(cache_dir: Path, video_root: Path, video: Path, accumulate: bool) -> Path:
    try:
        rel = video.relative_to(video_root)
    except ValueError:
        rel = Path(video.name)
    return cache_dir / ("acc" if accumulate else "raw") / rel.with_suffix(rel.suffix + ".npz")


def _is_fresh(target: Path, video: Path) -> bool:
    if not target.exists():
        return False
    try:
        with np.load(target) as z:
            st = video.stat()
            return (int(z["format_version"]) == FORMAT_VERSION and int(z["source_size"]) == st.st_size
                    and int(z["source_mtime_ns"]) == st.st_mtime_ns)
    except Exception:  # a corrupt cache file is simply rebuilt
        return False


def extract_to_cache(video: Path, target: Path, accumulate: bool = True) -> Path:
    """Extract every P-frame of ``video`` into ``target`` (skipped when already fresh)."""
    if _is_fresh(target, video):
        return target
    index = probe(video)
    clip = read_clip(video, all_pframes=True, accumulate=accumulate, index=index)
    # one stored I-frame per run of P-frames traced from the same I-frame: a new GOP, or an I-frame inside a GOP
    # that the container did not flag as a keyframe (the reader restarts tracing there)
    first, iframe_of = [], np.empty(len(clip), np.int32)
    for k in range(len(clip)):
        if not first or clip.gop_index[k] != clip.gop_index[first[-1]] or \
                not np.array_equal(clip.iframes[k], clip.iframes[first[-1]]):
            first.append(k)
        iframe_of[k] = len(first) - 1
    st = video.stat()
    atomic_savez(
        target,
        iframes=clip.iframes[first], iframe_of=iframe_of.astype(np.int32), mvs=clip.mvs.astype(np.float32),
        residuals=np.rint(clip.residuals).astype(np.int16), frame_index=clip.frame_index,
        gop_index=clip.gop_index, n_frames=np.int64(index.n_frames), source_size=np.int64(st.st_size),
        source_mtime_ns=np.int64(st.st_mtime_ns), accumulated=np.bool_(accumulate),
        format_version=np.int64(FORMAT_VERSION),
    )
    return target


def load_cached(target: Path, segments: int, train: bool, rng: np.random.Generator | None,
                all_pframes: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample ``segments`` triplets from a cache file exactly as :func:`read_clip` would from the video.

    Returns ``iframes (N,H,W,3) uint8, mvs (N,H,W,2) float32, residuals (N,H,W,3) float32, frame_index (N,)``.
    """
    with np.load(target) as z:
        frame_index = z["frame_index"]
        if all_pframes:
            sel = np.arange(frame_index.size)
        else:
            pos = sample_positions(int(z["n_frames"]), frame_index, segments, train=train, rng=rng)
            sel = np.searchsorted(frame_index, pos)
        iframes = z["iframes"][z["iframe_of"][sel]]
        return iframes, z["mvs"][sel], z["residuals"][sel].astype(np.float32), frame_index[sel]


@dataclass(frozen=True)
class CacheReport:
    done: int
    skipped: int
    failed: tuple[tuple[str, str], ...]


def failure_path(target: Path) -> Path:
    """Where the cache records that a video could not be read: beside its ``.npz``, as ``<video>.failed.json``."""
    return target.with_name(target.name[: -len(".npz")] + ".failed.json")


def known_failure(target: Path, video: Path) -> str | None:
    """The recorded reason ``video`` failed, while the video is unchanged since (else None: it is tried again)."""
    marker = failure_path(target)
    if not marker.exists():
        return None
    try:
        rec = json.loads(marker.read_text())
        st = video.stat()
        if (rec["format_version"] == FORMAT_VERSION and rec["source_size"] == st.st_size
                and rec["source_mtime_ns"] == st.st_mtime_ns):
            return str(rec["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _record_failure(target: Path, video: Path, reason: str) -> None:
    try:
        st = video.stat()
        size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        size = mtime = -1
    rec = {"video": str(video), "reason": reason, "source_size": size, "source_mtime_ns": mtime,
           "format_version": FORMAT_VERSION}
    with atomic_open(failure_path(target), "w") as fh:
        json.dump(rec, fh)


def _job(video: str, target: str, accumulate: bool) -> tuple[str, str | None, bool]:
    """Returns ``(video, error or None, nothing to do)``: a fresh cache file, or a failure already recorded for the
    unchanged video, is not redone."""
    fresh = _is_fresh(Path(target), Path(video))
    if not fresh:
        reason = known_failure(Path(target), Path(video))
        if reason is not None:
            return video, reason, True
    try:
        extract_to_cache(Path(video), Path(target), accumulate)
        failure_path(Path(target)).unlink(missing_ok=True)
        return video, None, fresh
    except NeuroCVError as exc:
        reason = str(exc)
    except Exception as exc:  # one unreadable video must not end a long run: recorded like any other failure
        reason = f"{video}: unexpected {type(exc).__name__} while reading: {exc}".replace("\n", " ")
    _record_failure(Path(target), Path(video), reason)
    return video, reason, False


def shard_of(key: str, shards: int) -> int:
    """The shard (0 .. shards-1) a video belongs to: a stable hash of its path inside the cache, so that every
    machine computes the same split and adding videos moves no others."""
    return zlib.crc32(key.encode("utf-8")) % shards


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; None passes through."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard expects I/N (e.g. 0/4), got '{text}'") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard I/N needs 0 <= I < N, got '{text}'")
    return i, n


def write_failure_list(cache_dir: Path, accumulate: bool) -> Path:
    """``CACHE/failed-{acc,raw}.json``: every recorded failure (video, reason), gathered from the per-video records,
    so that shards run one after another (or at once) leave the same list as a single run."""
    sub = cache_dir / ("acc" if accumulate else "raw")
    rows = []
    for marker in sorted(sub.rglob("*.failed.json")) if sub.is_dir() else []:
        try:
            rec = json.loads(marker.read_text())
            rows.append({"video": rec["video"], "reason": rec["reason"]})
        except (OSError, ValueError, KeyError, TypeError):
            continue
    rows.sort(key=lambda r: r["video"])
    target = cache_dir / f"failed-{sub.name}.json"
    with atomic_open(target, "w") as fh:
        json.dump(rows, fh, indent=1)
    return target


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them (no traceback from every worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its stderr on the null device. Its only message here is the
    "leaked semaphore objects" warning when Ctrl-C ends the command while the stopped pool's queue locks are still
    registered; after our one-line interrupt message that is noise (the tracker removes them all the same)."""
    from multiprocessing import resource_tracker

    if getattr(resource_tracker._resource_tracker, "_fd", None) is not None:   # already running
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the pending jobs and end the workers now, not after the queue is drained."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(timeout=5)
    pool.shutdown(wait=True)   # the manager thread sees the ended workers and closes the pool's queues


def _clean_stray_tmp(folder: Path) -> None:
    if folder.is_dir():
        for p in folder.rglob(".*.npz"):
            p.unlink(missing_ok=True)


def cache_dataset(data: str | Path, cache_dir: str | Path | None = None, workers: int | None = None,
                  accumulate: bool = True, progress: bool = True, shard: tuple[int, int] | None = None,
                  strict: bool = False) -> CacheReport:
    """Extract every video of both splits of ``data`` into ``cache_dir`` (default ``DATA/cache``) in parallel.

    Videos that fail are recorded with their reasons (``<video>.failed.json`` beside where the ``.npz`` would be, and
    all of them in ``CACHE/failed-acc.json``) and not retried while unchanged. ``shard=(I, N)`` processes only the
    videos of shard I of N (see :func:`shard_of`); ``strict`` stops at the first failure (raised)."""
    data = Path(data)
    lists = [load_split(data, s) for s in ("train", "test")]
    cache_dir = Path(cache_dir) if cache_dir else (data.parent if data.is_file() else data) / "cache"
    _clean_stray_tmp(cache_dir)
    jobs = {}
    for vl in lists:
        for video, _ in vl.items:
            target = cache_path(cache_dir, vl.root, video, accumulate)
            if shard is None or shard_of(target.relative_to(cache_dir).as_posix(), shard[1]) == shard[0]:
                jobs[str(video)] = str(target)
    workers = workers or max(1, min(len(jobs), os.cpu_count() or 1))
    failed, done, skipped = [], 0, 0
    from rich.progress import Progress

    from rich.console import Console

    with Progress(disable=not progress, transient=False, console=Console(stderr=True)) as bar:
        task = bar.add_task("extracting", total=len(jobs))
        # spawn, not fork: a forked child of a process running threads (numba's pool, the decode prefetch thread,
        # FFmpeg's) can inherit a held lock and hang
        _quiet_resource_tracker()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_sigint)
        try:
            futures = [pool.submit(_job, v, t, accumulate) for v, t in jobs.items()]
            for fut in as_completed(futures):
                video, err, was_fresh = fut.result()
                if err:
                    if strict:
                        raise VideoDecodeError(err) if str(video) in err else VideoDecodeError(f"{video}: {err}")
                    failed.append((video, err))
                elif was_fresh:
                    skipped += 1
                else:
                    done += 1
                bar.advance(task)
        except BaseException:
            _stop_pool(pool)   # Ctrl-C: drop the queued videos, stop the running ones (their temp files are removed)
            raise
        pool.shutdown()
    report = CacheReport(done, skipped, tuple(sorted(failed)))
    if cache_dir.is_dir():
        write_failure_list(cache_dir, accumulate)
    return report
