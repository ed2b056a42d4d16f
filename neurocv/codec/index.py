"""What demuxing tells about a video before any decoding: :func:`probe` (frame count, display order, keyframes,
H.264 reference counts) into a :class:`VideoIndex`, and whether the reader can trace the stream
(:func:`check_traceable`, :func:`traceable_reason`). Shared by :mod:`.decoder` and :mod:`.reader`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BFramesError, UnsupportedCodecError, VideoDecodeError

__all__ = ["VideoIndex", "probe", "check_traceable", "traceable_reason", "scan_picture_types", "MV_CODECS",
           "PICT_I", "PICT_P", "PICT_B"]

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


def scan_picture_types(path: str | Path) -> tuple[VideoIndex, np.ndarray]:
    """Decode every frame (no conversion) and return the index and ``(n_frames,)`` picture types (1 I, 2 P, 3 B)."""
    index = probe(path)
    return index, _decoded_types(index)
