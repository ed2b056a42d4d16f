"""Seeded fuzzing: damaged copies of small MPEG-4 and H.264 clips either read into valid arrays or end in one
clean NeuroCVError line naming the file, never in another exception."""

from __future__ import annotations

import numpy as np
import pytest

from neurocv.codec import read_clip
from neurocv.codec.encode import encode_frames
from neurocv.errors import NeuroCVError
from neurocv.synth import render_clip

N_PER_CLIP = 250  # 1,000 damaged files in all, ~5 s


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buf = bytearray(data)
    kind = int(rng.integers(5))
    n = len(buf)
    if kind == 0:      # flip a few bytes anywhere (headers included)
        for i in rng.integers(0, n, int(rng.integers(1, 12))):
            buf[i] ^= int(rng.integers(1, 256))
    elif kind == 1:    # truncate
        del buf[int(rng.integers(1, n)):]
    elif kind == 2:    # zero a chunk
        a = int(rng.integers(0, n))
        buf[a:a + int(rng.integers(1, 400))] = bytes(len(buf[a:a + int(rng.integers(1, 400))]))
    elif kind == 3:    # splice: copy one chunk over another
        a, b, m = int(rng.integers(0, n)), int(rng.integers(0, n)), int(rng.integers(1, 600))
        chunk = bytes(buf[a:a + m])
        buf[b:b + len(chunk)] = chunk
    else:              # random bytes over a chunk
        a, m = int(rng.integers(0, n)), int(rng.integers(1, 300))
        buf[a:a + m] = rng.integers(0, 256, len(buf[a:a + m]), dtype=np.uint8).tobytes()
    return bytes(buf)


@pytest.mark.parametrize("encoder,suffix,options", [
    ("mpeg4", ".mp4", None), ("mpeg4", ".avi", None), ("mpeg2video", ".mpg", None),
    ("libx264", ".mp4", {"qp": "24", "x264-params": "keyint=6:min-keyint=6:scenecut=0:ref=1:bframes=0"}),
])
def test_damaged_clips_read_or_fail_cleanly(tmp_path, encoder, suffix, options):
    rendered = render_clip("translate_right", np.random.default_rng(1), 64, 48, 14)
    src = encode_frames(tmp_path / f"src{suffix}", rendered.frames, encoder, gop_size=6, options=options,
                        fmt="mpeg" if suffix == ".mpg" else None)
    data = src.read_bytes()
    rng = np.random.default_rng(1234)
    outcomes = {"arrays": 0, "error": 0}
    for k in range(N_PER_CLIP):
        path = tmp_path / f"fuzz_{k}{suffix}"
        path.write_bytes(_mutate(data, rng))
        try:
            clip = read_clip(path, 3, accumulate=bool(k % 2))
        except NeuroCVError as exc:
            msg = str(exc)
            assert "\n" not in msg and str(path) in msg, msg
            outcomes["error"] += 1
        else:
            n = len(clip)
            assert n == 3 and clip.iframes.dtype == np.uint8 and clip.iframes.shape[1:] == (48, 64, 3)
            assert clip.mvs.shape == (n, 48, 64, 2) and np.isfinite(clip.mvs).all()
            assert clip.residuals.shape == (n, 48, 64, 3) and np.isfinite(clip.residuals).all()
            outcomes["arrays"] += 1
        path.unlink()
    # both outcomes occur: the mutations are neither all harmless nor all fatal
    assert outcomes["arrays"] > 0 and outcomes["error"] > 0, outcomes
