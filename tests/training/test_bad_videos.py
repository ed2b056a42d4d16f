"""A dataset with broken videos: training and evaluation skip them with one warning each and count them at the end;
--strict stops at the first one with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from neurocv.data import load_split
from neurocv.synth import make_synthetic_dataset

from .._cli import torchrun

SMALL = (("dim", 16), ("depth", 1), ("heads", 2), ("stm_channels", (4, 4)), ("mixer_dim", 8), ("rrdb_growth", 4))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """60 videos (6 per class), of which one training and one test video are broken: a header cut short and a
    text file with a video's name."""
    root = tmp_path_factory.mktemp("bad") / "synth"
    make_synthetic_dataset(root, videos_per_class=6, test_fraction=0.34, width=32, height=32, n_frames=7, seed=2,
                           progress=False)
    train, test = load_split(root, "train"), load_split(root, "test")
    assert len(train) + len(test) == 60
    cut, text = train.items[5][0], test.items[3][0]
    cut.write_bytes(cut.read_bytes()[:300])
    text.write_text("not a video\n")
    return root, [str(cut), str(text)]


def neurocv(*args):
    return subprocess.run([sys.executable, "-m", "neurocv.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600)


def train_args(data, out, *extra):
    sets = [a for k, v in SMALL for a in ("--set", f"{k}={json.dumps(v)}")]
    return ["train", data, "--out", out, "--epochs", "1", "--batch-size", "8", "--segments", "2", "--crop", "32",
            "--seed", "1", *sets, *extra]


def test_training_skips_broken_videos_and_reports_them(tmp_path, broken):
    data, bad = broken
    proc = neurocv(*train_args(data, tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: skipping")]
    assert len(warnings) == 2  # one each, though the test video is read again by validation only once an epoch
    assert all(any(b in line for line in warnings) for b in bad)
    assert "skipped 2 unreadable videos" in proc.stderr
    listed = json.loads((tmp_path / "run" / "skipped_videos.json").read_text())
    assert sorted(r["video"] for r in listed) == sorted(bad) and all(r["reason"] for r in listed)
    assert "; 2 unreadable videos skipped;" in proc.stderr.split("finished epoch ", 1)[1].splitlines()[0]

    # evaluation scores the 19 readable test videos and says it skipped one
    proc = neurocv("eval", tmp_path / "run" / "last.pt", data, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["n_videos"] == len(load_split(data, "test")) - 1 and result["n_skipped"] == 1
    assert result["skipped"][0]["video"] == bad[1]
    text = neurocv("eval", tmp_path / "run" / "last.pt", data)
    assert f"on {result['n_videos']} videos" in text.stdout and "1 unreadable skipped" in text.stdout
    strict = neurocv("eval", tmp_path / "run" / "last.pt", data, "--strict")
    lines = [line for line in strict.stderr.splitlines() if line.strip()]
    assert strict.returncode == 2 and len(lines) == 1 and bad[1] in lines[0]


def test_strict_stops_at_the_first_broken_video_with_one_line(tmp_path, broken):
    data, bad = broken
    proc = neurocv(*train_args(data, tmp_path / "run", "--strict"))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    assert bad[0] in lines[0] and "--strict" in lines[0]
    assert not (tmp_path / "run" / "last.pt").exists()


def test_cached_failures_are_skipped_without_decoding(tmp_path, broken, monkeypatch):
    """A video `neurocv cache` recorded as failed is skipped from that record (the reader is not called)."""
    from neurocv.data import CompressedVideoDataset, cache_dataset
    from neurocv.data import dataset as dataset_module

    data, bad = broken
    report = cache_dataset(data, tmp_path / "cache", workers=1, progress=False)
    assert sorted(v for v, _ in report.failed) == sorted(bad) and report.done == 58
    ds = CompressedVideoDataset(data, "train", 2, 32, cache_dir=tmp_path / "cache", skip_bad=True)
    monkeypatch.setattr(dataset_module, "read_clip", lambda *a, **k: pytest.fail("decoded a known-bad video"))
    item = ds[5]
    assert item["video"] == bad[0] and bad[0] in item["error"]
    assert "iframes" in ds[0]


def test_later_epochs_do_not_decode_a_bad_video_again(tmp_path, broken, monkeypatch):
    from neurocv.data import dataset as dataset_module
    from neurocv.training import TrainConfig, train

    data, bad = broken
    calls = {b: 0 for b in bad}
    real = dataset_module.read_clip

    def counting(video, *a, **k):
        if str(video) in calls:
            calls[str(video)] += 1
        return real(video, *a, **k)

    monkeypatch.setattr(dataset_module, "read_clip", counting)
    cfg = TrainConfig(epochs=2, batch_size=8, segments=2, crop=32, seed=1, model_overrides=SMALL, progress=False,
                      workers=0)
    row = train(data, tmp_path / "run", cfg)
    assert row["epoch"] == 2 and row["skipped_videos"] == 2
    assert calls == {b: 1 for b in bad}  # tried once, then known bad


def test_ddp_ranks_report_every_skipped_video(tmp_path, broken):
    """Under torchrun each rank reads its own shard; rank 0 reports the skipped videos of all ranks."""
    data, bad = broken
    proc = torchrun(train_args(data, tmp_path / "ddp"), tmp_path / "logs", ENV)
    assert "skipped 2 unreadable videos" in proc.stderr
    listed = json.loads((tmp_path / "ddp" / "skipped_videos.json").read_text())
    assert sorted(r["video"] for r in listed) == sorted(bad)
