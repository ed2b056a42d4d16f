"""Compressed-domain video: reading I-frames, motion vectors and residuals (:mod:`.reader`, on :mod:`.index` for
what demuxing tells and :mod:`.decoder` for the frames), tracing them back to the I-frame (:mod:`.motion`), segment
sampling (:mod:`.sampling`) and re-encoding (:mod:`.encode`)."""

from .motion import accumulate, dense_motion, warp_nearest
from .reader import CompressedClip, VideoIndex, check_traceable, iter_pframes, probe, read_clip, scan_picture_types
from .sampling import sample_positions

__all__ = [
    "CompressedClip", "VideoIndex", "accumulate", "check_traceable", "dense_motion", "iter_pframes", "probe", "read_clip",
    "sample_positions", "scan_picture_types", "warp_nearest",
]
