"""Writing video with PyAV: the paper's encoding (MPEG-4 Part 2, an I-frame every 12 frames, no B-frames) and
``transcode`` from anything FFmpeg decodes into it.

A fixed quantiser is set the way FFmpeg's ``-q:v`` does it (the QSCALE flag with ``global_quality = q * 118``,
``FF_QP2LAMBDA``), with ``qmin = qmax = q`` so rate control cannot move it. Files are written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .._io import atomic_path
from ..errors import ConfigError, VideoDecodeError

__all__ = ["write_video", "transcode", "VideoWriter"]

_FF_QP2LAMBDA = 118
_FORMATS = {".mp4": "mp4", ".m4v": "m4v", ".avi": "avi", ".mkv": "matroska", ".mov": "mov", ".h264": "h264",
            ".264": "h264", ".mpg": "mpeg"}


class VideoWriter:
    """Streams RGB frames ``(H, W, 3)`` uint8 into an encoder; use as a context manager (atomic on success)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 25, codec: str = "mpeg4",
                 gop_size: int = 12, max_b_frames: int = 0, qscale: int = 2, pix_fmt: str = "yuv420p",
                 four_mv: bool = False):
        if width < 2 or height < 2 or width % 2 or height % 2:
            raise ConfigError(f"{path}: frame size must be even and at least 2x2 for {pix_fmt}, got {width}x{height}")
        if not 1 <= qscale <= 31:
            raise ConfigError(f"qscale must be in 1..31, got {qscale}")
        self.path = Path(path)
        self.settings = dict(width=width, height=height, fps=fps, codec=codec, gop_size=gop_size,
                             max_b_frames=max_b_frames, qscale=qscale, pix_fmt=pix_fmt, four_mv=four_mv)
        self.frames = 0

    def __enter__(self) -> "VideoWriter":
        import av
        from fractions import Fraction

        s = self.settings
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        fmt = _FORMATS.get(self.path.suffix.lower())
        try:
            self._out = av.open(str(tmp), "w", format=fmt)
            stream = self._out.add_stream("libx264" if s["codec"] == "h264" else s["codec"],
                                          rate=Fraction(s["fps"]).limit_denominator(1001))
        except (av.error.FFmpegError, ValueError) as exc:
            self._atomic.__exit__(type(exc), exc, None)
            raise ConfigError(f"{self.path}: cannot encode {s['codec']} into this container: {exc}") from None
        stream.width, stream.height, stream.pix_fmt = s["width"], s["height"], s["pix_fmt"]
        cc = stream.codec_context
        cc.thread_count = 1  # the bitstream depends on the encoder's thread count: one thread, the same bytes anywhere
        cc.gop_size = s["gop_size"]
        cc.max_b_frames = s["max_b_frames"]
        if s["codec"] == "h264":
            # x264: closed GOPs of exactly gop_size (no scene-cut keyframes), constant quantiser, B-frames as asked.
            cc.options = {"qp": str(_h264_qp(s["qscale"])), "bf": str(s["max_b_frames"]),
                          "x264-params": f"keyint={s['gop_size']}:min-keyint={s['gop_size']}:scenecut=0:ref=1"
                                          + (":partitions=all:subme=9" if s["four_mv"] else "")}
        else:
            cc.qscale = True
            cc.global_quality = s["qscale"] * _FF_QP2LAMBDA
            cc.options = {"qmin": str(s["qscale"]), "qmax": str(s["qscale"]), "bf": str(s["max_b_frames"]),
                          "sc_threshold": "1000000000"}  # no scene-cut I-frames: exactly one every gop_size
            if s["four_mv"]:
                cc.options = {**cc.options, "flags": "+mv4"}  # 8x8 motion blocks: finer fields
        self._stream = stream
        return self

    def write(self, rgb: np.ndarray) -> None:
        import av

        rgb = np.asarray(rgb)
        want = (self.settings["height"], self.settings["width"], 3)
        if rgb.dtype != np.uint8 or rgb.shape != want:
            raise ConfigError(f"{self.path}: frame {self.frames} is {rgb.dtype} {rgb.shape}, expected uint8 {want}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        frame.pict_type = 0  # let the encoder choose (I every gop_size)
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for packet in self._stream.encode():
                    self._out.mux(packet)
            self._out.close()
        except BaseException as failure:  # a failed flush or trailer must not publish a partial file
            self._atomic.__exit__(type(failure), failure, failure.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)


def encode_frames(path: str | Path, frames: Iterable[np.ndarray], encoder: str, *, fmt: str | None = None,
                  options: dict | None = None, gop_size: int = 12, max_b_frames: int = 0, fps: float = 25,
                  qscale: int | None = 3, pix_fmt: str = "yuv420p", flags: str | None = None) -> Path:
    """Encode RGB frames with any FFmpeg encoder into any muxer (``fmt``, else from the suffix), atomically.

    A lower-level sibling of :func:`write_video` for test and benchmark clips across codecs and containers
    (H.263 in AVI, FLV, MPEG-2 in a transport stream, x264 with several reference frames ...). ``qscale`` fixes the
    quantiser of the mpegvideo-family encoders (ignored by x264: pass ``options={"qp": ...}``)."""
    import av
    from fractions import Fraction

    path = Path(path)
    frames = [np.ascontiguousarray(f) for f in frames]
    if not frames:
        raise ConfigError(f"{path}: no frames to write")
    h, w = frames[0].shape[:2]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format=fmt or _FORMATS.get(path.suffix.lower())) as out:
            try:
                stream = out.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
            except (av.error.FFmpegError, ValueError) as exc:
                raise ConfigError(f"{path}: cannot encode {encoder} into this container: {exc}") from None
            stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
            cc = stream.codec_context
            cc.thread_count = 1
            cc.gop_size = gop_size
            cc.max_b_frames = max_b_frames
            opts = {"bf": str(max_b_frames)}
            if qscale is not None and not encoder.startswith("lib"):
                cc.qscale = True
                cc.global_quality = qscale * _FF_QP2LAMBDA
                opts.update(qmin=str(qscale), qmax=str(qscale), sc_threshold="1000000000")
            if flags:
                opts["flags"] = flags
            cc.options = {**opts, **(options or {})}
            for k, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = k
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    return path


def _h264_qp(qscale: int) -> int:
    """The H.264 QP whose quantiser step matches MPEG-4's ``qscale`` (step ~ 2 q; H.264: 0.625 * 2^(QP/6))."""
    return int(min(51, max(0, round(6 * np.log2(2 * qscale / 0.625)))))


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25, codec: str = "mpeg4",
                gop_size: int = 12, max_b_frames: int = 0, qscale: int = 2, pix_fmt: str = "yuv420p",
                four_mv: bool = False) -> Path:
    """Encode RGB frames ``(H, W, 3)`` uint8 to ``path`` (container from the suffix); returns the path.
    ``four_mv`` asks for finer motion blocks: 8x8 for MPEG-4, all partitions down to 4x4 for H.264."""
    it = iter(frames)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ConfigError(f"{path}: no frames to write") from None
    h, w = first.shape[:2]
    with VideoWriter(path, w, h, fps, codec, gop_size, max_b_frames, qscale, pix_fmt, four_mv) as writer:
        writer.write(first)
        for rgb in it:
            writer.write(rgb)
    return Path(path)


def transcode(src: str | Path, dst: str | Path, size: tuple[int, int] | None = (340, 256), gop_size: int = 12,
              codec: str = "mpeg4", max_b_frames: int = 0, qscale: int = 2, fps: float | None = None) -> dict:
    """Re-encode ``src`` (anything FFmpeg decodes) to ``dst``: MPEG-4 Part 2, GOP 12, no B-frames, 340x256 by default
    (``size=None`` keeps the native size; odd sizes are rounded down to even). Frames are streamed, not held."""
    import av

    from .decoder import rgb24
    from .index import _open

    src, dst = Path(src), Path(dst)
    container = _open(src)
    try:
        stream = container.streams.video[0]
        w, h = size if size is not None else (stream.codec_context.width, stream.codec_context.height)
        w, h = max(2, w - w % 2), max(2, h - h % 2)
        rate = fps or (float(stream.average_rate) if stream.average_rate else 25.0)
        with VideoWriter(dst, w, h, rate, codec, gop_size, max_b_frames, qscale) as writer:
            try:
                for frame in container.decode(stream):
                    writer.write(rgb24(frame, w, h))
            except av.error.FFmpegError as exc:
                raise VideoDecodeError(f"{src}: corrupt data after {writer.frames} frames: {exc}") from None
            if writer.frames == 0:
                raise VideoDecodeError(f"{src}: no frames could be decoded")
            frames = writer.frames
    finally:
        container.close()
    return {"frames": frames, "size": f"{w}x{h}", "codec": codec, "gop": gop_size, "b_frames": max_b_frames,
            "fps": round(rate, 3)}
