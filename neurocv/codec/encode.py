"""Writing video with PyAV: the paper's encoding (MPEG-4 Part 2, an I-frame every 12 frames, no B-frames) and
``transcode`` from anything FFmpeg decodes into it.

MPEG-4 Part 2 gets a fixed quantiser the way FFmpeg's ``-q:v`` sets it (the QSCALE flag and ``global_quality =
q * FF_QP2LAMBDA``) and also ``qmin = qmax = q``: the encoder clips its quantiser to ``[qmin, qmax]`` and ``qmin``
defaults to 2, so without it ``q = 1`` silently encodes at 2. H.264 (libx264) gets the constant QP whose step size
matches MPEG-4's ``2 q``. Scene-cut keyframes are off, so I-frames come exactly every ``gop_size`` frames.

The encoder runs on one thread: MPEG-4's slice threads change the bitstream with the thread count, which would make
the same frames encode differently on different machines. Files are written atomically.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .._io import atomic_path
from ..errors import ConfigError, VideoDecodeError

__all__ = ["EncoderSettings", "VideoWriter", "write_video", "transcode"]

_FF_QP2LAMBDA = 118
_ENCODERS = {"mpeg4": "mpeg4", "h264": "libx264"}
_FORMATS = {".mp4": "mp4", ".m4v": "m4v", ".avi": "avi", ".mkv": "matroska", ".mov": "mov", ".h264": "h264",
            ".264": "h264", ".mpg": "mpeg"}
_NO_SCENE_CUTS = "1000000000"  # FFmpeg's own "never" for sc_threshold


@dataclass(frozen=True)
class EncoderSettings:
    """How frames are encoded.

    width, height: frame size in pixels (even, for 4:2:0 chroma); fps: frames per second;
    codec: ``"mpeg4"`` (MPEG-4 Part 2) or ``"h264"`` (libx264); gop_size: an I-frame every this many frames;
    max_b_frames: consecutive B-frames allowed (0: none); qscale: fixed quantiser 1 (best) .. 31 (worst);
    pix_fmt: the encoder's pixel format; four_mv: finer motion blocks (MPEG-4 8x8, H.264 all partitions);
    threads: encoder threads (1 keeps the bitstream independent of the machine).
    """

    width: int
    height: int
    fps: float = 25
    codec: str = "mpeg4"
    gop_size: int = 12
    max_b_frames: int = 0
    qscale: int = 2
    pix_fmt: str = "yuv420p"
    four_mv: bool = False
    threads: int = 1

    def __post_init__(self):
        if self.codec not in _ENCODERS:
            raise ConfigError(f"unknown codec '{self.codec}'; expected one of {', '.join(_ENCODERS)}")
        if self.width < 2 or self.height < 2 or self.width % 2 or self.height % 2:
            raise ConfigError(f"frame size must be even and at least 2x2 for 4:2:0 video, got "
                              f"{self.width}x{self.height}; crop or resize by a pixel")
        if not 1 <= self.qscale <= 31:
            raise ConfigError(f"qscale must be in 1..31 (1 best), got {self.qscale}")
        if self.gop_size < 1 or self.max_b_frames < 0 or self.threads < 0:
            raise ConfigError(f"need gop_size >= 1, max_b_frames >= 0, threads >= 0; got {self.gop_size}, "
                              f"{self.max_b_frames}, {self.threads}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"fps must be a positive number, got {self.fps}")

    @property
    def h264_qp(self) -> int:
        """libx264 constant QP with the quantiser step of MPEG-4 qscale (step ``2 q`` = ``0.625 * 2^(QP/6)``)."""
        return int(min(51, round(6 * math.log2(2 * self.qscale / 0.625))))

    def options(self) -> dict[str, str]:
        """The encoder's string options (everything not set through a typed attribute)."""
        if self.codec == "h264":
            params = f"keyint={self.gop_size}:min-keyint={self.gop_size}:scenecut=0:ref=1"
            return {"qp": str(self.h264_qp),
                    "x264-params": params + (":partitions=all:subme=9" if self.four_mv else "")}
        return {"sc_threshold": _NO_SCENE_CUTS, **({"flags": "+mv4"} if self.four_mv else {})}


def _av():
    import av

    return av


def _configure(cc, s: EncoderSettings) -> None:
    """Set ``s`` on a PyAV codec context. PyAV drops option names the encoder does not know without a word, so
    every name is checked against the encoder's own list first."""
    cc.width, cc.height, cc.pix_fmt = s.width, s.height, s.pix_fmt
    cc.gop_size, cc.max_b_frames, cc.thread_count = s.gop_size, s.max_b_frames, s.threads
    if s.codec == "mpeg4":
        cc.qscale = True  # AV_CODEC_FLAG_QSCALE: fixed quantiser, no rate control
        cc.global_quality = s.qscale * _FF_QP2LAMBDA
        cc.qmin = cc.qmax = s.qscale
    known = {o.name for o in cc.supported_options.generic + cc.supported_options.private}
    unknown = sorted(set(s.options()) - known)
    if unknown:
        raise ConfigError(f"{_ENCODERS[s.codec]} in this FFmpeg has no option {', '.join(unknown)}")
    cc.options = s.options()


class VideoWriter:
    """Streams RGB frames ``(H, W, 3)`` uint8 into an encoder. Use as a context manager: the file appears at
    ``path`` only when the block ends without an error (no partial file otherwise).

    The arguments are those of :class:`EncoderSettings`."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 25, codec: str = "mpeg4",
                 gop_size: int = 12, max_b_frames: int = 0, qscale: int = 2, pix_fmt: str = "yuv420p",
                 four_mv: bool = False, threads: int = 1):
        self.path = Path(path)
        self.settings = EncoderSettings(width, height, fps, codec, gop_size, max_b_frames, qscale, pix_fmt,
                                        four_mv, threads)
        self.frames = 0
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "VideoWriter":
        av, s = _av(), self.settings
        stack = contextlib.ExitStack()
        tmp = stack.enter_context(atomic_path(self.path))
        try:
            self._out = av.open(str(tmp), "w", format=_FORMATS.get(self.path.suffix.lower()))
            stack.push(self._close_container)
            self._stream = self._out.add_stream(_ENCODERS[s.codec], rate=Fraction(s.fps).limit_denominator(1001))
            _configure(self._stream.codec_context, s)
            self._stream.codec_context.open()  # bad settings fail here, not at the first frame
        except BaseException as exc:
            stack.__exit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, (av.error.FFmpegError, ValueError)):
                raise ConfigError(f"{self.path}: cannot encode {s.codec} ({s.pix_fmt}) into this container: "
                                  f"{exc}") from None
            raise
        self._stack = stack
        return self

    def _close_container(self, exc_type, exc, tb) -> bool:
        try:
            self._out.close()
        except (_av().error.FFmpegError, OSError):
            if exc_type is None:
                raise  # the trailer could not be written: the file is not published
        return False

    def write(self, rgb: np.ndarray) -> None:
        """Encode one frame, ``(height, width, 3)`` uint8 RGB."""
        rgb = np.asarray(rgb)
        s = self.settings
        if rgb.dtype != np.uint8 or rgb.shape != (s.height, s.width, 3):
            raise ConfigError(f"{self.path}: frame {self.frames} is {rgb.dtype} {rgb.shape}; expected uint8 "
                              f"({s.height}, {s.width}, 3) RGB like the first frame")
        frame = _av().VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        stack, self._stack = self._stack, None
        if exc_type is not None:
            return stack.__exit__(exc_type, exc, tb)
        with stack:  # a failing flush or trailer unwinds the stack with that error: nothing is published
            for packet in self._stream.encode():
                self._out.mux(packet)
        return False


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25, codec: str = "mpeg4",
                gop_size: int = 12, max_b_frames: int = 0, qscale: int = 2, pix_fmt: str = "yuv420p",
                four_mv: bool = False, threads: int = 1) -> Path:
    """Encode RGB frames (an iterable of ``(H, W, 3)`` uint8, or a ``(T, H, W, 3)`` array) to ``path``; the
    container comes from the suffix (.mp4, .m4v, .avi, .mkv, .mov, ...). Returns the path.

    ``qscale`` is the fixed quantiser (1 best .. 31); ``four_mv`` asks for finer motion blocks: 8x8 for MPEG-4,
    all partitions down to 4x4 for H.264. Nothing is left at ``path`` if encoding fails or ``frames`` raises."""
    it = iter(frames)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ConfigError(f"{path}: no frames to write") from None
    if first.ndim != 3:
        raise ConfigError(f"{path}: frames must be (H, W, 3) uint8 RGB, got a first frame of shape {first.shape}")
    h, w = first.shape[:2]
    with VideoWriter(path, w, h, fps, codec, gop_size, max_b_frames, qscale, pix_fmt, four_mv, threads) as writer:
        writer.write(first)
        for rgb in it:
            writer.write(rgb)
    return Path(path)


def _even_size(size: tuple[int, int] | None, native: tuple[int, int]) -> tuple[int, int]:
    w, h = native if size is None else size
    if int(w) != w or int(h) != h or w < 2 or h < 2:
        raise ConfigError(f"size must be two integers >= 2 (width, height), got {size}")
    return int(w) - int(w) % 2, int(h) - int(h) % 2


def _retimed(frames: Iterable, fps: float, src_fps: float) -> Iterator:
    """Resample decoded frames to a constant ``fps``: output frame ``n`` (at ``n / fps`` s after the first frame)
    is the latest input frame shown at that time, so frames are dropped or repeated; the duration is kept
    (``src_fps`` times frames without timestamps and the last frame)."""
    n, held, start, last_time, step = 0, None, 0.0, 0.0, 1.0 / src_fps
    for index, frame in enumerate(frames):
        time_s = frame.time if frame.time is not None else index / src_fps
        if held is None:
            start = time_s
        else:
            step = time_s - last_time if time_s > last_time else step
            while start + n / fps < time_s - 1e-6:
                yield held
                n += 1
        held, last_time = frame, time_s
    while held is not None and start + n / fps < last_time + step - 1e-6:
        yield held
        n += 1


def transcode(src: str | Path, dst: str | Path, size: tuple[int, int] | None = (340, 256), gop_size: int = 12,
              codec: str = "mpeg4", max_b_frames: int = 0, qscale: int = 2, fps: float | None = None) -> dict:
    """Re-encode ``src`` (anything FFmpeg decodes) to ``dst``: MPEG-4 Part 2, an I-frame every 12 frames, no
    B-frames, 340x256 by default. ``size`` is ``(width, height)`` in pixels or ``None`` for the native size; odd
    sizes are rounded down to even. ``fps=None`` keeps the source's frame rate; another rate drops or repeats
    frames to keep the duration. Frames are streamed, never all held in memory; ``dst`` appears only on success.

    Returns ``{"frames", "size": (w, h), "codec", "gop", "b_frames", "fps"}``. Raises :class:`VideoDecodeError`
    (one line naming ``src``) for a missing file, a file that is not a video, no video stream or corrupt data.
    """
    av = _av()
    from .reader import _open

    src, dst = Path(src), Path(dst)
    container = _open(src)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        w, h = _even_size(size, (stream.codec_context.width, stream.codec_context.height))
        src_rate = float(stream.average_rate) if stream.average_rate else 25.0
        rate = src_rate if fps is None else fps
        with VideoWriter(dst, w, h, rate, codec, gop_size, max_b_frames, qscale) as writer:
            decoded = container.decode(stream)
            try:
                for frame in (decoded if fps is None else _retimed(decoded, fps, src_rate)):
                    writer.write(frame.to_ndarray(width=w, height=h, format="rgb24"))
            except av.error.FFmpegError as exc:
                raise VideoDecodeError(f"{src}: corrupt data after {writer.frames} frames ({exc})") from None
            if writer.frames == 0:
                raise VideoDecodeError(f"{src}: the video stream holds no decodable frame")
    finally:
        container.close()
    return {"frames": writer.frames, "size": (w, h), "codec": codec, "gop": gop_size, "b_frames": max_b_frames,
            "fps": round(rate, 3)}
