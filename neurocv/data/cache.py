"""Offline extraction of a whole dataset: one ``.npz`` per video holding every P-frame, written atomically.

Layout: ``CACHE/{acc,raw}/<video path relative to the videos folder>.npz`` with

* ``iframes`` ``(G, H, W, 3)`` uint8, the I-frame of each GOP that holds P-frames, and ``iframe_of`` ``(P,)``
* ``mvs`` ``(P, H, W, 2)`` float32 pixels; ``residuals`` ``(P, H, W, 3)`` int16 (exact: differences of uint8 images)
* ``frame_index``, ``gop_index`` ``(P,)``; ``n_frames``; ``source_size`` and ``source_mtime_ns`` of the video, so a
  changed video is extracted again; ``format_version``.

A run that is killed leaves only complete files (and perhaps a stray temporary file, removed on the next run); the
next run skips the videos already done, so ``neurocv cache`` is resumable.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_savez
from ..codec import read_clip
from ..codec.sampling import sample_positions
from ..errors import NeuroCVError
from .layout import load_split

__all__ = ["cache_path", "extract_to_cache", "load_cached", "cache_dataset", "CacheReport"]

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
    clip = read_clip(video, all_pframes=True, accumulate=accumulate)
    gops, iframe_of = np.unique(clip.gop_index, return_inverse=True)
    first = np.array([np.flatnonzero(clip.gop_index == g)[0] for g in gops])
    st = video.stat()
    from ..codec import probe

    atomic_savez(
        target,
        iframes=clip.iframes[first], iframe_of=iframe_of.astype(np.int32), mvs=clip.mvs.astype(np.float32),
        residuals=np.rint(clip.residuals).astype(np.int16), frame_index=clip.frame_index,
        gop_index=clip.gop_index, n_frames=np.int64(probe(video).n_frames), source_size=np.int64(st.st_size),
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


def _job(video: str, target: str, accumulate: bool) -> tuple[str, str | None, bool]:
    fresh = _is_fresh(Path(target), Path(video))
    try:
        extract_to_cache(Path(video), Path(target), accumulate)
        return video, None, fresh
    except NeuroCVError as exc:
        return video, str(exc), fresh


def _clean_stray_tmp(folder: Path) -> None:
    if folder.is_dir():
        for p in folder.rglob(".*.npz"):
            p.unlink(missing_ok=True)


def cache_dataset(data: str | Path, cache_dir: str | Path | None = None, workers: int | None = None,
                  accumulate: bool = True, progress: bool = True) -> CacheReport:
    """Extract every video of both splits of ``data`` into ``cache_dir`` (default ``DATA/cache``) in parallel."""
    data = Path(data)
    lists = [load_split(data, s) for s in ("train", "test")]
    cache_dir = Path(cache_dir) if cache_dir else (data.parent if data.is_file() else data) / "cache"
    _clean_stray_tmp(cache_dir)
    jobs = {}
    for vl in lists:
        for video, _ in vl.items:
            jobs[str(video)] = str(cache_path(cache_dir, vl.root, video, accumulate))
    workers = workers or max(1, min(len(jobs), os.cpu_count() or 1))
    failed, done, skipped = [], 0, 0
    from rich.progress import Progress

    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("extracting", total=len(jobs))
        # spawn, not fork: a forked child of a process running threads (numba's pool, the decode prefetch thread,
        # FFmpeg's) can inherit a held lock and hang
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_job, v, t, accumulate) for v, t in jobs.items()]
            for fut in as_completed(futures):
                video, err, was_fresh = fut.result()
                if err:
                    failed.append((video, err))
                elif was_fresh:
                    skipped += 1
                else:
                    done += 1
                bar.advance(task)
    return CacheReport(done, skipped, tuple(sorted(failed)))
