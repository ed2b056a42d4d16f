"""Training: checkpoints, exact resume after a kill, DDP on two gloo processes, evaluation and prediction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from neurocv.errors import CheckpointError
from neurocv.synth import make_synthetic_dataset
from neurocv.training import TrainConfig, evaluate, load_checkpoint, predict_videos, train

from .._cli import torchrun

# A very small network and dataset so that each run takes seconds.
SMALL = (("dim", 32), ("depth", 1), ("heads", 2), ("stm_channels", (8, 8)), ("mixer_dim", 16), ("rrdb_growth", 8))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train") / "synth"
    make_synthetic_dataset(root, videos_per_class=2, test_fraction=0.5, width=48, height=48, n_frames=13, seed=1,
                           progress=False)
    return root


def cli_train(data, out, epochs, extra=()):
    sets = [a for k, v in SMALL for a in ("--set", f"{k}={json.dumps(v)}")]
    return [sys.executable, "-m", "neurocv.cli", "train", str(data), "--out", str(out), "--epochs", str(epochs),
            "--batch-size", "4", "--segments", "2", "--crop", "48", "--seed", "3", *sets, *extra]


def test_train_writes_checkpoints_metrics_and_curves(tmp_path, data):
    cfg = TrainConfig(epochs=2, batch_size=4, segments=2, crop=48, seed=0, model_overrides=SMALL, progress=False)
    row = train(data, tmp_path / "run", cfg)
    assert row["epoch"] == 2 and 0.0 <= row["val_top1"] <= 1.0
    for name in ("last.pt", "best.pt", "metrics.json", "metrics.csv", "curves.png"):
        assert (tmp_path / "run" / name).exists(), name
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["classes"][0] == "translate_right" and len(ckpt["metrics"]) == 2
    assert ckpt["train_config"]["lr"] == 0.02 and ckpt["train_config"]["eps"] == 1e-3  # the paper's defaults


def test_resume_after_kill_ends_where_an_uninterrupted_run_ends(tmp_path, data):
    straight = tmp_path / "straight"
    subprocess.run(cli_train(data, straight, 3), check=True, env=ENV, capture_output=True, timeout=600)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cli_train(data, killed, 3), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "last.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "training ended before its first checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert load_checkpoint(killed / "last.pt")["epoch"] < 2  # really killed before the end
    subprocess.run(cli_train(data, killed, 3), check=True, env=ENV, capture_output=True, timeout=600)
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(killed / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    assert [m["val_top1"] for m in a["metrics"]] == [m["val_top1"] for m in b["metrics"]]


def test_two_process_ddp_on_gloo(tmp_path, data):
    out = tmp_path / "ddp"
    torchrun(cli_train(data, out, 1)[3:], tmp_path / "logs", ENV)
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["epoch"] == 0 and len(ckpt["metrics"]) == 1
    result = evaluate(out / "last.pt", data)
    assert result["n_videos"] == 10


def test_eval_and_predict(tmp_path, data):
    cfg = TrainConfig(epochs=1, batch_size=4, segments=2, crop=48, model_overrides=SMALL, progress=False)
    train(data, tmp_path / "run", cfg)
    result = evaluate(tmp_path / "run" / "best.pt", data, tmp_path / "eval")
    assert result["n_videos"] == 10 and 0 <= result["top1"] <= result["top5"] <= 1
    assert sum(map(sum, result["confusion"])) == 10 and len(result["per_class"]) == 10
    # each wrong video named once, with the true and predicted classes the confusion matrix counts off its diagonal
    conf, classes = result["confusion"], result["classes"]
    assert len(result["wrong"]) == 10 - sum(conf[k][k] for k in range(len(conf)))
    for w in result["wrong"]:
        assert Path(w["video"]).exists() and w["label"] != w["predicted"]
        assert Path(w["video"]).parent.name == w["label"]
        assert conf[classes.index(w["label"])][classes.index(w["predicted"])] > 0
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["top1"] == result["top1"]
    assert (tmp_path / "eval" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    video = next((data / "videos" / "static").iterdir())
    preds = predict_videos(tmp_path / "run" / "best.pt", [video, tmp_path / "missing.mp4"])
    probs = [p["probability"] for p in preds[0]["top"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert "error" in preds[1] and "missing.mp4" in preds[1]["error"]
    proc = subprocess.run([sys.executable, "-m", "neurocv.cli", "eval", str(tmp_path / "run" / "best.pt"), str(data),
                           "--json"], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0 and {"top1", "top5", "n_videos"} <= set(json.loads(proc.stdout))


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a neurocv checkpoint"):
        load_checkpoint(foreign)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "neurocv-checkpoint", "x": Evil()}, evil)
    with pytest.raises(CheckpointError, match="refused|not a readable"):
        load_checkpoint(evil)
    proc = subprocess.run([sys.executable, "-m", "neurocv.cli", "eval", str(junk), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "junk.pt" in proc.stderr and "Traceback" not in proc.stderr


def test_metrics_log_each_stm_layers_v_th_and_lambda_learned_ones_move(tmp_path, data):
    runs = {}
    for stm in ("stm", "fixed"):
        cfg = TrainConfig(epochs=2, batch_size=4, segments=2, crop=48, seed=0, progress=False,
                          model_overrides=SMALL + (("stm", stm),))
        train(data, tmp_path / stm, cfg)
        runs[stm] = json.loads((tmp_path / stm / "metrics.json").read_text())
    rows = runs["stm"]
    keys = [f"{p}/temporal.{m}.layers.{k}" for p in ("v_th", "lambda") for m in ("mv", "r") for k in (0, 1)]
    for key in keys:
        assert rows[0][f"{key}@start"] == pytest.approx(0.1 if key.startswith("v_th") else 0.5, rel=1e-6)
        assert all(key in r for r in rows)
    moved = [abs(rows[-1][k] - rows[0][f"{k}@start"]) for k in keys]
    assert max(moved) > 1e-4, moved                                   # learned: they move
    fixed = runs["fixed"]
    assert all(fixed[-1][k] == fixed[0][f"{k}@start"] for k in keys)  # fixed: they do not
    header = (tmp_path / "stm" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "v_th/temporal.mv.layers.0" in header and "v_th/temporal.mv.layers.0@start" in header


def test_metrics_of_a_run_resumed_from_rows_without_neuron_parameters(tmp_path):
    from neurocv.training.loop import write_metrics

    old = {"epoch": 1, "train_loss": 2.0, "train_top1": 0.1, "val_loss": 2.0, "val_top1": 0.1, "val_top5": 0.5,
           "lr": 1e-3, "seconds": 1.0}                      # logged before v_th / lambda were
    new = {**old, "epoch": 2, "v_th/temporal.mv.layers.0": 0.11, "lambda/temporal.mv.layers.0": 0.5}
    write_metrics(tmp_path, [old, new])
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert "v_th/temporal.mv.layers.0" in (tmp_path / "metrics.csv").read_text().splitlines()[0]
