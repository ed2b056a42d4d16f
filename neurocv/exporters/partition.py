"""Split a :class:`~neurocv.models.CompressedVideoTransformer` into its spiking and ANN partitions.

Only order ``T-LS-GS`` has a separable spiking prefix::

    mvs (B, T, 2, H, W)        --pad--> STM "mv" --> mv_maps (B, T, C', H', W')  \\
    residuals (B, T, 3, H, W)  --pad--> STM "r"  --> r_maps  (B, T, C', H', W')   >-- ANN --> logits (B, classes)
    iframes (B, T, 3, H, W)  ---------------------------------------------------  /

The spiking partition is the two :class:`~neurocv.models.SpikingTemporalModulator` s (one per P-modality the config
uses; they go to NIR / Lava; with ``neuron="lif"`` their maps are the last layer's binary spikes, or an LI layer's
membrane with ``lif_readout="li"``, instead of the STM's membrane), the ANN partition everything after them (patch embeddings, transformer, mixer, RRDB,
head; it goes to ONNX). ``H, W`` is the clip size the runtime feeds (the test-time centre crop); the STMs see the
clip zero-padded at the bottom/right to ``(H_pad, W_pad)``, multiples of the model's ``token_stride``, exactly as
:meth:`~neurocv.models.CompressedVideoTransformer.spiking_forward` pads it. ``H' = H_pad / prod(stm_strides)``.

Boundary tensors carry fixed names (:data:`MODEL_INPUTS`, :data:`ANN_INPUTS`, :data:`ANN_OUTPUT`) and shapes whose
first axis is ``"B"`` (any batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["TensorSpec", "STMPart", "ANNPartition", "Partition", "partition_model", "MODEL_INPUTS", "ANN_INPUTS",
           "ANN_OUTPUT", "STM_FILES", "LAYER_PREFIX"]

#: model input name of each modality
MODEL_INPUTS = {"i": "iframes", "mv": "mvs", "r": "residuals"}
#: ANN partition input name of each modality (the I-frames pass straight through)
ANN_INPUTS = {"i": "iframes", "mv": "mv_maps", "r": "r_maps"}
ANN_OUTPUT = "logits"
#: NIR file stem of each spiking modality
STM_FILES = {"mv": "stm_mv", "r": "stm_residual"}
#: torch module prefix of an STM's layers: layer k is ``f"{LAYER_PREFIX[m]}.{k}"``
LAYER_PREFIX = {"mv": "temporal.mv.layers", "r": "temporal.r.layers"}
_CHANNELS = {"i": 3, "mv": 2, "r": 3}
_SPIKING_STMS = ("stm", "fixed")


@dataclass(frozen=True)
class TensorSpec:
    """A named boundary tensor: ``shape`` holds ints and ``"B"`` for the (dynamic) batch axis; float32."""

    name: str
    shape: tuple
    dtype: str = "float32"

    def concrete(self, batch: int) -> tuple[int, ...]:
        """The shape with ``"B"`` replaced by ``batch``."""
        return tuple(batch if d == "B" else int(d) for d in self.shape)

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class STMPart:
    """One spiking modality: its STM, the per-clip input ``(T, C, H_pad, W_pad)`` and output ``(T, C', H', W')``
    (no batch axis: hardware runs one clip at a time) and the torch names of its Conv-LIF layers."""

    modality: str
    stm: nn.Module
    input: TensorSpec
    output: TensorSpec
    layer_names: tuple[str, ...]

    @property
    def file_stem(self) -> str:
        return STM_FILES[self.modality]


class ANNPartition(nn.Module):
    """Everything after the STMs: ``forward(*[ANN_INPUTS[m] for m in modalities]) -> logits (B, classes)``.

    Holds (does not copy) the model; arguments come in the order of ``input_names``.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.modalities = tuple(model.config.modalities)
        self.input_names = tuple(ANN_INPUTS[m] for m in self.modalities)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"ANN partition takes {self.input_names}, got {len(inputs)} tensors")
        by = dict(zip(self.modalities, inputs))
        return self.model.ann_forward(by.get("i"), by.get("mv"), by.get("r"))


@dataclass
class Partition:
    """The partitioned model at one clip size. ``inputs``: model inputs ``(B, T, C, H, W)``; ``boundary``: ANN
    inputs; ``outputs``: ``logits (B, classes)``; ``spiking``: modality -> :class:`STMPart`."""

    model: nn.Module
    segments: int
    input_size: tuple[int, int]
    padded_size: tuple[int, int]
    spiking: dict[str, STMPart]
    ann: ANNPartition
    inputs: list[TensorSpec]
    boundary: list[TensorSpec]
    outputs: list[TensorSpec]

    def sample_inputs(self, batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
        """Random model inputs (standard normal, the scale of normalised clips), keyed by :data:`MODEL_INPUTS`."""
        g = torch.Generator().manual_seed(seed)
        return {s.name: torch.randn(s.concrete(batch), generator=g) for s in self.inputs}

    @torch.no_grad()
    def boundary_inputs(self, model_inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The ANN partition's inputs for model inputs: the I-frames and the STM maps of ``spiking_forward``."""
        mods = self.model.config.modalities
        mv, r = self.model.spiking_forward(model_inputs.get("mvs"), model_inputs.get("residuals"))
        maps = {"i": model_inputs.get("iframes"), "mv": mv, "r": r}
        return {ANN_INPUTS[m]: maps[m] for m in mods}

    def pad(self, x: np.ndarray) -> np.ndarray:
        """Zero-pad a clip ``(..., H, W)`` at the bottom/right to ``padded_size`` (what the STMs expect)."""
        ph, pw = self.padded_size[0] - x.shape[-2], self.padded_size[1] - x.shape[-1]
        if ph < 0 or pw < 0:
            raise ValueError(f"clip {x.shape[-2:]} is larger than the partition's {self.padded_size}")
        if not ph and not pw:
            return x
        return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)])

    def to_dict(self) -> dict:
        """Plain-Python description (what the deployment manifest stores)."""
        return {"segments": self.segments, "input_size": list(self.input_size), "padded_size": list(self.padded_size),
                "inputs": [s.to_dict() for s in self.inputs], "boundary": [s.to_dict() for s in self.boundary],
                "outputs": [s.to_dict() for s in self.outputs],
                "spiking": {m: {"file": p.file_stem + ".nir", "input": p.input.to_dict(),
                                "output": p.output.to_dict(), "layers": list(p.layer_names)}
                            for m, p in self.spiking.items()}}


def _stm_out_hw(stm: nn.Module, h: int, w: int) -> tuple[int, int]:
    for layer in stm.layers:
        conv = layer.conv
        k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return h, w


def partition_model(model: nn.Module, segments: int | None = None,
                    input_size: tuple[int, int] | int | None = None) -> Partition:
    """Partition ``model`` for clips of ``segments`` triplets at ``input_size`` ``(H, W)`` pixels (defaults: the
    config's). Raises :class:`ConfigError` for a model without a separable spiking prefix (order other than
    ``T-LS-GS``, or a temporal modulator that is not an STM per modality)."""
    from ..models import CompressedVideoTransformer

    if not isinstance(model, CompressedVideoTransformer):
        raise ConfigError(f"can only partition a CompressedVideoTransformer, got {type(model).__name__}")
    cfg = model.config
    if cfg.order != "T-LS-GS":
        raise ConfigError(f"order={cfg.order!r} has no separable spiking partition (the STM sits inside the "
                          f"network); only order='T-LS-GS' models can be exported for deployment")
    if cfg.stm not in _SPIKING_STMS:
        raise ConfigError(f"stm={cfg.stm!r} is not partitionable: deployment needs one spiking STM per P-modality "
                          f"(stm in {_SPIKING_STMS}); 'common' shares one STM, 'none'/'lstm' do not spike")
    if not cfg.p_modalities:
        raise ConfigError(f"modalities={cfg.modalities} hold no P-frame modality: there is no spiking partition")
    segments = int(segments or cfg.segments)
    if input_size is None:
        input_size = cfg.input_size
    h, w = (input_size, input_size) if isinstance(input_size, int) else (int(input_size[0]), int(input_size[1]))
    if segments < 1 or h < 1 or w < 1:
        raise ConfigError(f"segments and input size must be >= 1, got {segments}, {(h, w)}")
    s = cfg.token_stride
    hp, wp = -(-h // s) * s, -(-w // s) * s
    spiking, boundary = {}, []
    inputs = [TensorSpec(MODEL_INPUTS[m], ("B", segments, _CHANNELS[m], h, w)) for m in ("i", "mv", "r")
              if m in cfg.modalities]
    for m in cfg.modalities:
        if m == "i":
            boundary.append(TensorSpec(ANN_INPUTS["i"], ("B", segments, 3, h, w)))
            continue
        stm = model.temporal[m]
        ho, wo = _stm_out_hw(stm, hp, wp)
        out = TensorSpec(ANN_INPUTS[m], (segments, stm.out_channels, ho, wo))
        spiking[m] = STMPart(m, stm, TensorSpec(MODEL_INPUTS[m], (segments, _CHANNELS[m], hp, wp)), out,
                             tuple(f"{LAYER_PREFIX[m]}.{k}" for k in range(len(stm.layers))))
        boundary.append(TensorSpec(out.name, ("B", *out.shape)))
    outputs = [TensorSpec(ANN_OUTPUT, ("B", cfg.num_classes))]
    return Partition(model, segments, (h, w), (hp, wp), spiking, ANNPartition(model), inputs, boundary, outputs)
