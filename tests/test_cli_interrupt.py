"""Ctrl-C (issue 12): a command stops within seconds, exits 130 and says in one line what was kept and how to go on.
SIGINT is sent to the real ``neurocv`` process, started from a folder outside the repository."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from ._cli import assert_ok, user_popen, user_run


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
    proc = user_popen(tmp_path, "cache", "data", "-j", "2")
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
    proc = user_popen(tmp_path, "train", "data", "-o", "run", "--epochs", "50", "--batch-size", "4", "--crop", "32")
    _interrupt_when(proc, lambda: Path(tmp_path, "run", "last.pt").exists())
    err = _stderr_after_interrupt(proc, within_s=30)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted:") and "last.pt" in last and "resume" in last


def test_train_interrupt_hint_says_what_last_pt_holds(tmp_path):
    """Before the first epoch ends there is nothing to resume from, and the line says so; once last.pt is
    written (or it was there to resume), it names it; with --no-resume an old last.pt is not this run's."""
    import os

    from neurocv.cli.training import _interrupt_hint

    last = tmp_path / "last.pt"
    hint = _interrupt_hint(last, resume=True)
    assert hint().startswith(f"no epoch finished, so nothing was saved to {tmp_path}")
    last.write_bytes(b"epoch 1")
    assert hint() == f"{last} keeps the last finished epoch; run the same command again to resume from it"
    fresh = _interrupt_hint(last, resume=False)          # --no-resume over an old run's last.pt
    assert fresh().startswith("no epoch finished")
    os.utime(last, ns=(1, 1))                           # this run wrote its first epoch
    assert fresh().endswith("run the command again without --no-resume to resume from it")


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
    proc = user_popen(tmp_path, "run", "dep", *["v.mp4"] * 50, "--json", "--ops", "ops.json")
    first = proc.stdout.readline()                          # one video done: the worker is up and busy with the next
    assert '"top1"' in first, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    err = _stderr_after_interrupt(proc, within_s=10)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: the results printed so far stand; ops.json was not written")
    assert not (tmp_path / "ops.json").exists()


_DISPOSITIONS = ("import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
                 "signal.getsignal(signal.SIGQUIT) == signal.SIG_DFL)")


def test_cli_children_get_terminal_signals_however_the_tests_were_started(tmp_path, monkeypatch):
    """``make test &`` in a non-interactive shell, ``nohup``, many CI wrappers: the test run inherits SIGINT and
    SIGQUIT as ignored, and an ignored disposition survives exec. The helpers that start the CLI put the defaults
    back in the child; if they stopped doing it, the Ctrl-C tests above would fail only when started that way."""
    import sys

    from . import _cli

    monkeypatch.setattr(_cli, "NEUROCV", [sys.executable, "-c", _DISPOSITIONS])
    old = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    try:
        plain = subprocess.run(_cli.NEUROCV, capture_output=True, text=True, check=True)
        ran = user_run(tmp_path)
        started = user_popen(tmp_path)
        started_out = started.communicate(timeout=60)[0]
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGQUIT, old[1])
    assert plain.stdout.split() == ["False", "False"]     # the trap exists: a plain child keeps them ignored
    assert assert_ok(ran).stdout.split() == ["True", "True"]
    assert started.returncode == 0 and started_out.split() == ["True", "True"]


def test_tests_that_send_sigint_start_the_cli_through_the_helpers():
    """A test that sends SIGINT to a child it started with a bare ``subprocess.Popen`` depends on how pytest was
    started (see above): start it with ``_cli.user_popen`` or pass ``**_cli.CHILD``."""
    here = Path(__file__).parent
    offenders = [f.name for f in here.rglob("test_*.py")
                 if "SIGINT" in (t := f.read_text()) and "subprocess.Popen(" in t and "**CHILD" not in t
                 and f.name != Path(__file__).name]
    assert not offenders, offenders
