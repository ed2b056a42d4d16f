"""The motion-only synthetic set's renderer: ten action classes that differ only by motion (written to disk by
:mod:`.dataset`).

Each clip shows one textured object (rectangle or ellipse, random texture, size, colours) over a random static
textured background, with small Gaussian camera noise on every frame. Only the object's motion depends on the class:

    translate_right, translate_left, translate_up, translate_down, rotate_cw, rotate_ccw, zoom_in, zoom_out,
    oscillate (back and forth along a random axis), static

so one frame alone cannot tell the class. The object's pose at frame ``t`` is an affine map ``A_t`` from object
coordinates ``u`` to image pixels ``(x, y)``: ``p = c_t + s_t R(theta_t) u`` (``y`` points down, so a positive
``theta`` turns clockwise on screen). :func:`true_accumulated_motion` gives the exact movement of every object pixel
since any earlier frame, which tests compare the reader's accumulated motion vectors against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codec.resize import resize_bilinear
from ..errors import ConfigError

__all__ = ["ACTIONS", "HFLIP_CLASSES", "RenderedClip", "render_clip", "true_accumulated_motion", "motion_within_1px"]

ACTIONS = ("translate_right", "translate_left", "translate_up", "translate_down", "rotate_cw", "rotate_ccw",
           "zoom_in", "zoom_out", "oscillate", "static")
_DIRECTIONS = {"translate_right": (1, 0), "translate_left": (-1, 0), "translate_up": (0, -1),
               "translate_down": (0, 1)}


@dataclass(frozen=True)
class RenderedClip:
    """frames ``(T, H, W, 3)`` uint8; transforms ``(T, 2, 3)`` float64 (object coords -> pixels ``(x, y)``);
    object_mask ``(T, H, W)`` bool (object visible); action name."""

    frames: np.ndarray
    transforms: np.ndarray
    object_mask: np.ndarray
    action: str


# what a horizontally mirrored clip of each direction-bearing class shows (the others mirror onto themselves);
# written to meta.json so that flip augmentation swaps these labels instead of corrupting them
HFLIP_CLASSES = {"translate_right": "translate_left", "translate_left": "translate_right",
                 "rotate_cw": "rotate_ccw", "rotate_ccw": "rotate_cw"}


def _texture(rng: np.random.Generator, h: int, w: int, contrast: float = 1.0) -> np.ndarray:
    """Random texture with structure at a coarse and a fine scale, ``(h, w, 3)`` float32 in [0, 255]; ``contrast``
    in (0, 1] narrows the grey-level range (backgrounds are drawn flatter than objects)."""
    coarse = resize_bilinear(rng.uniform(0, 1, (max(2, h // 6), max(2, w // 6), 3)), w, h)
    fine = resize_bilinear(rng.uniform(0, 1, (max(2, h // 2), max(2, w // 2), 3)), w, h)
    tex = 0.55 * coarse + 0.45 * fine
    tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-6)
    mid, half_range = rng.uniform(90, 165), 120 * contrast
    return np.clip(mid + half_range * (2 * tex - 1), 0, 255).astype(np.float32)


def _poses(action: str, rng: np.random.Generator, width: int, height: int, n_frames: int, size: float,
           zoom_rate: tuple[float, float]):
    """Centre ``(T, 2)``, scale ``(T,)`` and angle ``(T,)`` of the object for every frame."""
    t = np.arange(n_frames, dtype=np.float64)
    span = max(n_frames - 1, 1)
    half = size / 2
    scale = np.ones(n_frames)
    angle = np.full(n_frames, rng.uniform(-0.3, 0.3))
    centre = np.array([rng.uniform(half, width - half), rng.uniform(half, height - half)])
    if action in _DIRECTIONS:
        d = np.array(_DIRECTIONS[action], dtype=np.float64)
        room = (width if d[0] else height) - size - 2
        # speeds on the half-pixel grid that MPEG-4 codes exactly (1 to 3 px/frame), so that the reader's
        # accumulated motion can be checked against the truth without the codec's motion quantisation drifting in
        speed = 0.5 * rng.integers(2, max(2, min(6, int(2 * room / span))) + 1)
        travel = speed * span
        lo = half + 1
        hi_x, hi_y = width - half - 1, height - half - 1
        start = np.array([rng.uniform(lo, max(lo, hi_x - (travel if d[0] > 0 else 0))) if d[0] >= 0 else
                          rng.uniform(min(hi_x, lo + travel), hi_x),
                          rng.uniform(lo, max(lo, hi_y - (travel if d[1] > 0 else 0))) if d[1] >= 0 else
                          rng.uniform(min(hi_y, lo + travel), hi_y)])
        centres = start + d * speed * t[:, None]
    elif action in ("rotate_cw", "rotate_ccw"):
        omega = np.deg2rad(rng.uniform(2.0, 5.0)) * (1 if action == "rotate_cw" else -1)
        angle = angle + omega * t
        centres = np.repeat(centre[None], n_frames, 0)
    elif action in ("zoom_in", "zoom_out"):
        # ``size`` is the largest pose; the smallest is 0.3 of it, reached at a rate of 3-5 % per frame
        rate = min(rng.uniform(*zoom_rate), (1 / 0.3) ** (1 / span) - 1)
        scale = (1 + rate) ** (t - span) if action == "zoom_in" else (1 + rate) ** (-t)
        centres = np.repeat(centre[None], n_frames, 0)
    elif action == "oscillate":
        theta = rng.uniform(0, np.pi)
        axis = np.array([np.cos(theta), np.sin(theta)])
        amp = rng.uniform(4.0, 10.0)
        period = rng.uniform(8.0, 16.0)
        phase = rng.uniform(0, 2 * np.pi)
        margin = half + amp + 1
        centre = np.array([rng.uniform(min(margin, width / 2), max(width - margin, width / 2)),
                           rng.uniform(min(margin, height / 2), max(height - margin, height / 2))])
        centres = centre + amp * np.sin(2 * np.pi * t / period + phase)[:, None] * axis
    elif action == "static":
        centres = np.repeat(centre[None], n_frames, 0)
    else:
        raise ConfigError(f"unknown action '{action}'; expected one of {', '.join(ACTIONS)}")
    return centres, scale, angle


MIN_SIDE = 32   # the smallest frame side a clip is rendered at (objects of a quarter of it still hold a texture)


def check_clip_size(width: int, height: int, n_frames: int) -> None:
    """:class:`ConfigError` for frames smaller than ``MIN_SIDE`` or a clip of fewer than 2 frames."""
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ConfigError(f"frames must be at least {MIN_SIDE}x{MIN_SIDE}, got {width}x{height}")
    if n_frames < 2:
        raise ConfigError(f"a clip needs at least 2 frames, got {n_frames}")


def render_clip(action: str, rng: np.random.Generator, width: int = 112, height: int = 112,
                n_frames: int = 36, noise_sigma: float = 2.0, zoom_rate: tuple[float, float] = (0.03, 0.05),
                object_size: tuple[float, float] | None = None, texture_fn=None) -> RenderedClip:
    """Render one clip of ``action`` (see module docstring); deterministic for a given ``rng`` state.

    ``zoom_rate`` is the range of the relative size change per frame of the zoom classes; ``object_size`` the
    range of the object's (largest) side as a fraction of the frame's shorter side (default 0.25-0.5, zooms
    0.6-0.8); ``texture_fn(rng, h, w)`` the object's texture (default: random noise at two scales)."""
    if action not in ACTIONS:
        raise ConfigError(f"unknown action '{action}'; expected one of {', '.join(ACTIONS)}")
    check_clip_size(width, height, n_frames)
    side = min(width, height)
    lo, hi = object_size or ((0.6, 0.8) if action in ("zoom_in", "zoom_out") else (0.25, 0.5))
    size = rng.uniform(lo, hi) * side
    ellipse = rng.random() < 0.5
    aspect = rng.uniform(0.6, 1.0)
    tex_n = int(np.ceil(size)) + 2
    texture = (texture_fn or _texture)(rng, tex_n, tex_n)
    background = _texture(rng, height, width, contrast=0.5)
    centres, scale, angle = _poses(action, rng, width, height, n_frames, size, zoom_rate)
    noise = rng.normal(0.0, noise_sigma, (n_frames, height, width, 3)).astype(np.float32)

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    masks = np.empty((n_frames, height, width), bool)
    transforms = np.empty((n_frames, 2, 3))
    half = size / 2
    for k in range(n_frames):
        c, s, th = centres[k], scale[k], angle[k]
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        transforms[k, :, :2] = s * rot
        transforms[k, :, 2] = c
        # inverse map: u = R(-theta) (p - c) / s
        dx, dy = xs - c[0], ys - c[1]
        u = (np.cos(th) * dx + np.sin(th) * dy) / s
        v = (-np.sin(th) * dx + np.cos(th) * dy) / s
        if ellipse:
            inside = (u / half) ** 2 + (v / (half * aspect)) ** 2 <= 1.0
        else:
            inside = (np.abs(u) <= half) & (np.abs(v) <= half * aspect)
        img = background.copy()
        tu, tv = u[inside] + half + 0.5, v[inside] + half + 0.5
        img[inside] = _bilinear(texture, tu, tv)
        frames[k] = np.clip(np.rint(img + noise[k]), 0, 255).astype(np.uint8)
        masks[k] = inside
    return RenderedClip(frames, transforms, masks, action)


def _bilinear(tex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = tex.shape[:2]
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    return ((1 - fy) * ((1 - fx) * tex[y0, x0] + fx * tex[y0, x0 + 1])
            + fy * ((1 - fx) * tex[y0 + 1, x0] + fx * tex[y0 + 1, x0 + 1]))


def true_accumulated_motion(clip: RenderedClip, t: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact movement since frame ``k`` of every object pixel of frame ``t``: ``(disp (H, W, 2) float32, valid)``.

    ``disp_i = i - p_k(i)`` where ``p_k(i)`` is where the object point now at pixel ``i`` was at frame ``k``, as
    ``(x, y)`` pixels (moving right: positive x). ``valid`` marks object pixels of frame ``t`` whose point was
    inside the frame at ``k``.
    """
    h, w = clip.object_mask.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    a_t, a_k = clip.transforms[t], clip.transforms[k]
    inv = np.linalg.inv(a_t[:, :2])
    p = np.stack([xs - a_t[0, 2], ys - a_t[1, 2]], -1) @ inv.T  # object coordinates
    q = p @ a_k[:, :2].T + a_k[:, 2]
    disp = np.stack([xs, ys], -1) - q
    valid = clip.object_mask[t] & (q[..., 0] >= 0) & (q[..., 0] <= w - 1) & (q[..., 1] >= 0) & (q[..., 1] <= h - 1)
    return disp.astype(np.float32), valid


def motion_within_1px(path: str | Path, clip: RenderedClip, erode: int) -> tuple[int, int, int]:
    """How well the video at ``path`` (an encoding of ``clip``) traces the true motion: ``(good, total, n)``,
    ``total`` interior object pixels (object masks eroded ``erode`` times) over the ``n`` P-frames read, ``good``
    of them with accumulated motion since the last keyframe within 1 px of :func:`true_accumulated_motion`.
    For the codec tests and benchmarks/codec_matrix.py: needs scipy (the ``test`` extra)."""
    from scipy import ndimage

    from ..codec import probe, read_clip

    read = read_clip(path, all_pframes=True)
    keys = probe(path).keyframes
    good = total = 0
    for k, t in enumerate(read.frame_index.tolist()):
        truth, valid = true_accumulated_motion(clip, t, int(keys[keys <= t].max()))
        inner = ndimage.binary_erosion(valid, iterations=erode)
        err = np.linalg.norm(read.mvs[k][inner] - truth[inner], axis=-1)
        good += int((err <= 1.0).sum())
        total += int(inner.sum())
    return good, total, len(read)
