"""Decoding for the reader: display-ordered frames of one video (seeking to GOP starts where the container allows
it), each frame's motion vectors and, where asked, its RGB pixels, prepared in a background thread."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import VideoDecodeError
from .index import VideoIndex, _av, _open

__all__ = ["rgb24"]


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
                yield _Decoded(pos, pict, _vectors(frame), rgb24(frame) if rgb_for(pos, pict) else None, frame)

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


def rgb24(frame, width: int | None = None, height: int | None = None) -> np.ndarray:
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
