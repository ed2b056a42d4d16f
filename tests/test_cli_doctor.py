"""`neurocv doctor` (issue 12): one line per check, the fixing command for what is missing; and neurocv installed
outside a checkout finds a Lava environment through NEUROCV_LAVA_PYTHON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from neurocv.hardware.lava_backend import REPO_ROOT

from ._cli import assert_ok, user_env, user_run

LAVA_PYTHON = REPO_ROOT / ".venv-lava" / "bin" / "python"


def test_doctor_here_is_all_ok(tmp_path):
    checks = json.loads(assert_ok(user_run(tmp_path, "doctor", "--json")).stdout)
    names = [c["name"] for c in checks]
    assert names == ["neurocv", "torch", "dependencies", "Lava environment", "Lava worker"]
    assert all(c["ok"] for c in checks), checks
    torch = next(c for c in checks if c["name"] == "torch")
    assert "CPU build" in torch["detail"] or "CUDA" in torch["detail"]


def test_doctor_names_what_is_missing_and_the_fix(tmp_path):
    proc = user_run(tmp_path, "doctor", env=user_env(NEUROCV_LAVA_PYTHON=str(tmp_path / "nowhere" / "python")))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("MISSING  Lava environment")
    assert "nowhere/python" in lines[-1] and "fix: make env-lava" in lines[-1]
    # the main environment's Python is no Lava environment: every reason on one line
    proc = user_run(tmp_path, "doctor", "--lava-python", sys.executable, "--no-worker")
    assert proc.returncode == 1
    last = proc.stdout.strip().splitlines()[-1]
    assert "lava-nc missing" in last and "needs 3.10" in last and "numpy < 2" in last


def test_installed_outside_a_checkout_the_worker_starts_from_NEUROCV_LAVA_PYTHON(tmp_path):
    """A copy of the package in a bare site folder (as `pip install` leaves it): the worker gets a PYTHONPATH that
    holds neurocv only, and the Lava environment comes from NEUROCV_LAVA_PYTHON."""
    site = tmp_path / "site"
    shutil.copytree(REPO_ROOT / "neurocv", site / "neurocv", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    env = user_env(PYTHONPATH=str(site), NEUROCV_LAVA_PYTHON=str(LAVA_PYTHON))
    proc = subprocess.run([sys.executable, "-m", "neurocv.cli", "doctor", "--json"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert str(site / "neurocv") in checks["neurocv"]["detail"]
    assert "NEUROCV_LAVA_PYTHON" in checks["Lava environment"]["detail"] and checks["Lava worker"]["ok"]
    code = "from neurocv.hardware.lava_backend import worker_pythonpath as w; p = w(); print(p, sorted(p.iterdir()))"
    got = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True).stdout
    path, listing = got.split(" ", 1)
    assert Path(path) != site and listing.strip() == f"[PosixPath('{path}/neurocv')]"
