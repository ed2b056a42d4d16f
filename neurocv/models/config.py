"""``ModelConfig``: every size and ablation switch of :class:`~neurocv.models.network.CompressedVideoTransformer`.

Frozen and validated on construction; an invalid value raises :class:`~neurocv.errors.ConfigError` naming the field,
the value found and the values allowed. ``to_dict``/``from_dict`` round-trip through plain Python types (lists, str,
int, float, bool) so a config can sit in a ``weights_only`` checkpoint.

Ablation switches (paper Tables 3-4):

* ``modalities`` - subset of ``("i", "mv", "r")`` (I-frames, accumulated motion vectors, accumulated residuals).
* ``order`` - ``"T-LS-GS"``: STM on raw P-frames, then conv patch embedding, then the transformer (default);
  ``"LS-T-GS"``: patch embedding, STM on the embedded maps, transformer; ``"LS-GS-T"``: patch embedding,
  transformer, STM on the transformer's folded P-frame tokens.
* ``encoder`` - ``"unified"`` (one transformer over all tokens), ``"separate"`` (one per modality, fused in the
  mixer), ``"cross"`` (one per modality whose attention reads only the other modalities' tokens).
* ``stm`` - ``"stm"`` (one STM per P-modality), ``"none"`` (stateless per-frame convs), ``"common"`` (one STM
  shared by MV and R), ``"lstm"`` (ConvLSTM), ``"fixed"`` (STM with fixed ``v_th``, ``lambda``).
* ``neuron`` - the spiking neuron of the STM kinds (``stm``, ``common``, ``fixed``): ``"stm"`` (the paper's:
  subtractive reset, analog membrane out; default) or ``"lif"`` (hardware-native: hard reset to 0, the neuron of
  Loihi's CUBA, Lava's ``LIF`` and NIR's ``LIF``; exports to NIR files norse / snnTorch / nirtorch read).
  ``lif_readout`` - what a LIF STM hands to the network: ``"spikes"`` (the last layer's spikes; default) or
  ``"li"`` (its last layer is a leaky integrator without threshold whose membrane is read). ``lif_leak`` - the
  LIF / LI leak: ``"pow2"`` (default: ``lambda = 1 - 2**-j``, so the exported files reproduce the model exactly,
  see :func:`~neurocv.models.neuron.pow2_leak`) or ``"free"`` (any ``lambda`` in (0, 1); what LIF checkpoints
  written before the option existed hold). Both ignored for ``"stm"``.
* ``accumulate`` - recorded only: the data pipeline decides whether P-frames are accumulated.
* ``mixer`` / ``skips`` / ``rrdb`` - Multi-Modal Mixer on/off, STM skip connections into Conv fusion, RRDB.
  With ``mixer=False`` the transformer tokens are pooled directly and ``skips``/``rrdb`` have no effect.
* ``pool`` - ``"gap"`` (global average pooling) or ``"cls"`` (a learned class token that attends to the features).

Learning switches (``docs/learning.md``; checkpoints written before them load with the first values):

* ``head_norm`` - ``"ln"`` (LayerNorm of the pooled vector) or ``"bn"`` (BatchNorm over the clips of a batch; at
  inference a fixed affine map). The registered variants use ``"bn"``: with ``"ln"`` almost no gradient reached the
  encoder once the pooled vectors of all clips were nearly alike (most positions are background).
* ``iframe_embed`` - ``"patch"`` (one ``Conv2d`` with kernel = stride = patch: a linear map of each patch) or
  ``"conv"`` (:class:`~neurocv.models.network.ConvStem`: 3x3 stride-2 convs with BatchNorm and GELU down to the
  patch stride; stm-tiny's default).
* ``iframe_skip`` - the I-frame's embedding joins Conv fusion through its own 1x1 conv, as each STM map does
  (needs ``skips``; stm-tiny's default).
* ``aux_loss`` - weight of a per-modality linear probe on the encoder tokens added to the training loss (0: off,
  the default of the paper-sized variants; stm-tiny's recipe uses 1, ``docs/learning.md``). The probes run in
  training only: nothing of them runs, is exported or costs at inference.

Training regulariser (not in the paper; identity in ``eval()`` and in every export):

* ``iframe_dropout`` - probability that a training clip's I-frame tokens are zeroed (modality dropout on the
  appearance stream, drawn per clip from torch's global generator). Default 0.0 (the paper's recipe).
* ``pframe_dropout`` - probability that a training clip's P-frame inputs (the MV and residual tokens and their STM
  skips, together) are zeroed, so that the clip must be classified from its I-frames alone (modality dropout on
  the motion stream; only with the I-frame and a P-modality). Default 0.0.
* ``mv_dropout`` - probability that a training clip's motion vectors alone (the MV tokens and the MV STM's skip)
  are zeroed, so that its motion must be read from the I-frames' poses and the residuals (only with MV and another
  modality). Default 0.0.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..dynamics import NEURONS as _KIND_NEURONS
from ..errors import ConfigError

__all__ = ["ModelConfig", "MODALITIES", "ORDERS", "ENCODERS", "STMS", "POOLS", "NEURONS", "LIF_READOUTS", "LIF_LEAKS"]

MODALITIES = ("i", "mv", "r")
ORDERS = ("T-LS-GS", "LS-GS-T", "LS-T-GS")
ENCODERS = ("unified", "separate", "cross")
STMS = ("stm", "none", "common", "lstm", "fixed")
POOLS = ("gap", "cls")
NEURONS = _KIND_NEURONS     # the registry's kinds a whole STM can be made of (neurocv.dynamics.kinds)
LIF_READOUTS = ("spikes", "li")
LIF_LEAKS = ("pow2", "free")
IFRAME_EMBEDS = ("patch", "conv")
HEAD_NORMS = ("ln", "bn")
_TUPLE_FIELDS = ("input_size", "stm_channels", "stm_strides", "modalities")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes are in pixels (``input_size``, ``patch_size``) or channels; see the module docstring for switches.
    The defaults are ``stm-base`` (the paper's "Ours")."""

    num_classes: int = 101
    segments: int = 8                         # T: sampled (I, MV, R) triplets per clip
    input_size: tuple[int, int] = (224, 224)  # (H, W) the position encodings are laid out for; others interpolate
    patch_size: int = 16                      # spatial modulator: conv patch embedding, kernel = stride = patch
    token_merge: int = 2                      # k x k patches merged (strided conv) into one transformer token
    dim: int = 768
    depth: int = 9
    heads: int = 12
    mlp_ratio: float = 4.0
    stm_channels: tuple[int, ...] = (64, 128)
    stm_strides: tuple[int, ...] = (2, 2)
    stm_kernel: int = 3
    # initial (or fixed) threshold of every STM layer. 0.1, not 1.0: with the data's normalisation and default conv
    # init, v_th = 1.0 let the first STM layer fire at 0.2-0.4 % of neurons (its spikes are the second layer's only
    # input), so almost nothing of the P-frames reached the transformer; 0.1 fires at 18-30 % and stm-tiny learned
    # faster on the synthetic set (67 % vs 32 % validation top-1 at epoch 7; best 72 % vs 65 % over 20 epochs)
    v_th: float = 0.1
    leak: float = 0.5                          # initial (or fixed) lambda of every STM layer
    surrogate_width: float = 100.0             # gamma of the arctan surrogate
    mixer_dim: int = 192
    fold_scale: int = 4                        # Conv folding upsamples the token grid by this factor
    rrdb_growth: int = 48
    rrdb_dense_blocks: int = 3
    modalities: tuple[str, ...] = MODALITIES
    order: str = "T-LS-GS"
    encoder: str = "unified"
    stm: str = "stm"
    neuron: str = "stm"
    lif_readout: str = "spikes"
    lif_leak: str = "pow2"
    accumulate: bool = True
    mixer: bool = True
    skips: bool = True
    rrdb: bool = True
    pool: str = "gap"
    iframe_dropout: float = 0.0
    pframe_dropout: float = 0.0
    mv_dropout: float = 0.0
    iframe_embed: str = "patch"
    iframe_skip: bool = False
    head_norm: str = "ln"
    aux_loss: float = 0.0

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen: normalise in place)
        size = self.input_size
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        try:
            size = tuple(int(s) for s in size)
        except (TypeError, ValueError):
            raise ConfigError(f"input_size must be an int or (H, W), got {self.input_size!r}") from None
        if len(size) != 2 or min(size) < 1:
            raise ConfigError(f"input_size must be (H, W) with H, W >= 1, got {self.input_size!r}")
        set_("input_size", size)
        mods = self.modalities
        if isinstance(mods, str):
            mods = [m.strip() for m in mods.replace("+", ",").split(",") if m.strip()]
        mods = [str(m).lower() for m in mods]
        bad = [m for m in mods if m not in MODALITIES]
        if bad or not mods or len(set(mods)) != len(mods):
            raise ConfigError(f"modalities must be a non-empty subset of {MODALITIES} without repeats, "
                              f"got {self.modalities!r}")
        set_("modalities", tuple(m for m in MODALITIES if m in mods))
        for name in ("stm_channels", "stm_strides"):
            value = getattr(self, name)
            try:
                value = tuple(int(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"{name} must be a sequence of ints, got {value!r}") from None
            if not value or min(value) < 1:
                raise ConfigError(f"{name} must be non-empty positive ints, got {value!r}")
            set_(name, value)
        self._validate()

    def _validate(self) -> None:
        for name in ("num_classes", "segments", "patch_size", "token_merge", "dim", "depth", "heads", "stm_kernel",
                     "mixer_dim", "fold_scale", "rrdb_growth", "rrdb_dense_blocks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {v!r}")
        for name in ("accumulate", "mixer", "skips", "rrdb", "iframe_skip"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, allowed in (("order", ORDERS), ("encoder", ENCODERS), ("stm", STMS), ("pool", POOLS),
                              ("neuron", NEURONS), ("lif_readout", LIF_READOUTS),
                              ("lif_leak", LIF_LEAKS), ("iframe_embed", IFRAME_EMBEDS), ("head_norm", HEAD_NORMS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.neuron == "lif" and self.stm in ("none", "lstm"):
            raise ConfigError(f"neuron='lif' needs a spiking temporal modulator (stm in 'stm', 'common', 'fixed'), "
                              f"got stm={self.stm!r}")
        if self.neuron == "lif" and self.lif_readout == "li" and len(self.stm_channels) < 2:
            raise ConfigError(f"lif_readout='li' turns the last STM layer into a leaky integrator: needs at least 2 "
                              f"layers, got stm_channels={self.stm_channels}")
        if self.dim % self.heads:
            raise ConfigError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if not self.mlp_ratio > 0:
            raise ConfigError(f"mlp_ratio must be > 0, got {self.mlp_ratio!r}")
        if not self.v_th > 0:
            raise ConfigError(f"v_th must be > 0, got {self.v_th!r}")
        if not 0 < self.leak < 1:
            raise ConfigError(f"leak must be in (0, 1), got {self.leak!r}")
        for name in ("iframe_dropout", "pframe_dropout", "mv_dropout"):
            p = getattr(self, name)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
                raise ConfigError(f"{name} must be a probability in [0, 1), got {p!r}")
        if isinstance(self.aux_loss, bool) or not isinstance(self.aux_loss, (int, float)) or self.aux_loss < 0:
            raise ConfigError(f"aux_loss must be a weight >= 0, got {self.aux_loss!r}")
        if not self.surrogate_width > 0:
            raise ConfigError(f"surrogate_width must be > 0, got {self.surrogate_width!r}")
        if self.iframe_embed == "conv" and (self.patch_size < 2 or self.patch_size & (self.patch_size - 1)):
            raise ConfigError(f"iframe_embed='conv' needs a power-of-two patch_size >= 2, got {self.patch_size}")
        if self.stm_kernel % 2 == 0:
            raise ConfigError(f"stm_kernel must be odd (same padding), got {self.stm_kernel}")
        if len(self.stm_channels) != len(self.stm_strides):
            raise ConfigError(f"stm_channels {self.stm_channels} and stm_strides {self.stm_strides} must have the "
                              f"same length (one entry per STM layer)")
        if self.patch_size % self.stm_stride:
            raise ConfigError(f"patch_size ({self.patch_size}) must be a multiple of the STM's total stride "
                              f"prod(stm_strides) = {self.stm_stride}")
        a, b = self.token_stride, self.stm_stride * self.fold_scale
        if self.order == "T-LS-GS" and a % b and b % a:
            raise ConfigError(f"the STM maps (stride {self.stm_stride}) cannot be resampled to the folded maps "
                              f"(stride {a}/{self.fold_scale}): one stride must divide the other; change fold_scale")
        if self.encoder == "cross" and len(self.modalities) < 2:
            raise ConfigError(f"encoder='cross' needs at least 2 modalities (queries attend to the others), "
                              f"got modalities={self.modalities}")

    # -- derived sizes -------------------------------------------------------------------------------------------
    @property
    def stm_stride(self) -> int:
        """Total spatial stride of the STM stack (``prod(stm_strides)``)."""
        return math.prod(self.stm_strides)

    @property
    def token_stride(self) -> int:
        """Input pixels per transformer token side: ``patch_size * token_merge``; inputs are padded to a multiple."""
        return self.patch_size * self.token_merge

    def token_grid(self, size: tuple[int, int] | None = None) -> tuple[int, int]:
        """``(h, w)`` tokens per modality per segment for an input of ``size`` (default ``input_size``)."""
        h, w = size or self.input_size
        s = self.token_stride
        return -(-h // s), -(-w // s)

    def tokens(self, size: tuple[int, int] | None = None, segments: int | None = None) -> int:
        """Tokens the encoder sees for one clip: ``segments * len(modalities) * h * w``."""
        h, w = self.token_grid(size)
        return (segments or self.segments) * len(self.modalities) * h * w

    @property
    def p_modalities(self) -> tuple[str, ...]:
        return tuple(m for m in self.modalities if m != "i")

    # -- (de)serialisation ---------------------------------------------------------------------------------------
    def replace(self, **overrides: Any) -> "ModelConfig":
        """A copy with ``overrides`` applied; unknown names raise ConfigError listing the fields."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"unknown model option(s) {unknown}; known: {sorted(names)}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in _TUPLE_FIELDS:
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        if isinstance(d, ModelConfig):
            return d
        if not isinstance(d, dict):
            raise ConfigError(f"a model config must be a dict, got {type(d).__name__}")
        if d.get("neuron") == "lif" and "lif_leak" not in d:     # written before lif_leak existed: a free leak
            d = {**d, "lif_leak": "free"}
        return cls().replace(**d)
