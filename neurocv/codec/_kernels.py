"""Fused per-pixel loops of the tracing (numba). Each one is the exact counterpart of a numpy expression in
:mod:`.motion` (tests hold them equal); they exist because the numpy form makes ~10 passes over every frame.

Motion fields come as ``cells`` ``(Hc, Wc, 2)`` float32 at a grid of ``g`` pixels (``g = 4`` for codec blocks on
the 4-pixel grid, ``g = 1`` for a per-pixel field): pixel ``(y, x)`` has motion ``cells[y // g, x // g]``.
Loops run over cells, then over the ``g`` pixels of a cell, to avoid a division per pixel.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def paint_cells(cells, tx, ty, x0, y0, bw, bh):
    """Fill the rectangles ``[y0, y0+bh) x [x0, x0+bw)`` (cell units) of ``cells`` with ``(tx, ty)``, clipped."""
    hc, wc = cells.shape[0], cells.shape[1]
    for k in range(tx.shape[0]):
        for y in range(max(y0[k], 0), min(y0[k] + bh[k], hc)):
            for x in range(max(x0[k], 0), min(x0[k] + bw[k], wc)):
                cells[y, x, 0] = tx[k]
                cells[y, x, 1] = ty[k]


@njit(cache=True, nogil=True)
def trace_step(acc_prev, cells, g, out):
    """``out(i) = tau(i) + acc_prev(rint(i - tau(i)))`` with ``tau`` read from ``cells``; ``(H, W, 2)`` float32."""
    height, width = out.shape[0], out.shape[1]
    for y in range(height):
        cy = y // g
        for cx in range(cells.shape[1]):
            tx = cells[cy, cx, 0]
            ty = cells[cy, cx, 1]
            ry = min(max(int(np.rint(y - ty)), 0), height - 1)
            for x in range(cx * g, min(cx * g + g, width)):
                rx = min(max(int(np.rint(x - tx)), 0), width - 1)
                out[y, x, 0] = tx + acc_prev[ry, rx, 0]
                out[y, x, 1] = ty + acc_prev[ry, rx, 1]


@njit(cache=True, nogil=True)
def compensate_residual(cur, ref, cells, g, out):
    """``out(i) = cur(i) - ref(rint(i - d(i)))`` for ``(H, W, 3)`` uint8 images, ``d`` read from ``cells``."""
    height, width = out.shape[0], out.shape[1]
    for y in range(height):
        cy = y // g
        for cx in range(cells.shape[1]):
            tx = cells[cy, cx, 0]
            ty = cells[cy, cx, 1]
            ry = min(max(int(np.rint(y - ty)), 0), height - 1)
            for x in range(cx * g, min(cx * g + g, width)):
                rx = min(max(int(np.rint(x - tx)), 0), width - 1)
                out[y, x, 0] = np.float32(cur[y, x, 0]) - np.float32(ref[ry, rx, 0])
                out[y, x, 1] = np.float32(cur[y, x, 1]) - np.float32(ref[ry, rx, 1])
                out[y, x, 2] = np.float32(cur[y, x, 2]) - np.float32(ref[ry, rx, 2])
