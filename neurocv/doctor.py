"""``neurocv doctor``: is everything neurocv needs in place? One check a line: what was found, or what is missing and
the one command that fixes it.

Checks: this environment (Python, neurocv, torch and which build, every dependency against the installed package's
requirement ranges), the Lava environment (``$NEUROCV_LAVA_PYTHON``, else ``<repo>/.venv-lava/bin/python``: Python
3.10, lava-nc, nir, h5py, numpy < 2) and the Lava worker itself (started, answers, stopped).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Check", "run_checks"]

LAVA_REQUIREMENTS = ('lava-nc==0.10.0', 'nir==1.0.8', 'h5py>=3.10', 'numpy<2')
_LAVA_PROBE = r"""
import json, sys
from importlib.metadata import version
found = {"python": sys.version.split()[0]}
for dist, mod in (("lava-nc", "lava.magma.core.run_configs"), ("nir", "nir"), ("h5py", "h5py"), ("numpy", "numpy")):
    try:
        __import__(mod)
        found[dist] = version(dist)
    except Exception as e:
        found[dist] = None
print(json.dumps(found))
"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{'ok' if self.ok else 'MISSING':<8} {self.name}: {self.detail}" + ("" if self.ok else
                                                                                      f"; fix: {self.fix}")


def _in_checkout() -> bool:
    from .hardware.lava_backend import REPO_ROOT

    return (REPO_ROOT / "scripts" / "setup_env.sh").is_file() and (REPO_ROOT / "Makefile").is_file()


def _main_fix(requirement: str) -> str:
    return "make env" if _in_checkout() else f'pip install "{requirement}"'


def _lava_fix() -> str:
    if _in_checkout():
        return "make env-lava (or set NEUROCV_LAVA_PYTHON to a Python 3.10 with lava-nc)"
    reqs = " ".join(f'"{r}"' for r in LAVA_REQUIREMENTS)
    return (f"python3.10 -m venv ~/neurocv-lava && ~/neurocv-lava/bin/pip install {reqs} && "
            f"export NEUROCV_LAVA_PYTHON=~/neurocv-lava/bin/python")


def _specifier_contains(spec: str, version: str) -> bool:
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # pip ships a copy
        from pip._vendor.packaging.specifiers import SpecifierSet
    return SpecifierSet(spec).contains(version, prereleases=True)


def _requirements() -> list:
    from importlib.metadata import PackageNotFoundError, requires

    try:
        from packaging.requirements import Requirement
    except ImportError:
        from pip._vendor.packaging.requirements import Requirement
    try:
        reqs = [Requirement(r) for r in requires("neurocv") or []]
    except PackageNotFoundError:
        return []
    return [r for r in reqs if r.marker is None]          # the core dependencies, not the [test] extra


def main_environment() -> list[Check]:
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    checks = [Check("neurocv", True, f"{__version__} ({Path(__file__).parent}), Python "
                                     f"{sys.version.split()[0]} ({sys.executable})")]
    if sys.version_info < (3, 11):
        checks.append(Check("python", False, f"{sys.version.split()[0]}; neurocv needs 3.11 or newer",
                            "make env" if _in_checkout() else "install neurocv into a Python 3.11 environment"))
    missing = []
    for req in _requirements():
        try:
            v = version(req.name)
        except PackageNotFoundError:
            missing.append(Check(req.name, False, "not installed", _main_fix(str(req))))
            continue
        if req.specifier and not _specifier_contains(str(req.specifier), v):
            missing.append(Check(req.name, False, f"{v} is outside the tested range {req.specifier}",
                                 _main_fix(str(req))))
    try:
        import torch

        build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
        gpu = ", GPU available" if torch.version.cuda and torch.cuda.is_available() else ""
        checks.append(Check("torch", True, f"{torch.__version__}, {build}{gpu}"))
    except Exception as e:  # noqa: BLE001  (a broken install is a finding, not a crash)
        if not any(c.name == "torch" for c in missing):
            missing.append(Check("torch", False, f"does not import ({type(e).__name__}: {e})",
                                 _main_fix("torch>=2.4,<2.15")))
    n = len(_requirements())
    if not missing:
        checks.append(Check("dependencies", True, f"all {n} in their ranges" if n else
                            "neurocv is not installed as a package (pip install -e .); ranges not checked"))
    return checks + missing


def lava_environment(python: str | Path | None = None, worker: bool = True) -> list[Check]:
    from .errors import NeuroCVError
    from .hardware.lava_backend import ENV_VAR, find_lava_python

    try:
        py = find_lava_python(python)
    except NeuroCVError as e:
        return [Check("Lava environment", False, str(e).split(";")[0], _lava_fix())]
    try:
        proc = subprocess.run([str(py), "-c", _LAVA_PROBE], capture_output=True, text=True, timeout=120)
        found = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return [Check("Lava environment", False, f"{py} does not run", _lava_fix())]
    checks = []
    problems = [f"{d} missing" for d in ("lava-nc", "nir", "h5py", "numpy") if not found.get(d)]
    if not found["python"].startswith("3.10."):
        problems.append(f"Python {found['python']} (lava-nc 0.10.0 needs 3.10)")
    if found.get("numpy") and not _specifier_contains("<2", found["numpy"]):
        problems.append(f"numpy {found['numpy']} (Lava needs numpy < 2)")
    where = f"{py}" + (f" (from ${ENV_VAR})" if python is None and __import__("os").environ.get(ENV_VAR) else "")
    if problems:
        return [Check("Lava environment", False, f"{where}: {', '.join(problems)}", _lava_fix())]
    checks.append(Check("Lava environment", True, f"{where}: Python {found['python']}, lava-nc {found['lava-nc']}, "
                                                  f"nir {found['nir']}, numpy {found['numpy']}"))
    if worker:
        from .hardware.lava_backend import LavaSTMRunner

        t0 = time.perf_counter()
        try:
            runner = LavaSTMRunner({}, "float", python=py, start_timeout_s=60)
            runner.close()
            checks.append(Check("Lava worker", True, f"started, answered and stopped in "
                                                     f"{time.perf_counter() - t0:.1f} s"))
        except NeuroCVError as e:
            checks.append(Check("Lava worker", False, str(e).split("; run")[0], _lava_fix()))
    return checks


def run_checks(lava_python: str | Path | None = None, worker: bool = True) -> list[Check]:
    return main_environment() + lava_environment(lava_python, worker)


def as_json(checks: list[Check]) -> str:
    return json.dumps([asdict(c) for c in checks])
