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

__all__ = ["dense_motion", "accumulate", "warp_nearest", "reference_index"]


def dense_motion(vectors: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """Paint FFmpeg motion vectors into a dense field ``tau`` of shape ``(H, W, 2)``, float32 pixels ``(x, y)``.

    ``vectors`` is the structured array of ``frame.side_data['MOTION_VECTORS'].to_ndarray()`` (fields ``w, h, dst_x,
    dst_y, motion_x, motion_y, motion_scale, source``), or None for a frame that carries none. Only past-referencing
    vectors (``source < 0``) are painted; callers reject frames with future references (B-frames) before this.
    Blocks that reach past the frame edge (sizes not divisible by 16) are clipped.
    """
    field = np.zeros((height, width, 2), dtype=np.float32)
    if vectors is None or len(vectors) == 0:
        return field
    v = vectors[vectors["source"] < 0]
    if len(v) == 0:
        return field
    scale = v["motion_scale"].astype(np.float32)
    scale[scale == 0] = 1.0
    tau = np.stack([-v["motion_x"] / scale, -v["motion_y"] / scale], axis=-1).astype(np.float32)
    bw = v["w"].astype(np.int64)
    bh = v["h"].astype(np.int64)
    x0 = v["dst_x"].astype(np.int64) - bw // 2
    y0 = v["dst_y"].astype(np.int64) - bh // 2
    # Vectorise per block shape: H.264 has a handful of shapes (16x16 ... 4x4), MPEG-4 one or two.
    for shape in set(zip(bh.tolist(), bw.tolist())):
        sel = (bh == shape[0]) & (bw == shape[1])
        ys = y0[sel, None, None] + np.arange(shape[0])[None, :, None]
        xs = x0[sel, None, None] + np.arange(shape[1])[None, None, :]
        ys, xs = np.broadcast_arrays(ys, xs)
        vals = np.broadcast_to(tau[sel, None, None, :], ys.shape + (2,))
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        field[ys[inside], xs[inside]] = vals[inside]
    return field


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width]
    return xs.astype(np.float32), ys.astype(np.float32)


_GRID_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def reference_index(disp: np.ndarray) -> np.ndarray:
    """Flat index of ``rint(i - disp_i)`` clipped to the frame, for every pixel ``i``: shape ``(H, W)``, int64.

    ``disp`` is ``(H, W, 2)`` pixels ``(x, y)``. This is the pixel a motion-compensated read takes its value from.
    """
    height, width = disp.shape[:2]
    key = (height, width)
    if key not in _GRID_CACHE:
        if len(_GRID_CACHE) > 16:
            _GRID_CACHE.clear()
        _GRID_CACHE[key] = _grid(height, width)
    gx, gy = _GRID_CACHE[key]
    rx = np.clip(np.rint(gx - disp[..., 0]), 0, width - 1).astype(np.int64)
    ry = np.clip(np.rint(gy - disp[..., 1]), 0, height - 1).astype(np.int64)
    return ry * width + rx


def accumulate(acc_prev: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """One tracing step: ``Pi_t(i) = tau_t(i) + Pi_{t-1}(rint(i - tau_t(i)))``; all ``(H, W, 2)`` float32 pixels."""
    idx = reference_index(tau)
    return tau + acc_prev.reshape(-1, 2)[idx]


def warp_nearest(image: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Motion-compensate ``image`` ``(H, W, C)``: ``out_i = image[rint(i - disp_i)]`` (clipped), same dtype."""
    height, width = image.shape[:2]
    idx = reference_index(disp)
    return image.reshape(height * width, -1)[idx].reshape(image.shape)
