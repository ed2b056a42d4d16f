#!/usr/bin/env bash
# Builds the two environments of neurocv when missing (idempotent; a stamp file records a finished build).
#   .venv       Python 3.11: torch (CPU or CUDA build in pyproject.toml's range; here 2.13.0 CPU), numpy 2, PyAV, ONNX, onnxruntime, NIR, nirtorch, norse + neurobench (--no-deps), CLI, tests, docs (MkDocs)
#   .venv-lava  Python 3.10: lava-nc 0.10.0, lava-dl 0.6.0 (netx) with torch 2.3.1, nir, h5py, numpy < 2 (Lava runs only
#               on 3.10 with numpy < 2). Only the netx worker imports torch; the Lava worker never does (tested).
# Usage: scripts/setup_env.sh [main|lava|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Whether .venv holds a torch inside the range pyproject.toml asks for.
torch_in_range() {
  [ -x .venv/bin/python ] && .venv/bin/python - <<'EOF' 2>/dev/null
import sys, tomllib
from importlib.metadata import PackageNotFoundError, version
from pip._vendor.packaging.requirements import Requirement

with open("pyproject.toml", "rb") as fh:
    deps = [Requirement(d) for d in tomllib.load(fh)["project"]["dependencies"]]
spec = next(d.specifier for d in deps if d.name == "torch")
try:
    sys.exit(0 if spec.contains(version("torch"), prereleases=True) else 1)
except PackageNotFoundError:
    sys.exit(1)
EOF
}

build_main() {
  if [ -f .venv/.neurocv-ready ] && cmp -s pyproject.toml .venv/.neurocv-ready; then return 0; fi
  py=$(scripts/find_python.sh 3.11)
  echo "[setup] building .venv with $py" >&2
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  # torch first: a torch already in pyproject.toml's range (CPU or CUDA build) is kept; otherwise $NEUROCV_TORCH
  # (default torch==2.13.0, which pip takes as the CPU build from the local wheels here) is installed before the
  # project, so that resolving the project cannot pull a multi-GB CUDA build where a CPU one is wanted.
  if torch_in_range; then
    echo "[setup] keeping the installed torch (in pyproject.toml's range)" >&2
  else
    .venv/bin/pip install -q "${NEUROCV_TORCH:-torch==2.13.0}"
  fi
  .venv/bin/pip install -q -e ".[test,docs]"
  # norse's requirements pull torchvision and a CUDA torch: install it alone.
  .venv/bin/pip install -q --no-deps "norse==1.1.0"
  # NeuroBench (the op-count agreement test) pins old nir / nirtorch and pulls torchaudio: install it alone, with
  # the one package its metrics import (snntorch, itself dependency-free beyond torch / numpy).
  .venv/bin/pip install -q --no-deps "neurobench==2.3.0" "snntorch==1.0.0"
  .venv/bin/python -c "import torch, av, onnx, onnxruntime, nir, nirtorch, norse, typer, rich, matplotlib, neurobench.metrics.workload, mkdocs, material, mkdocstrings_handlers.python"
  .venv/bin/python -c "import torch; print(f'[setup] torch {torch.__version__}:', f'CUDA {torch.version.cuda} build' if torch.version.cuda else 'CPU build')" >&2
  cp pyproject.toml .venv/.neurocv-ready
}

build_lava() {
  if [ -f .venv-lava/.neurocv-ready ] && cmp -s scripts/requirements-lava.txt .venv-lava/.neurocv-ready; then return 0; fi
  py=$(scripts/find_python.sh 3.10) || { echo "error: .venv-lava needs Python 3.10 (lava-nc 0.10.0 fails to import on 3.11)" >&2; exit 1; }
  echo "[setup] building .venv-lava with $py" >&2
  [ -x .venv-lava/bin/python ] || "$py" -m venv .venv-lava
  .venv-lava/bin/pip install -q -r scripts/requirements-lava.txt
  .venv-lava/bin/python -c "import lava.magma.core.run_configs, lava.proc.conv.process, nir, h5py, numpy; assert numpy.__version__ < '2'"
  .venv-lava/bin/python -c "import lava.lib.dl.netx, torch; assert torch.__version__.startswith('2.3.')" >/dev/null
  cp scripts/requirements-lava.txt .venv-lava/.neurocv-ready
}

case "$what" in
  main) build_main ;;
  lava) build_lava ;;
  all) build_main; build_lava ;;
  *) echo "usage: $0 [main|lava|all]" >&2; exit 2 ;;
esac
