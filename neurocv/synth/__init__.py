"""Synthetic action datasets, rendered and encoded as real MPEG-4 files with known motion.

* :mod:`.render`: the motion-only set's ten classes (one textured object whose motion alone tells the class), one
  clip rendered with its exact per-frame pose, and the true accumulated motion the reader's vectors are tested
  against;
* :mod:`.appearance`: the appearance-and-motion set (classes that differ by what moves, how, or both), drawn with
  the same renderer;
* :mod:`.dataset`: either set written to disk in the UCF-101 layout (``neurocv synth``).

One direction only: ``dataset`` uses ``appearance`` and ``render``; ``appearance`` uses ``render``.
"""

from .appearance import AM_CLASSES
from .dataset import KINDS, make_synthetic_dataset
from .render import ACTIONS, HFLIP_CLASSES, RenderedClip, motion_within_1px, render_clip, true_accumulated_motion

__all__ = ["ACTIONS", "AM_CLASSES", "KINDS", "HFLIP_CLASSES", "RenderedClip", "render_clip", "true_accumulated_motion",
           "motion_within_1px", "make_synthetic_dataset"]
