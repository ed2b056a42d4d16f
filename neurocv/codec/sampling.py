"""Which P-frames a clip is made of: the paper's (TSN / CoViAR) segment sampling.

The video's frames ``0 .. n_frames-1`` are cut into ``segments`` equal spans. Each span contributes one P-frame:
at test time the P-frame nearest the span's centre, in training mode one drawn uniformly from the span's P-frames.
A span that holds no P-frame (a video shorter than ``segments`` P-frames, or a span covered by I-frames only) takes
the P-frame nearest its centre from anywhere in the video, so short videos repeat frames rather than fail; the
result is always ``segments`` positions in non-decreasing order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_positions"]


def sample_positions(
    n_frames: int,
    p_positions: np.ndarray,
    segments: int,
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Pick one P-frame per segment; returns ``(segments,)`` int64 frame positions (display order).

    ``p_positions`` lists the frame positions that are P-frames. Raises ``ValueError`` when there are none (the
    caller turns that into a message naming the file).
    """
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    p = np.asarray(p_positions, dtype=np.int64)
    if p.size == 0:
        raise ValueError("no P-frames")
    if train and rng is None:
        rng = np.random.default_rng()
    bounds = np.linspace(0, n_frames, segments + 1)
    out = np.empty(segments, dtype=np.int64)
    for s in range(segments):
        lo, hi = bounds[s], bounds[s + 1]
        centre = (lo + hi - 1) / 2.0
        inside = p[(p >= lo) & (p < hi)]
        if inside.size == 0:
            out[s] = p[np.argmin(np.abs(p - centre))]
        elif train:
            out[s] = inside[rng.integers(inside.size)]
        else:
            out[s] = inside[np.argmin(np.abs(inside - centre))]
    return np.sort(out)
