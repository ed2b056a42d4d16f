"""The dataset the model trains on: one item per video, ``segments`` (I-frame, MV, residual) triplets.

Items are dicts of ``iframes (T, 3, S, S)``, ``mvs (T, 2, S, S)``, ``residuals (T, 3, S, S)`` float32 (normalised, see
:class:`~neurocv.data.transforms.Normalization`), ``label`` (int) and ``index`` (int), where ``T = segments`` and
``S = crop``. A horizontal flip mirrors directions: where the dataset's ``meta.json`` holds ``hflip_classes`` (a map
class -> the class its mirror image belongs to, e.g. ``translate_left -> translate_right``), a flipped training item
takes the mirrored label; without that map flipping is assumed to keep the label (UCF-101, HMDB-51). Training mode
samples a random P-frame in each segment and augments (TSN); test mode takes the centre P-frame of each segment
and the centre crop (the paper's protocol); ``crops`` 3 or 10 gives TSN's test views instead (items then hold
``(V, T, C, S, S)`` tensors and ``flipped (V,)``, see :func:`~neurocv.data.transforms.tsn_views`). ``fold`` (1-3)
picks UCF-101's / HMDB-51's official split. Reads the cache where present, else extracts on the fly. Randomness
comes from torch's generator, so a seeded DataLoader replays the same items.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..codec import read_clip
from ..errors import DatasetError, NeuroCVError, VideoDecodeError
from .cache import cache_path, known_failure, load_cached
from .layout import VideoList, load_split
from .transforms import ClipTransform, Normalization, to_tensors

__all__ = ["CompressedVideoDataset"]


class CompressedVideoDataset(torch.utils.data.Dataset):
    def __init__(self, data: str | Path, split: str = "train", segments: int = 8, crop: int = 224,
                 train: bool | None = None, accumulate: bool = True, cache_dir: str | Path | None = None,
                 fold: int = 1, norm: Normalization = Normalization(), videos: VideoList | None = None,
                 crops: int = 1, skip_bad: bool = False):
        from .transforms import VIEW_COUNTS

        if crops not in VIEW_COUNTS:
            raise DatasetError(f"{data}: crops must be one of {', '.join(map(str, VIEW_COUNTS))}, got {crops}")
        self.data = Path(data)
        # skip_bad: a video that cannot be read (recorded as failed by `neurocv cache`, or failing now) gives
        # ``{"index": i, "error": message}`` instead of raising, for the training and evaluation loops to skip
        self.skip_bad = skip_bad
        self.known_bad: dict[str, str] = {}  # video -> reason, filled by the training loop: not decoded again
        self.crops = crops
        self.fold = fold
        self.videos = videos or load_split(self.data, split, fold)
        self.segments = segments
        self.train = (split == "train") if train is None else train
        self.accumulate = accumulate
        self.root = self.data.parent if self.data.is_file() else self.data    # holds cache/ and meta.json
        self.cache_dir = Path(cache_dir) if cache_dir else self.root / "cache"
        self.transform = ClipTransform(crop=crop, train=self.train, norm=norm)
        self.flip_label = self._flip_map()

    def _flip_map(self) -> list[int]:
        """Label -> label of the horizontally mirrored clip (identity unless ``meta.json`` says otherwise)."""
        import json

        classes = list(self.classes)
        mapping = list(range(len(classes)))
        meta = self.root / "meta.json"
        if meta.is_file():
            try:
                pairs = json.loads(meta.read_text()).get("hflip_classes", {})
            except (OSError, ValueError, AttributeError) as exc:
                raise DatasetError(f"{meta}: unreadable dataset metadata ({exc})") from None
            for a, b in pairs.items():
                if a not in classes or b not in classes:
                    raise DatasetError(f"{meta}: hflip_classes maps {a!r} -> {b!r}, not both classes of the split")
                mapping[classes.index(a)] = classes.index(b)
        return mapping

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
        reason = self.known_bad.get(str(video)) or known_failure(cached, video)
        if reason is not None:  # `neurocv cache` failed on this very file: don't decode it again
            raise VideoDecodeError(reason if str(video) in reason else f"{video}: {reason}")
        clip = read_clip(video, self.segments, train=self.train, rng=rng, accumulate=self.accumulate)
        return clip.iframes, clip.mvs, clip.residuals, clip.frame_index

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,)))) if self.train else None
        try:
            iframes, mvs, residuals, _ = self.raw_item(i, rng)
        except NeuroCVError as exc:
            if not self.skip_bad:
                raise
            return {"index": i, "error": str(exc), "video": str(self.videos.items[i][0])}
        label = self.videos.items[i][1]
        if self.crops > 1 and not self.train:
            from .transforms import tsn_views

            i_t, m_t, r_t, flips = tsn_views(*to_tensors(iframes, mvs, residuals), self.transform.crop, self.crops,
                                              self.transform.norm)
            return {"iframes": i_t, "mvs": m_t, "residuals": r_t, "label": label, "index": i,
                    "flipped": torch.tensor(flips)}
        i_t, m_t, r_t, flipped = self.transform(*to_tensors(iframes, mvs, residuals), return_flip=True)
        return {"iframes": i_t, "mvs": m_t, "residuals": r_t, "label": self.flip_label[label] if flipped else label,
                "index": i}
