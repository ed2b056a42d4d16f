"""GPU-ready training settings: mixed precision, memory format and data-loader workers, each resolved from an
``auto`` default that changes nothing on a CPU-only machine.

* ``amp``: ``auto`` = bf16 autocast on a CUDA device that supports it, else fp16 autocast with a gradient scaler;
  no autocast on the CPU. ``bf16`` / ``fp16`` force it anywhere (``bf16`` on the CPU is what the tests exercise),
  ``off`` never. Losses are computed in float32 from the autocast logits.
* ``channels_last``: ``None`` = on with CUDA (cuDNN's NHWC convolutions), off on the CPU.
* ``workers``: ``None`` = with CUDA, one loader process per CPU core of this rank's share, at most 8, leaving one
  core to the training process; on the CPU 0 (extraction in the training process, as before: on a few cores
  worker processes only compete with the model for the same cores, and the augmentation stream stays the one
  ``workers=0`` draws).
"""

from __future__ import annotations

import contextlib
import os

import torch

from ..errors import ConfigError

__all__ = ["AMP_CHOICES", "amp_dtype", "autocast", "grad_scaler", "use_channels_last", "default_workers"]

AMP_CHOICES = ("auto", "off", "bf16", "fp16")


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None: full float32)."""
    if amp not in AMP_CHOICES:
        raise ConfigError(f"--amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None):
    """A gradient scaler for fp16 (its small range underflows gradients); None for bf16 and float32."""
    if dtype != torch.float16:
        return None
    return torch.amp.GradScaler(device.type)


def backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler) -> None:
    """One optimiser step on ``loss``: clear the gradients, back-propagate and step, through ``scaler`` (from
    :func:`grad_scaler`) when there is one."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


def use_channels_last(flag: bool | None, device: torch.device) -> bool:
    return device.type == "cuda" if flag is None else bool(flag)


def default_workers(device: torch.device, world_size: int = 1) -> int:
    if device.type != "cuda":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores // max(1, world_size) - 1))
