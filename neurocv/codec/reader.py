"""Read what a stored video already holds: I-frames, motion vectors and pixel-space residuals (the paper's Sec. 3.1).

``probe`` demuxes the file without decoding (fast) to learn the frame count and where the keyframes are.
``read_clip`` then decodes only the GOPs that hold the frames it needs: it seeks to each such GOP's keyframe and stops
at the last needed frame, tracing every P-frame's motion back to the I-frame on the way (see :mod:`.motion`).
Only the I-frame and the sampled frames are converted to RGB: frames between samples need only their motion traced.

B-frames are detected (decode order differs from display order, a B picture type, or a vector that references a
future frame) and rejected with :class:`~neurocv.errors.BFramesError`, pointing to ``neurocv transcode``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import BFramesError, UnsupportedCodecError, VideoDecodeError
from .motion import expand_cells, motion_cells
from .sampling import sample_positions

__all__ = ["VideoIndex", "CompressedClip", "probe", "read_clip", "iter_pframes", "scan_picture_types", "MV_CODECS"]

# FFmpeg decoders that honour flags2=+export_mvs (the mpegvideo family and H.264). HEVC, VP9, AV1 ... export none.
# These are FFmpeg's *decoder* names, which is what a stream's codec context reports: Sorenson H.263 is ``flv`` (its
# codec id is flv1) and MS-MPEG4 v3 (DivX 3) is ``msmpeg4`` (id msmpeg4v3); a test checks each against FFmpeg.
MV_CODECS = frozenset({
    "mpeg4", "h264", "mpeg1video", "mpeg2video", "h263", "h263p", "h263i", "flv",
    "msmpeg4v1", "msmpeg4v2", "msmpeg4", "wmv1", "wmv2",
})
# Demuxers whose timestamp seeking is unreliable (MPEG program/transport streams seek by byte position and can land a
# GOP late or mid-GOP) or impossible (raw elementary streams): these are decoded sequentially from the start.
_SEQUENTIAL_FORMATS = frozenset({"mpeg", "mpegts", "mpegtsraw", "vob", "mpegvideo", "m4v", "h264", "h263",
                                 "cavsvideo", "rawvideo"})
PICT_I, PICT_P, PICT_B = 1, 2, 3
_PICT_NAMES = {0: "untyped", 4: "S (MPEG-4 global motion compensation)", 5: "SI", 6: "SP", 7: "BI"}
_TRANSCODE_HINT = "re-encode it with `neurocv transcode IN OUT` (MPEG-4 Part 2, GOP 12, no B-frames)"


def _av():
    import av  # imported lazily: `neurocv --help` and the Lava worker need no FFmpeg

    return av


@dataclass(frozen=True)
class VideoIndex:
    """What demuxing (no decoding) tells about a video stream.

    ``pts`` is ``(n_frames,)`` presentation timestamps in display order (None when the stream carries none, as raw
    elementary streams may); ``keyframes`` the display positions of keyframe packets; ``reordered`` True when decode
    order differs from display order (B-frames).
    """

    path: Path
    codec: str
    width: int
    height: int
    fps: float
    n_frames: int
    keyframes: np.ndarray
    pts: np.ndarray | None
    reordered: bool
    decoder_delay: int
    ref_frames: int | None = None   # H.264: the SPS's max_num_ref_frames (largest over the stream's SPSs); else None
    skips_references: bool = False  # H.264: a P-frame follows a non-reference frame (predicts from an older one)
    container: str = ""             # FFmpeg's demuxer name (e.g. "mov,mp4,m4a,3gp,3g2,mj2", "avi", "mpeg")
    keyframes_from: str = "container"  # "container" flags, or "decoded" picture types where the flags lie

    @property
    def sequential(self) -> bool:
        """True where the reader decodes from the start instead of seeking (no timestamps, or MPEG-PS/TS)."""
        return self.pts is None or bool(set(self.container.split(",")) & _SEQUENTIAL_FORMATS)

    @property
    def p_positions(self) -> np.ndarray:
        """Positions of the frames after the first keyframe that are not keyframes (P-frames when there are no B)."""
        if self.keyframes.size == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.arange(self.keyframes[0], self.n_frames, dtype=np.int64)
        return pos[~np.isin(pos, self.keyframes)]

    def gop_start(self, pos: int) -> int:
        """Display position of the keyframe that opens the GOP holding ``pos``."""
        k = np.searchsorted(self.keyframes, pos, side="right") - 1
        if k < 0:
            raise VideoDecodeError(f"{self.path}: frame {pos} precedes the first keyframe")
        return int(self.keyframes[k])

    def gop_number(self, pos: int) -> int:
        return int(np.searchsorted(self.keyframes, pos, side="right") - 1)


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


def _open(path: Path):
    av = _av()
    if not path.exists():
        raise VideoDecodeError(f"{path}: file not found")
    if path.is_dir():
        raise VideoDecodeError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: empty file")
    try:
        container = av.open(str(path), "r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoDecodeError(f"{path}: not a readable video ({exc.__class__.__name__}: {exc})") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise VideoDecodeError(f"{path}: no video stream (streams found: {', '.join(kinds)})")
    return container


def probe(path: str | Path) -> VideoIndex:
    """Demux ``path`` and index its frames and keyframes. Raises VideoDecodeError on unusable files.

    Demuxing alone (no decoding) gives the frame count, the display order and the keyframe flags, and for H.264 the
    SPS's reference frame count. Where every packet is flagged as a keyframe (AVI muxers do this for H.263), the
    flags are checked against the decoded picture types, and the I-frames found there become the keyframes.
    """
    av = _av()
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None:  # FFmpeg has no decoder for this stream (an unknown or damaged codec tag)
            raise UnsupportedCodecError(f"{path}: FFmpeg has no decoder for its video stream (unknown codec, or a "
                                        f"damaged header); re-encode it with a tool that reads it, then "
                                        f"`neurocv transcode` if needed")
        codec = ctx.name
        is_h264 = codec == "h264"
        if is_h264:
            from .h264 import ReferenceScan, avcc_length_size, packet_nals, sps_in_extradata, sps_nals

            extradata = ctx.extradata
            sps = sps_in_extradata(extradata)
            length_size = avcc_length_size(extradata)
            refs = ReferenceScan()
        pts_list: list[int | None] = []
        keys: list[bool] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                pts_list.append(packet.pts)
                key = bool(packet.is_keyframe)
                keys.append(key)
                if is_h264:
                    nals = packet_nals(bytes(packet), length_size)
                    sps += sps_nals(nals)
                    refs.add(nals, key)
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(f"{path}: truncated or corrupt container after {len(keys)} packets ({exc})") from None
        if not keys:
            raise VideoDecodeError(f"{path}: the video stream holds no frames (empty or truncated file)")
        have_pts = all(p is not None for p in pts_list)
        if have_pts:
            arr = np.asarray(pts_list, dtype=np.int64)
            order = np.argsort(arr, kind="stable")
            reordered = bool(np.any(np.diff(arr) < 0))
            key_arr = np.asarray(keys)[order]
            pts = arr[order]
            if np.unique(pts).size != pts.size:  # duplicate timestamps cannot place frames: decode in order
                pts = None
        else:
            reordered = False
            key_arr = np.asarray(keys)
            pts = None
        keyframes = np.flatnonzero(key_arr).astype(np.int64)
        if keyframes.size == 0:
            raise VideoDecodeError(f"{path}: no keyframe in the stream (truncated at the start?)")
        ref_frames = None
        if is_h264:
            from .h264 import sps_max_ref_frames

            counts = []
            for nal in sps:
                try:
                    counts.append(sps_max_ref_frames(nal))
                except ValueError:
                    pass
            ref_frames = max(counts) if counts else None
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        index = VideoIndex(
            path=path, codec=codec, width=int(ctx.width), height=int(ctx.height), fps=fps,
            n_frames=len(keys), keyframes=keyframes, pts=pts, reordered=reordered,
            decoder_delay=int(getattr(ctx, "has_b_frames", 0) or 0), ref_frames=ref_frames,
            skips_references=bool(is_h264 and refs.skips),
            container=str(container.format.name or ""),
        )
    finally:
        container.close()
    if index.n_frames > 1 and index.keyframes.size == index.n_frames and codec in MV_CODECS:
        # every packet flagged as a keyframe: an all-intra stream, or a muxer that flags everything (H.263 in AVI)
        types = _decoded_types(index)
        intra = np.flatnonzero(types == PICT_I).astype(np.int64)
        if intra.size and intra.size < index.n_frames:
            index = dataclasses.replace(index, keyframes=intra, keyframes_from="decoded")
    return index


def _decoded_types(index: VideoIndex) -> np.ndarray:
    """Decode every frame (no conversion, no motion vectors): ``(n_frames,)`` picture types (1 I, 2 P, 3 B, 0 none)."""
    av = _av()
    types = np.zeros(index.n_frames, dtype=np.int8)
    container = _open(index.path)
    n = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        pos_of = None if index.pts is None else {int(p): i for i, p in enumerate(index.pts)}
        for frame in container.decode(stream):
            i = pos_of.get(frame.pts, n) if pos_of is not None and frame.pts is not None else n
            if 0 <= i < types.size:
                types[i] = int(frame.pict_type)
            n += 1
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(f"{index.path}: corrupt data after {n} frames: {exc}") from None
    finally:
        container.close()
    return types


def check_traceable(index: VideoIndex) -> None:
    """Raise a clear error when the stream cannot be traced: a codec without motion vectors, B-frames, or H.264 whose
    vectors may reference a frame other than the previous one (several reference frames, non-reference frames)."""
    if index.codec not in MV_CODECS:
        raise UnsupportedCodecError(
            f"{index.path}: codec '{index.codec}' exports no motion vectors in FFmpeg; {_TRANSCODE_HINT}")
    # B-frames show in the stream itself: presentation order differs from decode order here, and a decoded B picture
    # (or a vector from a future frame) stops the tracing. The decoder's delay is no evidence: MPEG-1/2 decoders
    # report one frame of delay for streams without B-frames.
    if index.reordered:
        raise BFramesError(f"{index.path}: the stream holds B-frames, which neurocv does not trace; {_TRANSCODE_HINT}")
    if index.codec == "h264":
        if index.ref_frames is None:
            raise UnsupportedCodecError(
                f"{index.path}: H.264 stream without a readable sequence parameter set (reference frame count "
                f"unknown), so its motion cannot be traced safely; {_TRANSCODE_HINT}")
        if index.skips_references:
            raise UnsupportedCodecError(
                f"{index.path}: H.264 with non-reference frames followed by P-frames (B-frames or hierarchical P), "
                f"whose motion vectors skip frames; {_TRANSCODE_HINT}")
        if index.ref_frames > 1:
            raise UnsupportedCodecError(
                f"{index.path}: H.264 with {index.ref_frames} reference frames (x264's default is 3): its motion "
                f"vectors may point to older frames and FFmpeg does not say which; {_TRANSCODE_HINT}")


def traceable_reason(index: VideoIndex) -> str | None:
    """Why :func:`read_clip` would refuse this stream (the one-line reason without the file name), or None."""
    try:
        check_traceable(index)
    except UnsupportedCodecError as exc:
        return str(exc).removeprefix(f"{index.path}: ")
    if index.p_positions.size == 0:
        return f"all-intra video (no P-frames among {index.n_frames} frames); {_TRANSCODE_HINT}"
    return None


class _Decoder:
    """Decodes display-ordered frames of one video, seeking to GOP starts when the stream has timestamps."""

    def __init__(self, index: VideoIndex, export_mvs: bool = True):
        self.index = index
        self.export_mvs = export_mvs
        self.container = None
        self._seq_iter: Iterator | None = None
        self._seq_pos = 0
        self._pos_of_pts = None if index.pts is None else {int(p): i for i, p in enumerate(index.pts)}
        self._sequential = index.sequential

    def _reopen(self):
        self.close()
        self.container = _open(self.index.path)
        stream = self.container.streams.video[0]
        options = {"err_detect": "careful+explode"}  # a damaged packet is an error, not concealed
        if self.export_mvs:
            options["flags2"] = "+export_mvs"
        stream.codec_context.options = options
        return stream

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None
            self._seq_iter = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def frames(self, start: int, stop: int) -> Iterator[tuple[int, object]]:
        """Yield ``(position, av.VideoFrame)`` for positions ``start..stop`` inclusive; ``start`` is a keyframe.

        Seeks to ``start`` where the container's timestamps allow it; where they do not (raw streams, MPEG program
        and transport streams), or where a seek lands past ``start``, decodes sequentially from the file's start.
        """
        av = _av()
        path = self.index.path
        pos = start - 1
        try:
            if self._pos_of_pts is not None and not self._sequential:
                stream = self._reopen() if self.container is None or self._seq_iter is not None \
                    else self.container.streams.video[0]
                self._seq_iter = None
                self.container.seek(int(self.index.pts[start]), stream=stream, backward=True, any_frame=False)
                first = True
                for frame in self.container.decode(stream):
                    pos = self._pos_of_pts.get(frame.pts) if frame.pts is not None else pos + 1
                    if first and (pos is None or pos > start):  # the seek landed late: decode from the start
                        self._sequential = True
                        self.close()
                        break
                    first = False
                    if pos is None:
                        raise VideoDecodeError(f"{path}: decoded a frame with an unknown timestamp {frame.pts}")
                    if pos < start:
                        continue
                    if pos > stop:
                        return
                    _check_intact(frame, pos, path)
                    yield pos, frame
                else:
                    return
                if not self._sequential:
                    return
                pos = start - 1
            # sequential: decode in order from the file's start, reopening only to go back
            if self._seq_iter is None or self._seq_pos > start:
                stream = self._reopen()
                self._seq_iter = iter(self.container.decode(stream))
                self._seq_pos = 0
            for frame in self._seq_iter:
                pos = self._seq_pos
                if self._pos_of_pts is not None and frame.pts is not None:
                    pos = self._pos_of_pts.get(frame.pts)
                    if pos is None:
                        raise VideoDecodeError(f"{path}: decoded a frame with an unknown timestamp {frame.pts}")
                self._seq_pos = pos + 1
                if pos < start:
                    continue
                _check_intact(frame, pos, path)
                yield pos, frame
                if pos >= stop:
                    return
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(f"{path}: corrupt data near frame {pos + 1}: {exc}") from None

    def decoded(self, start: int, stop: int, rgb_for) -> Iterator["_Decoded"]:
        """Like :meth:`frames`, with each frame's picture type, motion vectors and (where ``rgb_for(pos, pict)``)
        RGB pixels prepared in a background thread, overlapping FFmpeg's work with the caller's tracing."""

        def produce():
            for pos, frame in self.frames(start, stop):
                pict = int(frame.pict_type)
                yield _Decoded(pos, pict, _vectors(frame), _rgb(frame) if rgb_for(pos, pict) else None, frame)

        return _prefetch(produce)


@dataclass
class _Decoded:
    pos: int
    pict: int
    vectors: np.ndarray | None
    rgb: np.ndarray | None
    frame: object


_END = object()


def _prefetch(produce, depth: int = 4):
    """Run the generator ``produce()`` in a thread, ``depth`` items ahead; exceptions re-raise in the consumer.

    Closing the consumer early stops the producer and waits for it, so the container is never used by two threads.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run():
        gen = produce()
        try:
            for item in gen:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(("__error__", exc))
        finally:
            gen.close()

    worker = threading.Thread(target=run, name="neurocv-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, tuple) and len(item) == 2 and item[0] == "__error__":
                raise item[1]
            yield item
    finally:
        stop.set()
        worker.join()


def _check_intact(frame, pos: int, path: Path) -> None:
    if getattr(frame, "is_corrupt", False):
        raise VideoDecodeError(f"{path}: frame {pos} is corrupt (damaged packets mid-stream)")


def _rgb(frame, width: int | None = None, height: int | None = None) -> np.ndarray:
    """``frame`` as ``(H, W, 3)`` uint8 RGB (resized to ``width`` x ``height`` if given), converted on this thread.

    PyAV 17 and later convert with one swscale thread per CPU unless told otherwise (``threads=0``), and those threads
    live until the frame is freed: an 8-segment read started 32 of them, and on a busy machine the decoder waited
    for them (issue 21). One thread gives the same pixels, and the reader already converts in a thread of its own.
    """
    return frame.to_ndarray(width=width, height=height, format="rgb24", **_sws_one_thread())


@functools.cache
def _sws_one_thread() -> dict:
    major = int(_av().__version__.split(".")[0])
    return {"threads": 1} if major >= 17 else {}  # before 17 PyAV's sws_scale was single-threaded


def _vectors(frame):
    sd = frame.side_data.get("MOTION_VECTORS")
    return None if sd is None else sd.to_ndarray()


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
            ref = prev_rgb if prev_rgb is not None else _rgb(prev_frame)
            K.compensate_residual(cur, ref, cells, g, res)
            yield pos, iframe, expand_cells(cells, g, h, w), res
        prev_rgb, prev_frame = cur, item.frame


def scan_picture_types(path: str | Path) -> tuple[VideoIndex, np.ndarray]:
    """Decode every frame (no conversion) and return the index and ``(n_frames,)`` picture types (1 I, 2 P, 3 B)."""
    index = probe(path)
    return index, _decoded_types(index)
