"""Every kind of stream is traced right or refused in one line: multi-reference H.264, MPEG-1/2 in program and
transport streams, H.263 in AVI, FLV; our own known-motion clips, encoded with PyAV."""

from __future__ import annotations

import json
import subprocess
import sys

import av
import numpy as np
import pytest

from neurocv.codec import probe, read_clip
from neurocv.codec.encode import encode_frames
from neurocv.codec.h264 import sps_max_ref_frames
from neurocv.codec.reader import MV_CODECS
from neurocv.errors import BFramesError, UnsupportedCodecError
from neurocv.synth import motion_within_1px, render_clip

W, H = 128, 96


@pytest.fixture(scope="module")
def rendered():
    return render_clip("translate_right", np.random.default_rng(7), W, H, 24, object_size=(0.55, 0.65))


def _x264(ref: int, profile: str = "high", bf: int = 0) -> dict:
    return {"qp": "20", "profile": profile,
            "x264-params": f"keyint=12:min-keyint=12:scenecut=0:ref={ref}:bframes={bf}:b-adapt=0"}


def within_1px(path, rendered, erode: int) -> float:
    """Pooled fraction of the object's interior pixels whose accumulated motion is within 1 px of the truth."""
    good, total, _ = motion_within_1px(path, rendered, erode)
    assert total > 1000  # enough interior to measure
    return good / total


def same_as_one_pass(path) -> bool:
    """Segment reads (seeking to GOPs, or sequential) equal the same frames of one pass over every P-frame."""
    full, seg = read_clip(path, all_pframes=True), read_clip(path, 5)
    rows = np.searchsorted(full.frame_index, seg.frame_index)
    return bool(np.array_equal(full.frame_index[rows], seg.frame_index)
                and np.array_equal(full.mvs[rows], seg.mvs) and np.array_equal(full.residuals[rows], seg.residuals))


def test_codec_list_holds_ffmpeg_decoder_names():
    """A stream's codec context reports the decoder's name: each listed name must be one (Sorenson is `flv`)."""
    for name in sorted(MV_CODECS):
        assert name in av.codecs_available and av.Codec(name, "r").name == name, name
    assert "flv" in MV_CODECS and "flv1" not in MV_CODECS


# ---- H.264 reference frames -----------------------------------------------------------------------------------

@pytest.mark.parametrize("refs,profile,suffix,fmt", [(1, "baseline", ".mp4", None), (3, "baseline", ".mp4", None),
                                                     (3, "main", ".mkv", None), (5, "high", ".mp4", None),
                                                     (3, "high", ".h264", None), (1, "high", ".h264", None),
                                                     (3, "high", ".ts", "mpegts"), (1, "main", ".ts", "mpegts")])
def test_h264_reference_count_read_from_the_sps(tmp_path, rendered, refs, profile, suffix, fmt):
    """avcC extradata (mp4, mkv) and in-band Annex B (raw, TS); one reference traces, more are refused."""
    path = encode_frames(tmp_path / f"r{refs}{suffix}", rendered.frames[:14], "libx264", fmt=fmt,
                         options=_x264(refs, profile))
    assert probe(path).ref_frames == refs
    if refs == 1:
        assert within_1px(path, rendered, erode=4) >= 0.9
    else:
        with pytest.raises(UnsupportedCodecError, match=f"{refs} reference frames.*neurocv transcode") as info:
            read_clip(path, 4)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_x264_defaults_without_b_frames_are_refused(tmp_path, rendered):
    path = encode_frames(tmp_path / "default.mp4", rendered.frames[:14], "libx264", options={"qp": "20"})
    assert probe(path).ref_frames == 3
    with pytest.raises(UnsupportedCodecError, match="3 reference frames"):
        read_clip(path, 2)


def test_sps_parser_on_hand_made_units():
    # baseline profile 66, level 30, sps_id 0, log2_max_frame_num-4 = 0, poc type 2, max_num_ref_frames = 4
    bits = "1" + "1" + "011" + "00101"  # ue 0, ue 0, ue 2, ue 4
    bits += "1" * (-len(bits) % 8)
    sps = bytes([0x67, 66, 0, 30]) + int(bits, 2).to_bytes(len(bits) // 8, "big")
    assert sps_max_ref_frames(sps) == 4
    with pytest.raises(ValueError):
        sps_max_ref_frames(bytes([0x68, 1, 2]))  # a PPS
    with pytest.raises(ValueError):
        sps_max_ref_frames(bytes([0x67, 66]))     # cut short


def test_info_reports_the_reference_count(tmp_path, rendered):
    path = encode_frames(tmp_path / "r5.mkv", rendered.frames[:6], "libx264", options=_x264(5))
    cmd = [sys.executable, "-m", "neurocv.cli", "info", str(path)]
    info = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert info["ref_frames"] == 5 and info["codec"] == "h264"
    assert info["traceable"] is False and "5 reference frames" in info["not_traceable_because"]
    assert "ref_frames" in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


# ---- MPEG-1/2: B-frames from the stream, not from the decoder's delay; seeking in PS/TS -------------------------

@pytest.mark.parametrize("codec,suffix,fmt", [("mpeg1video", ".mpg", "mpeg"), ("mpeg2video", ".mpg", "mpeg"),
                                              ("mpeg2video", ".ts", "mpegts"), ("mpeg2video", ".m2v", "mpeg2video"),
                                              ("mpeg1video", ".ts", "mpegts")])
def test_mpeg1_and_mpeg2_without_b_frames_trace(tmp_path, rendered, codec, suffix, fmt):
    path = encode_frames(tmp_path / f"clip{suffix}", rendered.frames, codec, fmt=fmt)
    index = probe(path)
    assert index.decoder_delay == 1 or suffix == ".m2v"  # the delay that used to be taken for B-frames
    assert within_1px(path, rendered, erode=16) >= 0.9
    assert same_as_one_pass(path)


@pytest.mark.parametrize("suffix,fmt", [(".mpg", "mpeg"), (".ts", "mpegts"), (".m2v", "mpeg2video")])
def test_mpeg2_with_b_frames_is_refused(tmp_path, rendered, suffix, fmt):
    path = encode_frames(tmp_path / f"b{suffix}", rendered.frames, "mpeg2video", fmt=fmt, max_b_frames=2)
    with pytest.raises(BFramesError, match="B-frame.*neurocv transcode"):
        read_clip(path, 4)


def test_h264_with_b_frames_is_refused_as_b_frames(tmp_path, rendered):
    path = encode_frames(tmp_path / "b.mp4", rendered.frames, "libx264", options=_x264(1, bf=2), max_b_frames=2)
    with pytest.raises(BFramesError, match="B-frames"):
        read_clip(path, 4)


# ---- H.263 family, Sorenson, MS-MPEG4 ---------------------------------------------------------------------------

@pytest.mark.parametrize("codec,suffix,fmt", [("h263", ".avi", None), ("h263p", ".avi", None),
                                              ("h263", ".3gp", "3gp"), ("flv", ".flv", "flv"),
                                              ("msmpeg4", ".avi", None), ("wmv2", ".avi", None)])
def test_h263_family_traces(tmp_path, rendered, codec, suffix, fmt):
    path = encode_frames(tmp_path / f"{codec}{suffix}", rendered.frames, codec, fmt=fmt)
    index = probe(path)
    assert index.keyframes.tolist() == [0, 12]
    if codec.startswith("h263") and suffix == ".avi":  # the AVI flags every packet: keyframes from picture types
        assert index.keyframes_from == "decoded"
    assert within_1px(path, rendered, erode=16) >= 0.9
    assert same_as_one_pass(path)


def test_true_all_intra_avi_still_refused(tmp_path, rendered):
    path = encode_frames(tmp_path / "intra.avi", rendered.frames[:6], "h263", gop_size=1)
    with pytest.raises(Exception, match="all-intra"):
        read_clip(path, 2)


# ---- a stream without a decoder ---------------------------------------------------------------------------------

def test_stream_without_codec_context_is_one_clean_error(tmp_path, rendered):
    """A damaged sample description (the MP4's `avc1` entry overwritten) leaves FFmpeg a video stream without a codec
    context: one line, no AttributeError (found by fuzzing)."""
    path = encode_frames(tmp_path / "ok.mp4", rendered.frames[:6], "libx264", options=_x264(1))
    data = bytearray(path.read_bytes())
    entry = data.index(b"avc1", data.index(b"stsd"))
    data[entry:entry + 4] = b"zzzz"
    bad = tmp_path / "no_codec.mp4"
    bad.write_bytes(bytes(data))
    with av.open(str(bad)) as c:
        assert c.streams.video[0].codec_context is None  # the case this test is about
    with pytest.raises(UnsupportedCodecError, match="no decoder") as info:
        read_clip(bad, 2)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_non_reference_frames_followed_by_p_frames_are_caught():
    """With one reference frame a P-frame after a non-reference frame (nal_ref_idc 0) predicts from the frame before
    it: hierarchical P. Slice NAL headers: 0x65 IDR (ref), 0x41 P (ref), 0x01 P (non-reference)."""
    from neurocv.codec.h264 import ReferenceScan

    def scan(frames):
        s = ReferenceScan()
        for header, key in frames:
            s.add([bytes([header, 0x88])], key)
        return s.skips

    assert not scan([(0x65, True), (0x41, False), (0x41, False), (0x01, False), (0x65, True), (0x41, False)])
    assert scan([(0x65, True), (0x41, False), (0x01, False), (0x41, False)])
    assert not scan([(0x65, True), (0x41, False), (0x06, False), (0x41, False)])  # an SEI is no frame


@pytest.mark.parametrize("suffix,fmt", [(".h264", None), (".ts", "mpegts"), (".mkv", None)])
def test_h264_b_frames_without_timestamps_or_in_any_container_are_refused(tmp_path, rendered, suffix, fmt):
    path = encode_frames(tmp_path / f"b{suffix}", rendered.frames, "libx264", fmt=fmt, options=_x264(1, bf=2),
                         max_b_frames=2)
    index = probe(path)
    assert index.skips_references  # the B-frames are non-reference frames followed by P-frames
    with pytest.raises(UnsupportedCodecError, match="neurocv transcode"):
        read_clip(path, 4)


def test_pictures_other_than_i_and_p_are_refused():
    """MPEG-4 S-VOPs (global motion compensation, e.g. Xvid's GMC) and H.264 SI/SP pictures carry vectors that do not
    mean block motion from the previous frame: refused by picture type (FFmpeg's encoders write none of them, so
    the decoded frames are stand-ins)."""
    from pathlib import Path
    from types import SimpleNamespace

    from neurocv.codec.decoder import _Decoded
    from neurocv.codec.reader import _trace_gop

    rgb = np.zeros((4, 4, 3), np.uint8)
    dec = SimpleNamespace(index=SimpleNamespace(path=Path("gmc.avi"), height=4, width=4),
                          decoded=lambda start, stop, rgb_for: iter([_Decoded(0, 1, None, rgb, None),
                                                                     _Decoded(1, 4, None, rgb, None)]))
    with pytest.raises(UnsupportedCodecError, match=r"gmc.avi: frame 1 has picture type S \(MPEG-4 global motion"):
        list(_trace_gop(dec, 0, {1}, True, False))
