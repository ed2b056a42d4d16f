"""A synthetic action dataset whose ten classes differ only by motion, encoded as real MPEG-4 files.

Each clip shows one textured object (rectangle or ellipse, random texture, size, orientation, colours) over a random
static textured background, with Gaussian camera noise on every frame. Only the object's motion depends on the class:

    translate_right, translate_left, translate_up, translate_down, rotate_cw, rotate_ccw, zoom_in, zoom_out,
    oscillate (back and forth along a random axis), static

so one frame alone cannot tell the class: the appearance (textures, shape, orientation, noise) is drawn first, from
the same distributions and in the same order for every class, and the object's size stays in the same range
(``object_size`` of the frame's shorter side) in every frame of every class, zooms included.

The object's pose at frame ``t`` is an affine map ``A_t`` from object coordinates ``u`` (texture pixels of the
object's largest pose, origin at its centre) to image pixels ``(x, y)``: ``p = c_t + s_t R(theta_t) u`` with
``s_t <= 1``; ``y`` points down, so a growing ``theta`` turns clockwise on screen. :func:`true_accumulated_motion`
gives the exact movement of every object pixel since any other frame, to check the reader's accumulated motion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._io import atomic_open
from .codec.encode import write_video
from .codec.resize import resize_bilinear
from .errors import ConfigError, DatasetError

__all__ = ["ACTIONS", "RenderedClip", "render_clip", "true_accumulated_motion", "make_synthetic_dataset"]

ACTIONS = ("translate_right", "translate_left", "translate_up", "translate_down", "rotate_cw", "rotate_ccw",
           "zoom_in", "zoom_out", "oscillate", "static")
_DIRECTIONS = {"translate_right": (1, 0), "translate_left": (-1, 0), "translate_up": (0, -1),
               "translate_down": (0, 1)}
# Motion ranges (recorded in meta.json). Translation speeds are drawn on MPEG-4's half-pixel grid, which the codec
# codes exactly, and capped so the object stays inside the frame; the zoom rate is capped so the object's size
# stays within ``object_size`` for the whole clip.
_SPEED_PX = (1.0, 3.0)            # px/frame
_ROTATION_DEG = (2.0, 5.0)        # deg/frame
_ZOOM_RATE = (0.015, 0.03)        # relative size change per frame
_OSCILLATION_PX = (4.0, 10.0)     # amplitude, px
_OSCILLATION_PERIOD = (8.0, 16.0)  # frames
_OBJECT_SIZE = (0.25, 0.5)        # longest side / the frame's shorter side
_GENERATOR_VERSION = 2


@dataclass(frozen=True)
class RenderedClip:
    """One rendered clip.

    frames: ``(T, H, W, 3)`` uint8 RGB; transforms: ``(T, 2, 3)`` float64 affine maps from object coordinates to
    image pixels ``(x, y)``; object_mask: ``(T, H, W)`` bool, where the object is visible; action: class name.
    """

    frames: np.ndarray
    transforms: np.ndarray
    object_mask: np.ndarray
    action: str


@dataclass(frozen=True)
class _Shape:
    """A rectangle or ellipse with half-axes ``a >= b`` in object coordinates (pixels at scale 1)."""

    a: float
    b: float
    ellipse: bool

    def inside(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self.ellipse:
            return (u / self.a) ** 2 + (v / self.b) ** 2 <= 1.0
        return (np.abs(u) <= self.a) & (np.abs(v) <= self.b)

    def extent(self, angle: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Half-width and half-height ``(T, 2)`` in pixels of the object's bounding box at each pose."""
        c, s = np.abs(np.cos(angle)), np.abs(np.sin(angle))
        if self.ellipse:
            ex, ey = np.hypot(self.a * c, self.b * s), np.hypot(self.a * s, self.b * c)
        else:
            ex, ey = self.a * c + self.b * s, self.a * s + self.b * c
        return np.stack([ex, ey], -1) * scale[:, None]


def _texture(rng: np.random.Generator, h: int, w: int, contrast: float = 1.0) -> np.ndarray:
    """Random colour texture with structure at a coarse and a fine scale, ``(h, w, 3)`` float32 in [0, 255];
    ``contrast`` in (0, 1] narrows the grey-level range (backgrounds are flatter than objects)."""
    coarse = resize_bilinear(rng.uniform(0, 1, (max(2, h // 6), max(2, w // 6), 3)), w, h)
    fine = resize_bilinear(rng.uniform(0, 1, (max(2, h // 2), max(2, w // 2), 3)), w, h)
    tex = 0.55 * coarse + 0.45 * fine
    tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-6)
    mid, half_range = rng.uniform(90, 165), 120 * contrast
    return np.clip(mid + half_range * (2 * tex - 1), 0, 255).astype(np.float32)


def _sizes(action: str, size_u: float, rng: np.random.Generator, n_frames: int, lo: float, hi: float,
           zoom_rate: tuple[float, float]) -> np.ndarray:
    """The object's longest side at each frame ``(T,)`` in pixels, within ``[lo, hi]``. ``size_u`` in [0, 1) places
    the size (non-zoom) or the zoom's path (zooms) log-uniformly in that range."""
    span = max(n_frames - 1, 1)
    if action not in ("zoom_in", "zoom_out"):
        return np.full(n_frames, lo * (hi / lo) ** size_u)
    max_rate = (hi / lo) ** (1 / span) - 1
    rate = rng.uniform(zoom_rate[0], min(zoom_rate[1], max_rate)) if max_rate > zoom_rate[0] else max_rate
    log_path = np.arange(n_frames) * np.log1p(rate)  # growing; zoom_out runs it backwards
    log_start = np.log(lo) + size_u * (np.log(hi / lo) - log_path[-1])
    return np.exp(log_start + (log_path if action == "zoom_in" else log_path[::-1]))


def _speed(rng: np.random.Generator, room: float, span: int) -> float:
    """A translation speed in px/frame on the half-pixel grid in ``_SPEED_PX`` that covers at most ``room`` px."""
    grid = np.arange(_SPEED_PX[0], _SPEED_PX[1] + 0.25, 0.5)
    fits = grid[grid * span <= room]
    if fits.size == 0:  # too little room: as slow as the grid allows, the object leaves the frame a little
        return max(0.5, np.floor(2 * room / span) / 2)
    return float(rng.choice(fits))


def _path(action: str, rng: np.random.Generator, n_frames: int, room: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre offsets from the first frame ``(T, 2)`` px and angle offsets ``(T,)`` rad; ``room`` ``(2,)`` is the
    free travel along x and y for the object's pose."""
    t = np.arange(n_frames, dtype=np.float64)
    offsets, turn = np.zeros((n_frames, 2)), np.zeros(n_frames)
    if action in _DIRECTIONS:
        d = np.array(_DIRECTIONS[action], dtype=np.float64)
        offsets = d * _speed(rng, float(room[0] if d[0] else room[1]), max(n_frames - 1, 1)) * t[:, None]
    elif action in ("rotate_cw", "rotate_ccw"):
        turn = np.deg2rad(rng.uniform(*_ROTATION_DEG)) * (1 if action == "rotate_cw" else -1) * t
    elif action == "oscillate":
        axis_angle, amp = rng.uniform(0, np.pi), rng.uniform(*_OSCILLATION_PX)
        period, phase = rng.uniform(*_OSCILLATION_PERIOD), rng.uniform(0, 2 * np.pi)
        wave = amp * (np.sin(2 * np.pi * t / period + phase) - np.sin(phase))
        offsets = wave[:, None] * np.array([np.cos(axis_angle), np.sin(axis_angle)])
    return offsets, turn


def _place(rng: np.random.Generator, extent: np.ndarray, offsets: np.ndarray, width: int, height: int) -> np.ndarray:
    """A first-frame centre ``(2,)`` that keeps the object's bounding box ``extent`` ``(T, 2)`` inside the frame at
    every offset; the middle of the (empty) range when no such centre exists."""
    limit = np.array([width, height], dtype=np.float64) - 0.5
    lo = (extent - offsets).max(0) - 0.5
    hi = (limit - extent - offsets).min(0)
    return np.where(lo <= hi, lo + rng.uniform(0, 1, 2) * (hi - lo), (lo + hi) / 2)


def render_clip(action: str, rng: np.random.Generator, width: int = 112, height: int = 112,
                n_frames: int = 36, noise_sigma: float = 2.0, zoom_rate: tuple[float, float] = _ZOOM_RATE,
                object_size: tuple[float, float] | None = None) -> RenderedClip:
    """Render one clip of ``action`` (see the module docstring); deterministic for a given ``rng`` state.

    width, height: frame size in pixels (>= 32); n_frames: clip length (>= 2); noise_sigma: camera noise in grey
    levels; zoom_rate: range of the zooms' relative size change per frame (capped so the size stays in range);
    object_size: range of the object's longest side as a fraction of the frame's shorter side (default 0.25-0.5).
    Pixels are rendered by inverse mapping with bilinear texture lookups.
    """
    if action not in ACTIONS:
        raise ConfigError(f"unknown action '{action}'; expected one of {', '.join(ACTIONS)}")
    if width < 32 or height < 32:
        raise ConfigError(f"frames must be at least 32x32 pixels, got {width}x{height}")
    if n_frames < 2:
        raise ConfigError(f"a clip needs at least 2 frames, got {n_frames}")
    lo, hi = object_size or _OBJECT_SIZE
    if not 0 < lo <= hi <= 1:
        raise ConfigError(f"object_size must satisfy 0 < low <= high <= 1, got {object_size}")
    side = min(width, height)
    # appearance first, identical draws for every class
    shape_size_u, aspect, ellipse = rng.random(), rng.uniform(0.6, 1.0), bool(rng.random() < 0.5)
    angle0 = rng.uniform(-np.pi, np.pi)
    background = _texture(rng, height, width, contrast=0.5)
    noise = rng.normal(0.0, noise_sigma, (n_frames, height, width, 3)).astype(np.float32)
    sizes = _sizes(action, shape_size_u, rng, n_frames, lo * side, hi * side, zoom_rate)
    half = sizes.max() / 2
    shape = _Shape(half, half * aspect, ellipse)
    texture = _texture(rng, int(np.ceil(2 * half)) + 3, int(np.ceil(2 * half)) + 3)
    # motion
    scale = sizes / sizes.max()
    room = np.array([width, height]) - 2 * shape.extent(np.array([angle0]), scale[:1])[0] - 1
    offsets, turn = _path(action, rng, n_frames, room)
    angle = angle0 + turn
    centres = _place(rng, shape.extent(angle, scale), offsets, width, height) + offsets
    transforms = _affine(centres, scale, angle)
    frames, masks = _draw(transforms, shape, texture, background, noise)
    return RenderedClip(frames, transforms, masks, action)


def _affine(centres: np.ndarray, scale: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``(T, 2, 3)`` maps ``p = c + s R(angle) u`` from object coordinates to pixels."""
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.stack([np.stack([c, -s, centres[:, 0]], -1), np.stack([s, c, centres[:, 1]], -1)], 1)


def _object_coords(transforms: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Object coordinates ``(u, v)``, each ``(T, H, W)``, of every pixel of every frame (inverse affine maps)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    inv = np.linalg.inv(transforms[:, :, :2])  # (T, 2, 2)
    dx = xs[None] - transforms[:, 0, 2, None, None]
    dy = ys[None] - transforms[:, 1, 2, None, None]
    u = inv[:, 0, 0, None, None] * dx + inv[:, 0, 1, None, None] * dy
    v = inv[:, 1, 0, None, None] * dx + inv[:, 1, 1, None, None] * dy
    return u, v


def _draw(transforms: np.ndarray, shape: _Shape, texture: np.ndarray, background: np.ndarray,
          noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(T, H, W, 3)`` uint8 and object masks ``(T, H, W)`` bool: the object over the background, plus
    noise."""
    n_frames, height, width = noise.shape[:3]
    u, v = _object_coords(transforms, height, width)
    masks = shape.inside(u, v)
    img = np.broadcast_to(background, noise.shape).copy()
    centre = (texture.shape[0] - 1) / 2
    img[masks] = _bilinear(texture, u[masks] + centre, v[masks] + centre)
    return np.clip(np.rint(img + noise), 0, 255).astype(np.uint8), masks


def _bilinear(tex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``tex`` ``(h, w, C)`` at float pixel positions ``x, y`` ``(N,)``; returns ``(N, C)``."""
    h, w = tex.shape[:2]
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    return ((1 - fy) * ((1 - fx) * tex[y0, x0] + fx * tex[y0, x0 + 1])
            + fy * ((1 - fx) * tex[y0 + 1, x0] + fx * tex[y0 + 1, x0 + 1]))


def true_accumulated_motion(clip: RenderedClip, t: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact movement since frame ``k`` of every object pixel of frame ``t``: ``(disp (H, W, 2) float32, valid
    (H, W) bool)``.

    ``disp_i = i - p_k(i)`` where ``p_k(i)`` is where the object point now at pixel ``i`` was at frame ``k``, as
    ``(x, y)`` pixels (moving right: positive x). ``valid`` marks object pixels of frame ``t`` whose point was
    inside the frame, hence visible on the object, at frame ``k``; ``disp`` is 0 elsewhere.
    """
    n_frames, h, w = clip.object_mask.shape
    if not (0 <= t < n_frames and 0 <= k < n_frames):
        raise ConfigError(f"frames t={t} and k={k} must lie in 0..{n_frames - 1}")
    u, v = (a[0] for a in _object_coords(clip.transforms[t:t + 1], h, w))
    a_k = clip.transforms[k]
    qx = a_k[0, 0] * u + a_k[0, 1] * v + a_k[0, 2]
    qy = a_k[1, 0] * u + a_k[1, 1] * v + a_k[1, 2]
    ys, xs = np.mgrid[0:h, 0:w]
    valid = clip.object_mask[t] & (qx >= -0.5) & (qx <= w - 0.5) & (qy >= -0.5) & (qy <= h - 0.5)
    disp = np.stack([xs - qx, ys - qy], -1)
    return np.where(valid[..., None], disp, 0).astype(np.float32), valid
