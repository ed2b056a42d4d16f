"""Read what a stored video already holds: I-frames, motion vectors and pixel-space residuals (the paper's Sec. 3.1).

``probe`` (:mod:`.index`) demuxes the file without decoding (fast) to learn the frame count and where the keyframes
are. ``read_clip`` then decodes (:mod:`.decoder`) only the GOPs that hold the frames it needs: it seeks to each such
GOP's keyframe and stops at the last needed frame, tracing every P-frame's motion back to the I-frame on the way
(see :mod:`.motion`).
Only the I-frame and the sampled frames are converted to RGB: frames between samples need only their motion traced.

B-frames are detected (decode order differs from display order, a B picture type, or a vector that references a
future frame) and rejected with :class:`~neurocv.errors.BFramesError`, pointing to ``neurocv transcode``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import BFramesError, UnsupportedCodecError, VideoDecodeError
from .decoder import _Decoder, rgb24
from .index import (MV_CODECS, PICT_B, PICT_I, PICT_P, _PICT_NAMES, _TRANSCODE_HINT, VideoIndex, check_traceable,
                    probe, scan_picture_types, traceable_reason)
from .motion import expand_cells, motion_cells
from .sampling import sample_positions

# probe, check_traceable, traceable_reason, scan_picture_types and MV_CODECS live in .index; named here too, where
# they were first
__all__ = ["VideoIndex", "CompressedClip", "probe", "read_clip", "iter_pframes", "scan_picture_types", "MV_CODECS",
           "check_traceable", "traceable_reason"]


@dataclass(frozen=True)
class CompressedClip:
    """One (I-frame, motion, residual) triplet per sampled P-frame, in display order.

    iframes:     ``(N, H, W, 3)`` uint8 RGB, the I-frame of each sample's GOP
    mvs:         ``(N, H, W, 2)`` float32 pixels ``(x, y)``; accumulated since the I-frame (``Pi``) or raw (``tau``)
    residuals:   ``(N, H, W, 3)`` float32, decoded frame minus motion-compensated reference (accumulated or raw)
    frame_index: ``(N,)`` int64 display positions; ``gop_index``: ``(N,)`` int64 GOP ordinals (0 = first GOP)
    """

    iframes: np.ndarray
    mvs: np.ndarray
    residuals: np.ndarray
    frame_index: np.ndarray
    gop_index: np.ndarray
    accumulated: bool = True

    def __len__(self) -> int:
        return int(self.frame_index.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "accumulated"}

    def resized(self, width: int, height: int) -> "CompressedClip":
        """Bilinear resize; motion vectors are rescaled so they stay in (new) pixels."""
        from .resize import resize_bilinear

        h0, w0 = self.iframes.shape[1:3]
        if (w0, h0) == (width, height):
            return self
        scale = np.array([width / w0, height / h0], dtype=np.float32)
        return dataclasses.replace(
            self,
            iframes=np.clip(np.rint(resize_bilinear(self.iframes.astype(np.float32), width, height)), 0, 255)
            .astype(np.uint8),
            mvs=resize_bilinear(self.mvs, width, height) * scale,
            residuals=resize_bilinear(self.residuals, width, height),
        )


def read_clip(
    path: str | Path,
    segments: int = 8,
    *,
    train: bool = False,
    rng: np.random.Generator | None = None,
    accumulate: bool = True,
    all_pframes: bool = False,
    size: tuple[int, int] | None = None,
    index: VideoIndex | None = None,
) -> CompressedClip:
    """Extract one (I-frame, motion, residual) triplet per segment (or per P-frame with ``all_pframes``).

    ``segments`` spans as in :func:`~neurocv.codec.sampling.sample_positions` (centre P-frame, or a random one with
    ``train``). ``accumulate`` traces motion and residual back to the GOP's I-frame (eqs. 1-2), else they are
    frame-to-frame. ``size=(W, H)`` resizes the outputs (native size by default).
    """
    path = Path(path)
    index = index or probe(path)
    check_traceable(index)
    p_pos = index.p_positions
    if p_pos.size == 0:
        raise VideoDecodeError(f"{path}: all-intra video (no P-frames among {index.n_frames} frames); {_TRANSCODE_HINT}")
    if all_pframes:
        positions = p_pos
    else:
        positions = sample_positions(index.n_frames, p_pos, segments, train=train, rng=rng)
    wanted = np.unique(positions)
    gops: dict[int, list[int]] = {}
    for p in wanted.tolist():
        gops.setdefault(index.gop_start(p), []).append(p)

    h, w = index.height, index.width
    slot = {p: k for k, p in enumerate(wanted.tolist())}
    iframes = np.empty((len(slot), h, w, 3), np.uint8)
    mvs = np.empty((len(slot), h, w, 2), np.float32)
    residuals = np.empty((len(slot), h, w, 3), np.float32)
    filled = np.zeros(len(slot), bool)
    for pos, iframe, mv, res in _iter_wanted(index, gops, accumulate, convert_all=all_pframes and not accumulate):
        k = slot[pos]
        iframes[k], mvs[k], residuals[k], filled[k] = iframe, mv, res, True
    if not filled.all():
        missing = wanted[~filled].tolist()
        raise VideoDecodeError(f"{path}: frames {missing[:5]} could not be decoded (truncated or corrupt stream)")
    take = np.array([slot[p] for p in positions.tolist()])
    same = take.size == len(slot) and np.array_equal(take, np.arange(take.size))
    pick = (lambda a: a) if same else (lambda a: a[take])
    clip = CompressedClip(
        iframes=pick(iframes), mvs=pick(mvs), residuals=pick(residuals),
        frame_index=positions.astype(np.int64),
        gop_index=np.array([index.gop_number(p) for p in positions.tolist()], dtype=np.int64),
        accumulated=accumulate,
    )
    return clip.resized(*size) if size is not None else clip


def iter_pframes(path: str | Path, accumulate: bool = True, index: VideoIndex | None = None
                 ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Stream every P-frame: yields ``(position, gop_number, iframe, mv, residual)`` one frame at a time.

    The same triplets as ``read_clip(all_pframes=True)`` without holding the whole video in memory.
    """
    index = index or probe(path)
    check_traceable(index)
    gops: dict[int, list[int]] = {}
    for p in index.p_positions.tolist():
        gops.setdefault(index.gop_start(p), []).append(p)
    for pos, iframe, mv, res in _iter_wanted(index, gops, accumulate, convert_all=not accumulate):
        yield pos, index.gop_number(pos), iframe, mv, res


def _iter_wanted(index: VideoIndex, gops: dict[int, list[int]], accumulate: bool, convert_all: bool):
    with _Decoder(index) as dec:
        for gop_start, want in gops.items():
            yield from _trace_gop(dec, gop_start, set(want), accumulate, convert_all)


def _trace_gop(dec: _Decoder, gop_start: int, want: set[int], accumulate: bool, convert_all: bool):
    """Decode one GOP from its keyframe up to ``max(want)``; yield ``(pos, iframe, mv, residual)`` per wanted frame."""
    from . import _kernels as K

    path = dec.index.path
    h, w = dec.index.height, dec.index.width

    def rgb_for(pos: int, pict: int) -> bool:  # I-frames, wanted frames, and the reference of a raw residual
        return pict == PICT_I or pos in want or convert_all or (not accumulate and pos + 1 in want)

    iframe = acc = spare = prev_rgb = prev_frame = None
    for item in dec.decoded(gop_start, max(want), rgb_for):
        pos, pict, cur = item.pos, item.pict, item.rgb
        if pict == PICT_B:
            raise BFramesError(f"{path}: frame {pos} is a B-frame, which neurocv does not trace; {_TRANSCODE_HINT}")
        if pict not in (PICT_I, PICT_P):  # S (MPEG-4 global motion), SI/SP, BI: vectors mean something else
            kind = _PICT_NAMES.get(pict, f"type {pict}")
            raise UnsupportedCodecError(f"{path}: frame {pos} has picture type {kind}, which neurocv does not trace; "
                                        f"{_TRANSCODE_HINT}")
        if pict == PICT_I or iframe is None:
            if pict != PICT_I:
                raise VideoDecodeError(f"{path}: GOP at frame {gop_start} does not start with an I-frame (corrupt?)")
            # An I-frame (also a non-IDR one mid-GOP) restarts the tracing: motion is measured from it.
            iframe = cur
            if acc is None:  # two tracing buffers, swapped each frame
                acc, spare = np.zeros((h, w, 2), np.float32), np.empty((h, w, 2), np.float32)
            else:
                acc[:] = 0.0
            prev_rgb, prev_frame = iframe, item.frame
            if pos in want:
                yield pos, iframe, acc.copy(), np.zeros((h, w, 3), np.float32)
            continue
        vectors = item.vectors
        if vectors is not None and np.any(vectors["source"] > 0):
            raise BFramesError(f"{path}: frame {pos} references a future frame (B-frame); {_TRANSCODE_HINT}")
        cells, g = motion_cells(vectors, h, w)
        wanted = pos in want
        if accumulate:
            if wanted:
                res = np.empty((h, w, 3), np.float32)
                K.trace_and_compensate(acc, cells, g, cur, iframe, spare, res)
                acc, spare = spare, acc
                yield pos, iframe, acc.copy(), res
            else:
                K.trace_step(acc, cells, g, spare)
                acc, spare = spare, acc
        elif wanted:
            res = np.empty((h, w, 3), np.float32)
            ref = prev_rgb if prev_rgb is not None else rgb24(prev_frame)
            K.compensate_residual(cur, ref, cells, g, res)
            yield pos, iframe, expand_cells(cells, g, h, w), res
        prev_rgb, prev_frame = cur, item.frame
