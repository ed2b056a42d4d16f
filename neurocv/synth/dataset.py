"""Write a synthetic set to disk in the UCF-101 layout, as real MPEG-4 files: the motion-only classes
(:mod:`.render`) or the appearance-and-motion ones (:mod:`.appearance`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._io import atomic_open
from ..codec.encode import write_video
from ..errors import ConfigError
from .appearance import AM_CLASSES, render_am_clip
from .render import ACTIONS, HFLIP_CLASSES, check_clip_size, render_clip

__all__ = ["KINDS", "DEFAULT_VIDEOS_PER_CLASS", "make_synthetic_dataset"]

KINDS = ("motion", "appearance-motion")
# videos per class when none is given: the appearance-and-motion set has twice the motion set's, since the training
# recipe learns its rare clips (a stripes translation whose MVs zigzag) only from more examples (docs/learning.md, 11)
DEFAULT_VIDEOS_PER_CLASS = {"motion": 24, "appearance-motion": 48}


def make_synthetic_dataset(out_dir: str | Path, videos_per_class: int | None = None, test_fraction: float = 0.25,
                           width: int = 112, height: int = 112, n_frames: int = 36, fps: int = 25, seed: int = 0,
                           progress: bool = True, kind: str = "motion") -> Path:
    """Write the dataset in the UCF-101 layout (``videos/<class>/<class>_NNN.mp4``, ``splits/classInd.txt``,
    ``splits/trainlist01.txt``, ``splits/testlist01.txt``, ``meta.json``); deterministic for a seed.
    ``kind``: ``motion`` (the ten motion classes above) or ``appearance-motion`` (twelve classes that differ by
    what moves, how, or both: :mod:`neurocv.synth.appearance`). ``videos_per_class``: default
    ``DEFAULT_VIDEOS_PER_CLASS[kind]`` (24 for ``motion``, 48 for ``appearance-motion``).

    Videos already present are kept (a killed run resumes); each file is written atomically.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if videos_per_class is None:
        videos_per_class = DEFAULT_VIDEOS_PER_CLASS[kind]
    if videos_per_class < 2:
        raise ConfigError(f"videos_per_class must be >= 2 (one train, one test), got {videos_per_class}")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if width % 2 or height % 2:
        raise ConfigError(f"width and height must be even for MPEG-4, got {width}x{height}")
    check_clip_size(width, height, n_frames)   # before the progress bar starts, not at the first clip
    classes, render = (AM_CLASSES, render_am_clip) if kind == "appearance-motion" else (ACTIONS, render_clip)
    out_dir = Path(out_dir)
    n_test = min(videos_per_class - 1, max(1, int(round(videos_per_class * test_fraction))))
    train_lines, test_lines = [], []
    jobs = []
    for c, action in enumerate(classes):
        for v in range(videos_per_class):
            rel = f"{action}/{action}_{v:03d}.mp4"
            (test_lines if v >= videos_per_class - n_test else train_lines).append((rel, c + 1))
            jobs.append((c, v, action, rel))
    from rich.console import Console
    from rich.progress import Progress

    with Progress(disable=not progress, console=Console(stderr=True)) as bar:   # stdout is for results
        task = bar.add_task("rendering synthetic videos", total=len(jobs))
        for c, v, action, rel in jobs:
            target = out_dir / "videos" / rel
            if not target.exists():
                rng = np.random.default_rng(np.random.SeedSequence([seed, c, v]))
                clip = render(action, rng, width, height, n_frames)
                write_video(target, clip.frames, fps=fps, codec="mpeg4", gop_size=12, max_b_frames=0, qscale=2,
                            four_mv=True)
            bar.advance(task)
    splits = out_dir / "splits"
    with atomic_open(splits / "classInd.txt", "w") as fh:
        fh.writelines(f"{k + 1} {a}\n" for k, a in enumerate(classes))
    with atomic_open(splits / "trainlist01.txt", "w") as fh:
        fh.writelines(f"{rel} {label}\n" for rel, label in train_lines)
    with atomic_open(splits / "testlist01.txt", "w") as fh:
        fh.writelines(f"{rel}\n" for rel, _ in test_lines)
    meta = {"generator": "neurocv.synth", "kind": kind, "classes": list(classes), "videos_per_class": videos_per_class,
            "train": len(train_lines), "test": len(test_lines), "width": width, "height": height,
            "frames": n_frames, "fps": fps, "seed": seed, "codec": "mpeg4", "gop": 12, "b_frames": 0,
            "hflip_classes": HFLIP_CLASSES if kind == "motion" else {}}
    if kind == "appearance-motion":
        meta["factors"] = {c: dict(zip(("what", "how"), c.split("_"))) for c in classes}
    with atomic_open(out_dir / "meta.json", "w") as fh:
        json.dump(meta, fh, indent=1)
    return out_dir
