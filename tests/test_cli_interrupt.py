"""Ctrl-C (issue 12): a command stops within seconds, exits 130 and says in one line what was kept and how to go on.
SIGINT is sent to the real ``neurocv`` process, started from a folder outside the repository."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from ._cli import NEUROCV, assert_ok, user_env, user_run


def _interrupt_when(proc: subprocess.Popen, ready, limit_s: float = 300) -> None:
    t0 = time.monotonic()
    while not ready():
        assert proc.poll() is None, f"finished before it could be interrupted: {proc.communicate()[1][-1500:]}"
        assert time.monotonic() - t0 < limit_s, "never got going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)


def _stderr_after_interrupt(proc: subprocess.Popen, within_s: float) -> str:
    try:
        _, err = proc.communicate(timeout=within_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"still running {within_s} s after Ctrl-C")
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    return err


def test_ctrl_c_stops_cache_j2_and_it_resumes(tmp_path):
    assert_ok(user_run(tmp_path, "synth", "data", "--videos-per-class", "12", "--frames", "36"))
    total = 120
    cached = Path(tmp_path, "data", "cache")
    proc = subprocess.Popen(NEUROCV + ["cache", "data", "-j", "2"], cwd=tmp_path, env=user_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _interrupt_when(proc, lambda: cached.is_dir() and any(cached.rglob("[!.]*.npz")))
    err = _stderr_after_interrupt(proc, within_s=10)     # the bound: the pool does not drain its queue
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted:") and "data/cache" in last and "run the same command again" in last
    assert len(err.strip().splitlines()) <= 3, err
    kept = len(list(cached.rglob("[!.]*.npz")))
    assert 0 < kept < total
    again = assert_ok(user_run(tmp_path, "cache", "data", "-j", "2"))
    assert f"extracted {total - kept}, already cached {kept}, failed 0" in again.stderr
    assert not list(cached.rglob(".*.npz"))              # a killed worker's temporary file is gone


def test_ctrl_c_in_train_says_how_to_resume(tmp_path):
    assert_ok(user_run(tmp_path, "synth", "data", "--videos-per-class", "2", "--size", "48x48", "--frames", "13"))
    proc = subprocess.Popen(NEUROCV + ["train", "data", "-o", "run", "--epochs", "50", "--batch-size", "4",
                                       "--crop", "32"], cwd=tmp_path, env=user_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _interrupt_when(proc, lambda: Path(tmp_path, "run", "last.pt").exists())
    err = _stderr_after_interrupt(proc, within_s=30)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted:") and "last.pt" in last and "resume" in last


def test_ctrl_c_in_run_stops_the_lava_worker_at_once(tmp_path, clip_factory):
    """Interrupted while the Lava worker is busy with a clip: the worker is killed, not waited for."""
    import contextlib
    import io
    import shutil

    import torch

    from neurocv.checkpoint import save_checkpoint
    from neurocv.cli import main
    from neurocv.models import create_model

    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=10, input_size=(64, 64), segments=8)
    save_checkpoint(tmp_path / "m.pt", {"model": "stm-tiny", "config": model.config_dict(),
                                        "classes": [f"c{k}" for k in range(10)], "state_dict": model.state_dict(),
                                        "train_config": {"segments": 8, "crop": 64, "accumulate": True}})
    with contextlib.redirect_stdout(io.StringIO()):
        main(["export", str(tmp_path / "m.pt"), "-o", str(tmp_path / "dep"), "--no-reference"])
    shutil.copy(clip_factory("zoom_in", width=96, height=80, n_frames=40, seed=3)[0], tmp_path / "v.mp4")
    proc = subprocess.Popen(NEUROCV + ["run", "dep"] + ["v.mp4"] * 50 + ["--json", "--ops", "ops.json"],
                            cwd=tmp_path, env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()                          # one video done: the worker is up and busy with the next
    assert '"top1"' in first, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    err = _stderr_after_interrupt(proc, within_s=10)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: the results printed so far stand; ops.json was not written")
    assert not (tmp_path / "ops.json").exists()
