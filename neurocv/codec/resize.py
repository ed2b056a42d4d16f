"""Bilinear resizing of ``(..., H, W, C)`` arrays in numpy (half-pixel centres, as OpenCV and torch align_corners=False)."""

from __future__ import annotations

import numpy as np


def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    x = np.clip(x, 0, n_in - 1)
    lo = np.floor(x).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (x - lo).astype(np.float32)


def resize_bilinear(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize the ``H, W`` axes (the two before the last) of ``arr`` to ``(height, width)``; returns float32."""
    if width < 1 or height < 1:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    a = np.asarray(arr, dtype=np.float32)
    h0, w0 = a.shape[-3], a.shape[-2]
    y0, y1, wy = _axis(h0, height)
    x0, x1, wx = _axis(w0, width)
    rows = a[..., y0, :, :] * (1 - wy)[:, None, None] + a[..., y1, :, :] * wy[:, None, None]
    return rows[..., x0, :] * (1 - wx)[:, None] + rows[..., x1, :] * wx[:, None]
