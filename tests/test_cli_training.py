"""Training and evaluation as a newcomer runs them (issue 12): progress on stderr only, one readable line per epoch,
resuming announced, a different --epochs on a started run refused, eval's confusion.png titled, predict --json as
JSON lines. The real ``neurocv`` from a folder outside the repository."""

from __future__ import annotations

import json

import pytest

from ._cli import assert_ok, assert_short_error, user_run

TRAIN = ["train", "data", "-o", "run", "--epochs", "1", "--batch-size", "4", "--crop", "32", "--segments", "3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    synth = assert_ok(user_run(d, "synth", "data", "--videos-per-class", "2", "--size", "48x48", "--frames", "13"))
    assert synth.stdout.strip() == str(d / "data") or synth.stdout.strip() == "data"   # only the result
    proc = assert_ok(user_run(d, *TRAIN))
    return d, proc


def test_train_prints_one_line_per_epoch_and_a_readable_summary(trained):
    _, proc = trained
    assert proc.stdout == ""                                    # progress and summaries never reach stdout
    lines = proc.stderr.splitlines()
    epoch = [ln for ln in lines if ln.startswith("epoch 1/1: ")]
    assert len(epoch) == 1 and "validation loss" in epoch[0] and " %" in epoch[0]
    final = lines[-1]
    assert final.startswith("finished epoch 1/1: ") and "best.pt" in final and "{" not in final
    assert all(len(num) <= 6 for num in final.replace(";", " ").replace(",", " ").split() if num[0].isdigit())


def test_resuming_is_announced_and_a_different_length_refused(trained):
    d, _ = trained
    again = assert_ok(user_run(d, *TRAIN))
    assert "resuming run/last.pt: 1 of 1 epochs done (finished already)" in again.stderr
    longer = TRAIN[:5] + ["3"] + TRAIN[6:]
    assert_short_error(user_run(d, *longer), "a run of 1 epochs (1 done)", "--epochs 1", "--no-resume")


def test_eval_and_predict_outputs(trained):
    d, _ = trained
    proc = assert_ok(user_run(d, "eval", "run/best.pt", "data", "-o", "run/eval", "--json"))
    result = json.loads(proc.stdout)                           # no progress bar mixed into the JSON
    assert result["n_videos"] == 10 and (d / "run" / "eval" / "confusion.png").is_file()
    video = "data/videos/zoom_in/zoom_in_000.mp4"
    lines = assert_ok(user_run(d, "predict", "run/best.pt", video, video, "--json")).stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(ln)["video"] == video for ln in lines)   # JSON lines, as `run`


def test_extract_warns_when_segments_exceed_the_frames(trained):
    d, _ = trained
    proc = assert_ok(user_run(d, "extract", "data/videos/zoom_in/zoom_in_000.mp4", "-o", "x.npz",
                              "--segments", "40"))
    assert "warning: 40 segments from a 13-frame video" in proc.stderr
