"""Model size and cost: parameter count and multiply-accumulates (MACs): convolutions, matmuls and attention only, as
is the convention of the paper's Table 1, whose "TFLOPs" are MACs.

MACs are counted by the one operation counter, :func:`neurocv.models.opcount.count_ops` (per layer; here summed). A
model with a ``config`` is rebuilt on the ``meta`` device for counting: no memory for weights or activations, no
arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .opcount import count_ops

__all__ = ["count_params", "count_macs"]

_PARTS = ("all", "spiking", "ann")


def count_params(model: nn.Module, trainable_only: bool = False, training_only: bool = False) -> int:
    """Number of parameter elements (buffers excluded) of the network that runs at inference; ``training_only``
    adds the modules that exist only for the training loss (the per-modality probes of ``aux_loss``)."""
    return sum(p.numel() for n, p in model.named_parameters()
               if (p.requires_grad or not trainable_only) and (training_only or not n.startswith("aux.")))


def count_macs(model: nn.Module, input_size: tuple[int, int] | int = (224, 224), segments: int = 8,
               part: str = "all", batch: int = 1) -> int:
    """MACs of one forward pass over ``batch`` clips of ``segments`` triplets at ``input_size`` (H, W).

    ``part``: ``"all"`` (the whole network), ``"spiking"`` (:meth:`spiking_forward`, the STMs: on neuromorphic
    hardware these become synaptic operations driven by spikes) or ``"ann"`` (:meth:`ann_forward`).
    """
    if part not in _PARTS:
        raise ConfigError(f"part must be one of {_PARTS}, got {part!r}")
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    config = getattr(model, "config", None)
    if part != "all" and getattr(config, "order", "T-LS-GS") != "T-LS-GS":
        raise ConfigError(f"part={part!r} needs order='T-LS-GS' (got {config.order!r}); use part='all'")
    if config is not None:
        with torch.device("meta"):
            model = type(model)(config)
    device = "meta" if config is not None else next(model.parameters()).device
    x = {k: torch.zeros(batch, segments, c, h, w, device=device) for k, c in (("i", 3), ("mv", 2), ("r", 3))}
    was_training = model.training
    model.eval()
    try:
        if part == "all":
            layers = count_ops(model, lambda: model(x["i"], x["mv"], x["r"]))
        elif part == "spiking":
            layers = count_ops(model, lambda: model.spiking_forward(x["mv"], x["r"]))
        else:
            with torch.no_grad():
                maps = model.spiking_forward(x["mv"], x["r"])
            layers = count_ops(model, lambda: model.ann_forward(x["i"], *maps))
    finally:
        model.train(was_training)
    return int(sum(layer.macs for layer in layers))
