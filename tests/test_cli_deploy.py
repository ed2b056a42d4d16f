"""`neurocv export` and `neurocv run` as a user runs them: JSON lines on stdout, one-line errors, exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from neurocv.cli import main
from neurocv.models import create_model
from neurocv.synth import ACTIONS
from neurocv.training.checkpoint import save_checkpoint


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``neurocv ARGS`` in this process (no re-import of torch); returns (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        rc = 0
    except SystemExit as e:
        rc = e.code or 0
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, {"model": "stm-tiny", "config": model.config_dict(), "classes": list(ACTIONS),
                           "state_dict": model.state_dict(), "epoch": 1,
                           "train_config": {"segments": 3, "crop": 32, "accumulate": True}})
    return path


@pytest.fixture(scope="module")
def deploy_dir(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "deploy"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["export", str(checkpoint), "-o", str(out), "--json"])   # in process: no second torch import
    return out, json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def videos(clip_factory):
    return [clip_factory(a, width=64, height=48, n_frames=26, seed=s)[0]
            for a, s in (("translate_left", 4), ("oscillate", 5))]


def test_export_cli_writes_the_deployment(deploy_dir):
    out, manifest = deploy_dir
    assert manifest["model"]["name"] == "stm-tiny" and manifest["input"]["segments"] == 3
    assert {"ann.onnx", "stm_mv.nir", "stm_residual.nir", "validation.json"} <= set(manifest["files"])
    assert (out / "manifest.json").is_file()


def test_run_json_lines_with_check_and_ops(deploy_dir, videos, capsys, tmp_path):
    ops = tmp_path / "ops.json"
    rc, out, err = cli(capsys, "run", deploy_dir[0], *videos, "--backend", "torch", "--check", "--json",
                       "--ops", ops)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["video"] for r in lines] == [str(v) for v in videos]
    for r in lines:
        assert r["top1"] in ACTIONS and r["top1"] == r["torch_top1"]
        assert set(r["max_abs_diff"]) == {"stm_mv", "stm_r", "ann", "logits"} and r["max_abs_diff"]["logits"] < 1e-3
    report = json.loads(ops.read_text())
    assert report["schema"] == "neurocv.ops/1" and report["n_videos"] == 2 and report["segments"] == 3
    assert len(report["videos"]) == 2 and report["per_video"]["layers"][-1]["name"] == "ann"


def test_run_text_output(deploy_dir, videos, capsys):
    rc, out, err = cli(capsys, "run", deploy_dir[0], videos[0], "--backend", "torch", "--check")
    assert rc == 0, err
    assert "top-1" in out and "max |diff|" in out and "stm_mv" in out


def test_run_goes_on_after_a_bad_video_and_exits_non_zero(deploy_dir, videos, tmp_path):
    bad = tmp_path / "text.mp4"
    bad.write_text("not a video")
    proc = subprocess.run([sys.executable, "-m", "neurocv.cli", "run", str(deploy_dir[0]), str(bad), str(videos[0]),
                           "--backend", "torch", "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "Traceback" not in proc.stderr
    results = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert "error" in results[0] and results[1]["top1"] in ACTIONS


def test_bad_deployment_is_one_line_exit_2(deploy_dir, videos, capsys, tmp_path):
    rc, _, err = cli(capsys, "run", tmp_path / "nowhere", videos[0], "--backend", "torch")
    assert rc == 2 and err.count("\n") == 1 and "no manifest.json" in err
    rc, _, err = cli(capsys, "run", deploy_dir[0], videos[0], "--backend", "gpu")
    assert rc == 2 and "'gpu' is not one of" in err and "Usage:" in err    # a usage error, typer's message


def test_missing_lava_environment_is_one_line_exit_2(deploy_dir, videos, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCV_LAVA_PYTHON", str(tmp_path / "missing" / "python"))
    rc, _, err = cli(capsys, "run", deploy_dir[0], videos[0], "--backend", "lava-float")
    assert rc == 2 and err.count("\n") == 1 and "make env-lava" in err


def test_export_of_a_bad_checkpoint(capsys, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    rc, _, err = cli(capsys, "export", junk, "-o", tmp_path / "out")
    assert rc == 2 and "junk.pt" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_export_refuses_non_partitionable_model(capsys, tmp_path):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=2, input_size=(32, 32), segments=2, order="LS-T-GS")
    path = tmp_path / "lst.pt"
    save_checkpoint(path, {"model": "stm-tiny", "config": model.config_dict(), "classes": ["a", "b"],
                           "state_dict": model.state_dict()})
    rc, _, err = cli(capsys, "export", path, "-o", tmp_path / "out")
    assert rc == 2 and "T-LS-GS" in err and err.count("\n") == 1


def test_runtime_reads_videos_like_neurocv_predict(checkpoint, deploy_dir, videos, capsys):
    """Same test-time protocol as `neurocv eval` / `predict` (segments, centre crop, normalisation): same top-5."""
    from neurocv.training import predict_videos

    want = predict_videos(checkpoint, videos)
    rc, out, err = cli(capsys, "run", deploy_dir[0], *videos, "--backend", "torch", "--json")
    assert rc == 0, err
    for w, line in zip(want, out.strip().splitlines()):
        got = json.loads(line)["top5"]
        assert [p["class"] for p in got] == [p["class"] for p in w["top"]]
        assert np.allclose([p["probability"] for p in got], [p["probability"] for p in w["top"]], atol=1e-5)
