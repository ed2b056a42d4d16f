"""The appearance-and-motion synthetic set (``neurocv synth --kind appearance-motion``): classes that differ by
*what* moves, by *how* it moves, or by both.

Twelve classes, ``<texture>_<motion>`` for the textures ``stripes``, ``checker``, ``dots`` (the object's texture
family; shape - rectangle or ellipse -, colours, scale and orientation random in every clip) and the motions
``translate`` (one of four directions), ``rotate`` (either way), ``zoom`` (in or out), ``oscillate``. So
``stripes_translate`` and ``dots_translate`` differ only by what moves, ``stripes_translate`` and
``stripes_rotate`` only by how, ``stripes_translate`` and ``dots_rotate`` by both. Every class is closed under
mirroring (a mirrored translation or rotation is still one), so flip augmentation keeps every label.

What each input can know: one frame (an I-frame) shows the texture but hardly the motion (position and angle are
drawn from the same ranges for every motion; sizes from overlapping ones: 27-65 % of the frame's side, a zoom
sweeping 60-100 % of its own size, 1.2-1.8 % a frame): at best about 1 in 4 (25 %). That bound is one frame's: a clip's 8 segments read the I-frames of its 3 GOPs (36
frames, GOP 12), which show the object in 3 poses, so a model that reads every segment's I-frame sees some of the
motion too (stm-tiny's I-frame-only row: 36 %, ``docs/learning.md``). Motion vectors show the motion but
hardly the texture (the object's outline is the same for every texture): at best about 1 in 3 (33 %). Residuals carry
some of the texture's edges. Only appearance and motion together can tell all twelve (chance 8.3 %).
Backgrounds, camera noise and codec settings are those of the motion-only set (:mod:`neurocv.synth.render`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .render import render_clip

__all__ = ["TEXTURES", "MOTIONS", "AM_CLASSES", "render_am_clip", "texture"]

TEXTURES = ("stripes", "checker", "dots")
MOTIONS = ("translate", "rotate", "zoom", "oscillate")
AM_CLASSES = tuple(f"{t}_{m}" for t in TEXTURES for m in MOTIONS)
_VARIANTS = {"translate": ("translate_right", "translate_left", "translate_up", "translate_down"),
             "rotate": ("rotate_cw", "rotate_ccw"), "zoom": ("zoom_in", "zoom_out"), "oscillate": ("oscillate",)}
OBJECT_SIZE = (0.27, 0.65)      # of the frame's shorter side (a zoom's largest pose: ZOOM_SIZE, shrinking to ~0.6 x)
ZOOM_SIZE = (0.45, 0.65)
ZOOM_RATE = (0.012, 0.018)      # relative size change per frame: small, so a frame's size gives the zoom away rarely


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB colours in [30, 225] whose grey levels differ by at least 80 (the pattern stays visible)."""
    while True:
        a, b = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
        if abs(a.mean() - b.mean()) >= 80:
            return a.astype(np.float32), b.astype(np.float32)


def texture(family: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A ``(h, w, 3)`` float32 texture in [0, 255] of ``family``: stripes (random angle, period 5-9 px), checker
    (cells 5-9 px, random phase) or dots (radius 1.5-2.5 px, ~25 % cover) in two random colours."""
    c1, c2 = _colours(rng)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if family == "stripes":
        th, period = rng.uniform(0, np.pi), rng.uniform(5, 9)
        t = 0.5 + 0.5 * np.tanh(3 * np.sin(2 * np.pi * (xs * np.cos(th) + ys * np.sin(th)) / period))
    elif family == "checker":
        cell = rng.uniform(5, 9)
        ox, oy = rng.uniform(0, cell, 2)
        t = (np.floor((xs + ox) / cell) + np.floor((ys + oy) / cell)) % 2
    elif family == "dots":
        r = rng.uniform(1.5, 2.5)
        n = max(1, int(0.25 * h * w / (np.pi * r * r)))
        cx, cy = rng.uniform(0, w, n), rng.uniform(0, h, n)
        t = np.zeros((h, w), np.float32)
        for x0, y0 in zip(cx, cy):
            t = np.maximum(t, ((xs - x0) ** 2 + (ys - y0) ** 2 <= r * r).astype(np.float32))
    else:
        raise ConfigError(f"unknown texture family {family!r}; expected one of {', '.join(TEXTURES)}")
    return (c1 * (1 - t[..., None]) + c2 * t[..., None]).astype(np.float32)


def render_am_clip(cls: str, rng: np.random.Generator, width: int = 112, height: int = 112, n_frames: int = 36):
    """Render one clip of class ``cls`` (``<texture>_<motion>``, see the module doc); a :class:`RenderedClip`."""
    if cls not in AM_CLASSES:
        raise ConfigError(f"unknown class {cls!r}; expected one of {', '.join(AM_CLASSES)}")
    family, motion = cls.split("_")
    variants = _VARIANTS[motion]
    action = variants[int(rng.integers(len(variants)))]
    zoom = motion == "zoom"
    return render_clip(action, rng, width, height, n_frames, zoom_rate=ZOOM_RATE,
                       object_size=ZOOM_SIZE if zoom else OBJECT_SIZE,
                       texture_fn=lambda g, h, w: texture(family, g, h, w))
