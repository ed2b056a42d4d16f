"""The command line as a user runs it: results on stdout, one-line errors on stderr, non-zero exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

NEUROCV = [sys.executable, "-m", "neurocv.cli"]


def run(*args, ok=True):
    proc = subprocess.run(NEUROCV + [str(a) for a in args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_info_json(clip_factory):
    path, _ = clip_factory("translate_right", width=96, height=64, n_frames=26, seed=20)
    info = json.loads(run("info", path, "--json").stdout)
    assert info["codec"] == "mpeg4" and info["frames"] == 26 and info["width"] == 96
    assert info["i_frames"] == [0, 12, 24] and info["b_frames"] == 0 and info["has_b_frames"] is False
    text = run("info", path).stdout
    assert "IPPPPPPPPPPP IPPPPPPPPPPP IP" in text


def test_extract_writes_the_documented_arrays(tmp_path, clip_factory):
    path, _ = clip_factory("zoom_out", width=96, height=64, n_frames=26, seed=21)
    out = tmp_path / "clip.npz"
    run("extract", path, "-o", out, "--segments", "5")
    z = np.load(out)
    assert sorted(z.files) == ["frame_index", "gop_index", "iframes", "mvs", "residuals"]
    assert z["iframes"].shape == (5, 64, 96, 3) and z["iframes"].dtype == np.uint8
    assert z["mvs"].shape == (5, 64, 96, 2) and z["mvs"].dtype == np.float32
    assert z["residuals"].shape == (5, 64, 96, 3) and z["residuals"].dtype == np.float32
    assert np.all(z["frame_index"] % 12 != 0)
    run("extract", path, "-o", out, "--all", "--no-accumulate", "--size", "48x32")
    z = np.load(out)
    assert z["mvs"].shape == (23, 32, 48, 2) and z["frame_index"].tolist() == [i for i in range(26) if i % 12]


def test_errors_are_one_line_and_keep_existing_output(tmp_path):
    out = tmp_path / "keep.npz"
    out.write_bytes(b"previous result")
    proc = run("extract", tmp_path / "missing.mp4", "-o", out, ok=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "missing.mp4" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_bytes() == b"previous result"
    proc = run("extract", tmp_path / "missing.mp4", "-o", out, "--size", "12", ok=False)
    assert proc.returncode == 2 and "WxH" in proc.stderr


def test_show_draws_pngs(tmp_path, clip_factory):
    path, _ = clip_factory("rotate_cw", width=96, height=64, n_frames=26, seed=22)
    lines = run("show", path, "-o", tmp_path / "show", "--frames", "2").stdout.split()
    assert len(lines) == 3 and all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in lines)


def test_transcode_then_extract(tmp_path, clip_factory):
    src, _ = clip_factory("translate_left", width=96, height=64, n_frames=30, seed=23, codec="h264", max_b_frames=2)
    assert run("extract", src, "-o", tmp_path / "x.npz", ok=False).returncode == 2  # B-frames refused
    dst = tmp_path / "paper.mp4"
    run("transcode", src, dst, "--size", "80x64")
    info = json.loads(run("info", dst, "--json").stdout)
    assert (info["codec"], info["width"], info["height"], info["b_frames"]) == ("mpeg4", 80, 64, 0)
    assert info["i_frames"] == [0, 12, 24]
    run("extract", dst, "-o", tmp_path / "x.npz")


def test_synth_and_cache(tmp_path):
    data = tmp_path / "synth"
    run("synth", data, "--videos-per-class", "2", "--size", "48x48", "--frames", "13")
    assert (data / "splits" / "classInd.txt").exists()
    proc = run("cache", data, "-j", "2")
    assert "extracted 20" in proc.stderr
    assert len(list((data / "cache").rglob("*.npz"))) == 20
