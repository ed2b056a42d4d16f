"""The dataset the model trains on: one item per video, ``segments`` (I-frame, MV, residual) triplets.

Items are dicts of ``iframes (T, 3, S, S)``, ``mvs (T, 2, S, S)``, ``residuals (T, 3, S, S)`` float32 (normalised, see
:class:`~neurocv.data.transforms.Normalization`), ``label`` (int) and ``index`` (int), where ``T = segments`` and
``S = crop``. Training mode samples a random P-frame in each segment and augments (TSN); test mode takes the centre
P-frame of each segment and the centre crop (the paper's protocol). Reads the cache where present, else extracts
on the fly. Randomness comes from torch's generator, so a seeded DataLoader replays the same items.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..codec import read_clip
from .cache import cache_path, load_cached
from .layout import VideoList, load_split
from .transforms import ClipTransform, Normalization, to_tensors

__all__ = ["CompressedVideoDataset"]


class CompressedVideoDataset(torch.utils.data.Dataset):
    def __init__(self, data: str | Path, split: str = "train", segments: int = 8, crop: int = 224,
                 train: bool | None = None, accumulate: bool = True, cache_dir: str | Path | None = None,
                 fold: int = 1, norm: Normalization = Normalization(), videos: VideoList | None = None):
        self.data = Path(data)
        self.videos = videos or load_split(self.data, split, fold)
        self.segments = segments
        self.train = (split == "train") if train is None else train
        self.accumulate = accumulate
        default_cache = (self.data.parent if self.data.is_file() else self.data) / "cache"
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache
        self.transform = ClipTransform(crop=crop, train=self.train, norm=norm)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.videos.classes

    def __len__(self) -> int:
        return len(self.videos)

    def raw_item(self, i: int, rng: np.random.Generator | None = None):
        """Un-augmented numpy arrays ``(iframes, mvs, residuals, frame_index)`` of video ``i``."""
        video, _ = self.videos.items[i]
        cached = cache_path(self.cache_dir, self.videos.root, video, self.accumulate)
        if cached.exists():
            return load_cached(cached, self.segments, self.train, rng)
        clip = read_clip(video, self.segments, train=self.train, rng=rng, accumulate=self.accumulate)
        return clip.iframes, clip.mvs, clip.residuals, clip.frame_index

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,)))) if self.train else None
        iframes, mvs, residuals, _ = self.raw_item(i, rng)
        i_t, m_t, r_t = self.transform(*to_tensors(iframes, mvs, residuals))
        return {"iframes": i_t, "mvs": m_t, "residuals": r_t, "label": self.videos.items[i][1], "index": i}
