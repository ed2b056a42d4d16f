"""Checkpoints: weights, model config, class names and training state in one file, written atomically and read
with ``torch.load(weights_only=True)`` (no pickled code is ever executed).

Training writes them; training, evaluation, export, energy and the runtime read them: this module stands below all
of those (it imports only torch and the model registry), so none of them needs the training package.

A checkpoint is a dict of tensors and plain Python values:
``format`` ("neurocv-checkpoint"), ``version``, ``model`` (registered name), ``config`` (dict of the model config),
``classes`` (list of str), ``state_dict``, and for resuming ``epoch``, ``optimizer``, ``scheduler``, ``rng``,
``metrics`` (list of per-epoch dicts), ``best_top1``, ``train_config``, ``data`` (the training data folder,
resolved; int8 calibration at export reads its clips).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from ._io import atomic_path
from .errors import CheckpointError

__all__ = ["FORMAT", "VERSION", "save_checkpoint", "load_checkpoint", "build_model_from_checkpoint",
           "input_settings"]

FORMAT = "neurocv-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, **payload}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely; a missing, corrupt or foreign file raises CheckpointError naming it."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).exists():
                return load_checkpoint(path / name)
        raise CheckpointError(f"{path}: folder holds no best.pt or last.pt")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated?): not a torch zip archive")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated?): {first}") from None
    except Exception as exc:
        if "weights only" in str(exc).lower():  # weights_only refuses pickled code: a foreign or unsafe file
            raise CheckpointError(f"{path}: refused to load: it holds pickled objects, not only tensors and plain "
                                  "values (only load files you trust with other tools)") from None
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated?): "
                              f"{exc.__class__.__name__}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a neurocv checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt['version']} is newer than this neurocv ({VERSION})")
    for key in ("model", "config", "classes", "state_dict"):
        if key not in ckpt:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'")
    return ckpt


def build_model_from_checkpoint(ckpt: dict) -> torch.nn.Module:
    """Rebuild the network a checkpoint describes and load its weights (eval mode)."""
    from .models import model_from_config

    model = model_from_config(ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def input_settings(ckpt: dict, segments: int | None = None, crop: int | None = None) -> tuple[int, int, bool]:
    """``(segments, crop, accumulate)`` a checkpoint was trained with; ``segments`` / ``crop`` override them."""
    tc = ckpt.get("train_config", {})
    return (segments or tc.get("segments", 8), crop or tc.get("crop", 224), bool(tc.get("accumulate", True)))
