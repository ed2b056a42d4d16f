"""Run the real ``neurocv`` entry point the way a user does: from a working folder outside the repository, with
relative paths. Shared by the CLI tests (test_cli_*.py, test_newcomer.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

_SCRIPT = Path(sys.executable).with_name("neurocv")
# the console script pip installed beside this interpreter; `python -m neurocv.cli` where there is none
NEUROCV = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "neurocv.cli"]
REPO = Path(__file__).resolve().parents[1]


def terminal_signals() -> None:
    """Run in a child between fork and exec: SIGINT and SIGQUIT back to their default, as a terminal's foreground
    job has them. A job started in the background by a non-interactive shell (``make test &``, nohup, many CI
    wrappers) inherits both as *ignored*, and an ignored disposition survives exec; without this the CLI never
    sees the tests' Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


# keyword arguments for subprocess.run / Popen: every CLI child of the tests starts as if from a terminal
CHILD = {"preexec_fn": terminal_signals}


def user_folder(tmp_path_factory, clip_factory) -> Path:
    """A fresh user's folder with ``v.mp4`` (a 26-frame synthetic clip) and ``tiny.pt`` (an untrained stm-tiny
    checkpoint, seed 0, 32x32 crops, 3 segments)."""
    import torch

    from neurocv.checkpoint import save_checkpoint
    from neurocv.models import create_model
    from neurocv.synth import ACTIONS

    d = tmp_path_factory.mktemp("user")
    shutil.copy(clip_factory("translate_left", width=64, height=48, n_frames=26, seed=4)[0], d / "v.mp4")
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3)
    save_checkpoint(d / "tiny.pt", {"model": "stm-tiny", "config": model.config_dict(), "classes": list(ACTIONS),
                                    "state_dict": model.state_dict(), "epoch": 1,
                                    "train_config": {"segments": 3, "crop": 32, "accumulate": True}})
    return d


def user_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(COLUMNS="100", **extra)
    return env


def user_run(cwd: Path, *args, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """``neurocv ARGS`` run in ``cwd`` (which must not be inside the repository)."""
    _outside_repo(cwd)
    return subprocess.run(NEUROCV + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env=env or user_env(), timeout=timeout, **CHILD)


def user_popen(cwd: Path, *args, env: dict | None = None) -> subprocess.Popen:
    """``neurocv ARGS`` started in ``cwd`` (outside the repository) with text pipes for stdout and stderr, ready to
    be sent a signal: its SIGINT and SIGQUIT are the defaults whatever the test run inherited."""
    _outside_repo(cwd)
    return subprocess.Popen(NEUROCV + [str(a) for a in args], cwd=cwd, env=env or user_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **CHILD)


def _outside_repo(cwd: Path) -> None:
    assert REPO not in Path(cwd).resolve().parents and Path(cwd).resolve() != REPO, "run from outside the repo"


def assert_ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def assert_short_error(proc: subprocess.CompletedProcess, *needles: str, code: int = 2, max_lines: int = 1
                       ) -> str:
    """Exit ``code``, no traceback, at most ``max_lines`` lines on stderr, each of ``needles`` in it."""
    text = proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode} (wanted {code}): {text[-2000:]}"
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert 1 <= len(lines) <= max_lines, f"{len(lines)} lines on stderr:\n{text}"
    for n in needles:
        assert n in text, f"{n!r} not in stderr: {text}"
    return text


def assert_usage_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """typer's usage message: the usage line, the help hint and the error panel; exit 2."""
    text = assert_short_error(proc, "Usage: ", *needles, code=2, max_lines=8)
    assert "--help" in text
    return text


def torchrun(module_args: list, log_dir: Path, env: dict, nproc: int = 2) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone -m neurocv.cli ARGS`` with ``nproc`` CPU ranks (gloo).

    ``--standalone`` lets the rendezvous pick a free port (two test runs on one machine cannot collide), and each
    rank's stdout / stderr is also teed into ``log_dir``: where the run fails, the assertion message carries the
    tail of every rank's own log, which torchrun's summary of a crashed rank (an exit code, a signal) does not."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           f"--log-dir={log_dir}", "--tee=3", "-m", "neurocv.cli", *map(str, module_args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        logs = "\n".join(f"--- {p.relative_to(log_dir)}:\n{p.read_text(errors='replace')[-1500:]}"
                         for p in sorted(Path(log_dir).rglob("std*.log")) if p.stat().st_size)
        raise AssertionError(f"torchrun exited {proc.returncode}\n{proc.stderr[-3000:]}\n{logs}")
    return proc
