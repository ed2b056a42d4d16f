"""Dense motion fields from codec motion vectors, tracing back to the I-frame, and motion compensation.

Conventions (the paper's Sec. 3.1, eqs. 1-2):

* A motion field ``tau`` has shape ``(H, W, 2)``, float32, in pixels, components ``(x, y)``. ``tau_i`` is the movement
  *from* the referenced location in the previous frame *to* pixel ``i``: the referenced location is ``mu(i) = i - tau_i``.
  An object moving right has positive ``x``.
* FFmpeg's exported ``AVMotionVector`` says ``src = dst + motion / motion_scale``, so ``tau = -motion / motion_scale``
  over the block of size ``w x h`` centred on ``(dst_x, dst_y)``. Pixels no vector covers (intra blocks) get ``tau = 0``.
* Locations are resolved to the nearest pixel (``rint``) and clipped to the frame when an image is read at them
  (nearest-neighbour motion compensation; the codec's own sub-pixel interpolation is not reproduced).

Accumulation (one forward pass per GOP, linear time). With ``Pi`` the total movement since the GOP's I-frame,

    Pi_t(i) = tau_t(i) + Pi_{t-1}(rint(i - tau_t(i))),        Pi_I = 0,

so the I-frame location a pixel traces back to is ``Gamma_i = i - Pi_t(i)`` (eq. 2's ``Pi_i = i - Gamma_i``). Composing
displacements (rather than integer source indices) keeps sub-pixel motion: a steady 1.5 px/frame translation
accumulates to exactly 1.5 * t instead of drifting by the rounding of every step.

Residuals are in pixel space: the decoded frame minus the motion-compensated reference,

    delta_t = F_t - F_{t-1}[rint(i - tau_t(i))]        (raw),
    Delta_t = F_t - I[rint(i - Pi_t(i))]               (accumulated),

so ``warp(I, Pi_t) + Delta_t == F_t`` holds exactly by construction, and ``Delta_t`` equals eq. 2's sum of raw residuals
along the traced path wherever the rounded paths of the two agree.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_motion", "motion_cells", "expand_cells", "accumulate", "warp_nearest", "reference_index"]


def motion_cells(vectors: np.ndarray | None, height: int, width: int) -> tuple[np.ndarray, int]:
    """Paint FFmpeg motion vectors on the coarsest exact grid: returns ``(cells, g)`` where pixel ``(y, x)`` moves
    by ``cells[y // g, x // g]`` (float32 pixels ``(x, y)``).

    ``vectors`` is the structured array of ``frame.side_data['MOTION_VECTORS'].to_ndarray()`` (fields ``w, h, dst_x,
    dst_y, motion_x, motion_y, motion_scale, source``), or None for a frame that carries none. Only past-referencing
    vectors (``source < 0``) are painted; callers reject frames with future references (B-frames) before this.
    Blocks that reach past the frame edge (sizes not divisible by 16) are clipped. Codec blocks are multiples of 4x4
    pixels on a 4-pixel grid (H.264's smallest partition is 4x4, MPEG-4's 8x8), so ``g = 4``; blocks off that grid
    give a per-pixel field (``g = 1``).
    """
    g = 4
    hc, wc = -(-height // g), -(-width // g)
    if vectors is None or len(vectors) == 0:
        return np.zeros((hc, wc, 2), dtype=np.float32), g
    from ._kernels import cells_from_vectors

    cells, ok = cells_from_vectors(vectors, hc, wc, g)
    if ok:
        return cells, g
    return cells_from_vectors(vectors, height, width, 1)[0], 1  # a block off the 4-pixel grid: per-pixel field


def expand_cells(cells: np.ndarray, g: int, height: int, width: int) -> np.ndarray:
    """The dense ``(H, W, 2)`` field of a cell grid from :func:`motion_cells`."""
    if g == 1:
        return cells
    hc, wc = cells.shape[:2]
    full = np.broadcast_to(cells[:, None, :, None, :], (hc, g, wc, g, 2)).reshape(hc * g, wc * g, 2)
    return np.ascontiguousarray(full[:height, :width])


def dense_motion(vectors: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """Paint FFmpeg motion vectors into a dense field ``tau`` of shape ``(H, W, 2)``, float32 pixels ``(x, y)``
    (see :func:`motion_cells`); pixels no vector covers (intra blocks) get 0."""
    return expand_cells(*motion_cells(vectors, height, width), height, width)


_GRID_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    key = (height, width)
    if key not in _GRID_CACHE:
        if len(_GRID_CACHE) > 16:
            _GRID_CACHE.clear()
        ys, xs = np.mgrid[0:height, 0:width]
        _GRID_CACHE[key] = (xs.astype(np.float32), ys.astype(np.float32))
    return _GRID_CACHE[key]


def reference_index(disp: np.ndarray) -> np.ndarray:
    """Flat index of ``rint(i - disp_i)`` clipped to the frame, for every pixel ``i``: shape ``(H, W)``, int32.

    ``disp`` is ``(H, W, 2)`` pixels ``(x, y)``. This is the pixel a motion-compensated read takes its value from.
    """
    height, width = disp.shape[:2]
    gx, gy = _grid(height, width)
    rx = np.subtract(gx, disp[..., 0])
    ry = np.subtract(gy, disp[..., 1])
    np.rint(rx, out=rx)
    np.rint(ry, out=ry)
    np.clip(rx, 0, width - 1, out=rx)
    np.clip(ry, 0, height - 1, out=ry)
    idx = ry.astype(np.int32)
    idx *= width
    idx += rx.astype(np.int32)
    return idx


def accumulate(acc_prev: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """One tracing step: ``Pi_t(i) = tau_t(i) + Pi_{t-1}(rint(i - tau_t(i)))``; all ``(H, W, 2)`` float32 pixels."""
    idx = reference_index(tau)
    # Gather both components at once: view each (x, y) pair as one complex64 element.
    prev = np.ascontiguousarray(acc_prev, dtype=np.float32).view(np.complex64).reshape(-1)
    out = np.take(prev, idx).view(np.float32).reshape(tau.shape)
    out += tau
    return out


def warp_nearest(image: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Motion-compensate ``image`` ``(H, W, C)``: ``out_i = image[rint(i - disp_i)]`` (clipped), same dtype."""
    height, width = image.shape[:2]
    idx = reference_index(disp)
    return image.reshape(height * width, -1)[idx].reshape(image.shape)
