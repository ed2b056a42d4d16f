"""TSN-style augmentation shared by all three modalities of a clip, in torch.

Training: multi-scale crop (crop side = short side x a scale from ``scales`` for height and width independently, at a
random position), resized to ``crop x crop``, then a horizontal flip with probability 1/2 that also negates the motion
vectors' x component. Test: resize the short side to ``crop * 256 / 224`` and take the centre ``crop x crop``.
Motion vectors are rescaled with the image so they stay in output pixels.

Test views (:func:`tsn_views`, ``eval --crops``), TSN's: after the same resize, ``1`` = the centre crop, ``3`` =
three crops along the long side (start, centre, end; centred on the short side), ``10`` = the four corners and the
centre, each also mirrored (a mirrored view negates the MVs' x component, like training's flip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Normalization", "ClipTransform", "to_tensors", "tsn_views", "VIEW_COUNTS"]

VIEW_COUNTS = (1, 3, 10)


@dataclass(frozen=True)
class Normalization:
    """Input scaling of each modality: ``(x - mean) / std``. I-frames are in [0, 255] grey levels, motion vectors
    in pixels, residuals in grey levels."""

    iframe_mean: float = 114.0
    iframe_std: float = 58.0
    mv_std_px: float = 8.0
    residual_std: float = 32.0


def to_tensors(iframes: np.ndarray, mvs: np.ndarray, residuals: np.ndarray) -> tuple[torch.Tensor, ...]:
    """``(T, H, W, C)`` numpy arrays -> ``(T, C, H, W)`` float32 tensors (no scaling)."""
    return tuple(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(0, 3, 1, 2).contiguous()
                 for a in (iframes, mvs, residuals))


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class ClipTransform:
    crop: int = 224
    train: bool = False
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    flip: bool = True
    norm: Normalization = Normalization()

    def __call__(self, iframes: torch.Tensor, mvs: torch.Tensor, residuals: torch.Tensor,
                 generator: torch.Generator | None = None, return_flip: bool = False):
        """Inputs ``(T, C, H, W)`` float32 (C = 3, 2, 3); outputs ``(T, C, crop, crop)`` normalised, plus whether
        the clip was mirrored when ``return_flip`` (a dataset whose labels have a direction swaps them then)."""
        h, w = iframes.shape[-2:]
        if self.train:
            def pick(n):
                return int(torch.randint(n, (1,), generator=generator))
            short = min(h, w)
            ch = max(1, min(h, int(round(short * self.scales[pick(len(self.scales))]))))
            cw = max(1, min(w, int(round(short * self.scales[pick(len(self.scales))]))))
            y0, x0 = pick(h - ch + 1), pick(w - cw + 1)
            out_h = out_w = self.crop
            flip = self.flip and pick(2) == 1
        else:
            s = self.crop * 256 / 224 / min(h, w)
            rh, rw = max(self.crop, int(round(h * s))), max(self.crop, int(round(w * s)))
            ch, cw = self.crop / s, self.crop / s
            y0, x0 = int(round((h - ch) / 2)), int(round((w - cw) / 2))
            ch, cw = int(round(ch)), int(round(cw))
            ch, cw = min(ch, h - y0), min(cw, w - x0)
            out_h = out_w = self.crop
            flip = False
            del rh, rw
        sl = (..., slice(y0, y0 + ch), slice(x0, x0 + cw))
        i, m, r = (_resize(t[sl], out_h, out_w) for t in (iframes, mvs, residuals))
        m = m * torch.tensor([out_w / cw, out_h / ch], dtype=m.dtype).view(1, 2, 1, 1)
        if flip:
            i, m, r = (t.flip(-1) for t in (i, m, r))
            m = m * torch.tensor([-1.0, 1.0], dtype=m.dtype).view(1, 2, 1, 1)
        n = self.norm
        out = (i - n.iframe_mean) / n.iframe_std, m / n.mv_std_px, r / n.residual_std
        return (*out, flip) if return_flip else out


def tsn_views(iframes: torch.Tensor, mvs: torch.Tensor, residuals: torch.Tensor, crop: int, crops: int = 1,
               norm: Normalization = Normalization()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[bool]]:
    """TSN test views of one clip (see the module doc): inputs ``(T, C, H, W)``, outputs ``(V, T, C, crop, crop)``
    normalised with ``V = crops`` (1, 3 or 10), and which views are mirrored."""
    if crops not in VIEW_COUNTS:
        raise ValueError(f"crops must be one of {VIEW_COUNTS}, got {crops}")
    h, w = iframes.shape[-2:]
    side = crop / (crop * 256 / 224 / min(h, w))     # the crop's side in input pixels, as ClipTransform rounds it
    ys, xs = (0.0, (h - side) / 2, h - side), (0.0, (w - side) / 2, w - side)
    if crops == 1:
        boxes = [(ys[1], xs[1], False)]
    elif crops == 3:
        boxes = [(ys[1], x, False) for x in xs] if w >= h else [(y, xs[1], False) for y in ys]
    else:
        five = [(ys[0], xs[0]), (ys[0], xs[2]), (ys[2], xs[0]), (ys[2], xs[2]), (ys[1], xs[1])]
        boxes = [(y, x, False) for y, x in five] + [(y, x, True) for y, x in five]
    n = norm
    views = []
    for y, x, flip in boxes:
        y0, x0 = int(round(y)), int(round(x))
        c = int(round(side))
        ch, cw = min(c, h - y0), min(c, w - x0)
        sl = (..., slice(y0, y0 + ch), slice(x0, x0 + cw))
        i, m, r = (_resize(t[sl], crop, crop) for t in (iframes, mvs, residuals))
        m = m * torch.tensor([crop / cw, crop / ch], dtype=m.dtype).view(1, 2, 1, 1)
        if flip:
            i, m, r = (t.flip(-1) for t in (i, m, r))
            m = m * torch.tensor([-1.0, 1.0], dtype=m.dtype).view(1, 2, 1, 1)
        views.append(((i - n.iframe_mean) / n.iframe_std, m / n.mv_std_px, r / n.residual_std))
    return (*(torch.stack([v[k] for v in views]) for k in range(3)), [b[2] for b in boxes])
