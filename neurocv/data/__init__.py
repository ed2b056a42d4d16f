"""Datasets of compressed videos: split layouts, TSN augmentation, on-the-fly extraction and the offline cache."""

from .cache import cache_dataset, cache_path, extract_to_cache, load_cached
from .layout import VideoList, load_split

__all__ = ["VideoList", "cache_dataset", "cache_path", "extract_to_cache", "load_cached", "load_split"]


def __getattr__(name):  # the torch-based parts load lazily so that `neurocv cache` does not import torch
    if name in ("CompressedVideoDataset",):
        from .dataset import CompressedVideoDataset

        return CompressedVideoDataset
    if name in ("ClipTransform", "Normalization"):
        from . import transforms

        return getattr(transforms, name)
    raise AttributeError(name)
