"""Fused per-pixel loops of the tracing (numba). Each one is the exact counterpart of a numpy expression in
:mod:`.motion` (tests hold them equal); they exist because the numpy form makes ~10 passes over every frame.

Motion fields come as ``cells`` ``(Hc, Wc, 2)`` float32 at a grid of ``g`` pixels (``g = 4`` for codec blocks on
the 4-pixel grid, ``g = 1`` for a per-pixel field): pixel ``(y, x)`` has motion ``cells[y // g, x // g]``.
Loops run over cells, then over the ``g`` pixels of a cell, to avoid a division per pixel.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

# Frames at least this large use the multi-threaded variant of a kernel; below it the threads' start-up and their
# contention with FFmpeg's decoding threads cost more than they save (measured on 340x256 and 1280x720 clips).
PARALLEL_MIN_PIXELS = 500_000


@njit(inline="always")
def _clamped(v, hi):
    """``rint(v)`` as an int, clipped to ``[0, hi]``: the pixel a motion-compensated read takes."""
    return min(max(int(np.rint(v)), 0), hi)


def _two_variants(fn):
    """Compile ``fn`` twice, serial and ``parallel=True`` (``prange`` is ``range`` in the serial one), and return a
    dispatcher that picks by the size of the output (last argument)."""
    par_fn = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__,
                                fn.__closure__)
    par_fn.__qualname__ = fn.__qualname__ + "_parallel"  # a distinct name keeps numba's two cache entries apart
    serial = njit(cache=True, nogil=True)(fn)
    parallel = njit(cache=True, nogil=True, parallel=True)(par_fn)

    def dispatch(*args):
        out = args[-1]
        return (parallel if out.shape[0] * out.shape[1] >= PARALLEL_MIN_PIXELS else serial)(*args)

    dispatch.__doc__, dispatch.__name__ = fn.__doc__, fn.__name__
    dispatch.serial, dispatch.parallel = serial, parallel
    return dispatch


@_two_variants
def trace_step(acc_prev, cells, g, out):
    """``out(i) = tau(i) + acc_prev(rint(i - tau(i)))`` with ``tau`` read from ``cells``; ``(H, W, 2)`` float32."""
    height, width = out.shape[0], out.shape[1]
    for y in prange(height):
        cy = y // g
        for cx in range(cells.shape[1]):
            tx = cells[cy, cx, 0]
            ty = cells[cy, cx, 1]
            ry = _clamped(y - ty, height - 1)
            for x in range(cx * g, min(cx * g + g, width)):
                rx = _clamped(x - tx, width - 1)
                out[y, x, 0] = tx + acc_prev[ry, rx, 0]
                out[y, x, 1] = ty + acc_prev[ry, rx, 1]


@_two_variants
def compensate_residual(cur, ref, cells, g, out):
    """``out(i) = cur(i) - ref(rint(i - d(i)))`` for ``(H, W, 3)`` uint8 images, ``d`` read from ``cells``."""
    height, width = out.shape[0], out.shape[1]
    for y in prange(height):
        cy = y // g
        for cx in range(cells.shape[1]):
            tx = cells[cy, cx, 0]
            ty = cells[cy, cx, 1]
            ry = _clamped(y - ty, height - 1)
            for x in range(cx * g, min(cx * g + g, width)):
                rx = _clamped(x - tx, width - 1)
                out[y, x, 0] = np.float32(cur[y, x, 0]) - np.float32(ref[ry, rx, 0])
                out[y, x, 1] = np.float32(cur[y, x, 1]) - np.float32(ref[ry, rx, 1])
                out[y, x, 2] = np.float32(cur[y, x, 2]) - np.float32(ref[ry, rx, 2])


@_two_variants
def compensate_dense(cur, ref, disp, out):
    """:func:`compensate_residual` for a per-pixel field ``disp`` ``(H, W, 2)`` (no cell indexing)."""
    height, width = out.shape[0], out.shape[1]
    for y in prange(height):
        for x in range(width):
            ry = _clamped(y - disp[y, x, 1], height - 1)
            rx = _clamped(x - disp[y, x, 0], width - 1)
            out[y, x, 0] = np.float32(cur[y, x, 0]) - np.float32(ref[ry, rx, 0])
            out[y, x, 1] = np.float32(cur[y, x, 1]) - np.float32(ref[ry, rx, 1])
            out[y, x, 2] = np.float32(cur[y, x, 2]) - np.float32(ref[ry, rx, 2])


@njit(cache=True, nogil=True)
def cells_from_vectors(vectors, hc, wc, g):
    """Paint an FFmpeg ``AVMotionVector`` record array on a grid of ``g``-pixel cells: ``(Hc, Wc, 2)`` float32
    ``tau = -motion / motion_scale`` over each past-referencing block (``source < 0``), clipped to the grid.
    Returns ``(cells, ok)`` where ``ok`` is False when a block is not aligned to the grid (nothing is painted then)."""
    cells = np.zeros((hc, wc, 2), np.float32)
    for k in range(vectors.shape[0]):
        v = vectors[k]
        w, h = np.int64(v["w"]), np.int64(v["h"])
        x0, y0 = np.int64(v["dst_x"]) - w // 2, np.int64(v["dst_y"]) - h // 2
        if (w % g) or (h % g) or (x0 % g) or (y0 % g):
            return cells, False
    for k in range(vectors.shape[0]):
        v = vectors[k]
        if v["source"] >= 0:
            continue
        w, h = np.int64(v["w"]), np.int64(v["h"])
        x0, y0 = (np.int64(v["dst_x"]) - w // 2) // g, (np.int64(v["dst_y"]) - h // 2) // g
        scale = np.float32(v["motion_scale"]) if v["motion_scale"] != 0 else np.float32(1.0)
        tx = -np.float32(v["motion_x"]) / scale
        ty = -np.float32(v["motion_y"]) / scale
        for y in range(max(y0, 0), min(y0 + h // g, hc)):
            for x in range(max(x0, 0), min(x0 + w // g, wc)):
                cells[y, x, 0] = tx
                cells[y, x, 1] = ty
    return cells, True


@_two_variants
def trace_and_compensate(acc_prev, cells, g, cur, iframe, acc_out, res_out):
    """:func:`trace_step` then ``res_out = cur - iframe(rint(i - acc_out(i)))`` in one pass over the frame."""
    height, width = acc_out.shape[0], acc_out.shape[1]
    for y in prange(height):
        cy = y // g
        for cx in range(cells.shape[1]):
            tx = cells[cy, cx, 0]
            ty = cells[cy, cx, 1]
            ry = _clamped(y - ty, height - 1)
            for x in range(cx * g, min(cx * g + g, width)):
                rx = _clamped(x - tx, width - 1)
                ax = tx + acc_prev[ry, rx, 0]
                ay = ty + acc_prev[ry, rx, 1]
                acc_out[y, x, 0] = ax
                acc_out[y, x, 1] = ay
                iy = _clamped(y - ay, height - 1)
                ix = _clamped(x - ax, width - 1)
                res_out[y, x, 0] = np.float32(cur[y, x, 0]) - np.float32(iframe[iy, ix, 0])
                res_out[y, x, 1] = np.float32(cur[y, x, 1]) - np.float32(iframe[iy, ix, 1])
                res_out[y, x, 2] = np.float32(cur[y, x, 2]) - np.float32(iframe[iy, ix, 2])
