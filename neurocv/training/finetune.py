"""Fine-tuning from a checkpoint (``neurocv train --init CKPT``): the paper trains SS-v2 from K-400 weights.

Every tensor of the new model whose name and shape match the checkpoint's is loaded, except the classifier head
when the class names differ (a new head for the new dataset). The head's tensors are found as those whose shape
depends on the class count (a second model with one more class is built on the ``meta`` device, no memory).
The rest keeps the seeded initialisation. The report names every tensor in one of three lists:

* ``loaded`` - copied from the checkpoint;
* ``reinitialised`` - the new model's tensors left at their initialisation (new head, shape mismatch, not in the
  checkpoint);
* ``skipped`` - the checkpoint's tensors not used (old head, shape mismatch, no such tensor in the new model).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_checkpoint
from ..errors import CheckpointError

__all__ = ["init_from_checkpoint", "head_keys"]


def head_keys(name: str, num_classes: int, overrides: dict) -> set[str]:
    """State-dict keys of variant ``name`` whose shape changes with the class count."""
    from ..models import create_model

    with torch.device("meta"):
        a = create_model(name, num_classes=num_classes, **overrides).state_dict()
        b = create_model(name, num_classes=num_classes + 1, **overrides).state_dict()
    return {k for k in a if a[k].shape != b[k].shape}


def init_from_checkpoint(model: nn.Module, path: str | Path, name: str, classes: list[str],
                         overrides: dict | None = None) -> dict:
    """Load what fits of checkpoint ``path`` into ``model`` (variant ``name`` with ``classes``); returns the report
    (see the module doc). Raises CheckpointError if nothing at all fits (the wrong checkpoint)."""
    ckpt = load_checkpoint(path)
    src = ckpt["state_dict"]
    dst = model.state_dict()
    same_classes = list(ckpt["classes"]) == list(classes)
    head = set() if same_classes else head_keys(name, len(classes), overrides or {})
    loaded, reinit, skipped = [], [], []
    take = {}
    for k, v in dst.items():
        if k in src and k not in head and tuple(src[k].shape) == tuple(v.shape):
            take[k] = src[k]
            loaded.append(k)
        else:
            why = "new head" if k in head else ("shape" if k in src else "not in checkpoint")
            reinit.append(f"{k} ({why})")
    for k, v in src.items():
        if k not in take:
            why = ("old head" if k in head else "shape" if k in dst else "not in model")
            skipped.append(f"{k} ({why})")
    if not loaded:
        raise CheckpointError(f"{path}: no tensor of it fits model {name} (checkpoint of {ckpt['model']})")
    model.load_state_dict(take, strict=False)
    return {"init": str(path), "from_model": ckpt["model"], "from_classes": len(ckpt["classes"]),
            "head": "kept (same classes)" if same_classes else "new", "loaded": loaded, "reinitialised": reinit,
            "skipped": skipped,
            "loaded_params": int(sum(dst[k].numel() for k in loaded)),
            "total_params": int(sum(v.numel() for v in dst.values()))}


def summary(report: dict) -> str:
    """One line for stderr (the classifier's tensors before the training-only probes')."""
    report = {**report, **{k: sorted(report[k], key=lambda t: t.startswith("aux.")) for k in ("reinitialised",
                                                                                            "skipped")}}
    return (f"init from {report['init']} ({report['from_model']}, {report['from_classes']} classes): loaded "
            f"{len(report['loaded'])} tensors ({report['loaded_params']:,} of {report['total_params']:,} values), "
            f"re-initialised {len(report['reinitialised'])}"
            f"{': ' + ', '.join(report['reinitialised'][:6]) if report['reinitialised'] else ''}"
            f"{' ...' if len(report['reinitialised']) > 6 else ''}, skipped {len(report['skipped'])}"
            f"{': ' + ', '.join(report['skipped'][:6]) if report['skipped'] else ''}"
            f"{' ...' if len(report['skipped']) > 6 else ''}; head {report['head']}")
