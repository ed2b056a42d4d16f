"""Temporal modulators: the Spiking Temporal Modulator (STM, paper Sec. 3.2) and its ablation replacements.

Every modulator maps a sequence ``x`` of shape ``(B, T, C, H, W)`` to ``(B, T, C', H', W')`` with
``forward(x, state=None) -> (y, state)``; the state is explicit (never stored on the module), ``None`` starts a clip
from rest. Time runs over the clip's T sampled segments: segment t holds the accumulated MV / residual of one
sampled P-frame (traced back to its GOP's I-frame), so the STM integrates motion evidence across the whole clip and
is reset (``state=None``) per clip, which is where the paper resets ``u`` "after all the P-frames are processed".

* :class:`SpikingTemporalModulator` - a stack of Conv-LIF layers. Layer l computes
  ``I_l[t] = conv_l(o_{l-1}[t])`` (``o_0 = x``, the analog input), then eqs. (3)-(4) of
  :mod:`neurocv.models.neuron`; layers pass binary spikes ``o_l`` to each other, the last layer's analog membrane
  ``u_L[t]`` is the output. ``learnable=False`` freezes ``v_th`` and ``lambda`` (the "fixed" ablation).
  With ``neuron="lif"`` (hardware-native, :class:`~neurocv.models.neuron.LIFNeuron`) the layers reset hard to 0 and
  the STM's output is the last layer's spikes ``o_L[t]`` (``readout="spikes"``) or, with ``readout="li"``, the
  membrane of a last layer of leaky integrators without threshold (:class:`~neurocv.models.neuron.LINeuron`).
* :class:`FrameConv` - "no STM": the same conv stack applied to every frame on its own (stateless), ReLU between
  layers, linear last layer (analog like ``u``).
* :class:`ConvLSTM` - "STM -> LSTM": one ConvLSTM cell per layer with a single conv over ``[x, h]`` producing the
  four gates; a strided layer average-pools its input first. Output is the hidden state ``h``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..dynamics import NEURONS
from .neuron import DEFAULT_WIDTH, NEURON_FACTORIES, STMState

READOUTS = ("spikes", "li")   # what a LIF modulator hands on: the last layer's spikes, or a last LI layer's membrane

__all__ = ["READOUTS", "ConvLIF", "SpikingTemporalModulator", "FrameConv", "ConvLSTMCell", "ConvLSTM", "LSTMState",
           "build_temporal_modulator"]


def _check_seq(x: torch.Tensor, in_channels: int, who: str) -> None:
    if x.dim() != 5 or x.shape[2] != in_channels:
        raise ValueError(f"{who}: expected (B, T, {in_channels}, H, W), got {tuple(x.shape)}")


class ConvLIF(nn.Module):
    """``conv2d`` followed by a neuron, one time step: ``(B, C, H, W) -> (B, C', H/s, W/s)``.

    ``neuron``: ``"stm"`` (:class:`STMNeuron`, returns the membrane ``u``), ``"lif"`` (:class:`LIFNeuron`, returns
    spikes ``o``) or ``"li"`` (:class:`LINeuron`, returns the membrane ``v``; ``v_th`` unused). ``leak_grid``
    (``"pow2"`` or ``"free"``) is the LIF / LI neurons' leak grid (:func:`~neurocv.models.neuron.pow2_leak`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, *, v_th: float = 1.0,
                 leak: float = 0.5, learnable: bool = True, width: float = DEFAULT_WIDTH, neuron: str = "stm",
                 leak_grid: str = "pow2"):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2)
        if neuron not in NEURON_FACTORIES:
            raise ValueError(f"neuron must be one of {', '.join(map(repr, NEURON_FACTORIES))}, got {neuron!r}")
        self.neuron = NEURON_FACTORIES[neuron](v_th, leak, learnable, width, leak_grid)
        self.kind = neuron

    def forward(self, x: torch.Tensor, state: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        return self.neuron(self.conv(x), state)


class SpikingTemporalModulator(nn.Module):
    """A stack of :class:`ConvLIF` layers run over time.

    ``forward(x (B, T, C, H, W), state=None) -> (y_seq (B, T, C_L, H', W'), state)`` where ``state`` is a tuple with
    one neuron state per layer (:class:`STMState`, ``LIFState`` or ``LIState``), each holding ``(B, C_l, H_l, W_l)``
    tensors. ``y`` is the last layer's membrane ``u`` (``neuron="stm"``), its spikes (``neuron="lif"``,
    ``readout="spikes"``) or the membrane of a last LI layer (``neuron="lif"``, ``readout="li"``).
    """

    def __init__(self, in_channels: int, channels: Sequence[int], strides: Sequence[int], kernel: int = 3, *,
                 v_th: float = 1.0, leak: float = 0.5, learnable: bool = True, width: float = DEFAULT_WIDTH,
                 neuron: str = "stm", readout: str = "spikes", leak_grid: str = "pow2"):
        super().__init__()
        if len(channels) != len(strides) or not channels:
            raise ValueError(f"channels {tuple(channels)} and strides {tuple(strides)} must be non-empty, same length")
        if neuron not in NEURONS or readout not in READOUTS:
            raise ValueError(f"neuron must be one of {NEURONS} and readout one of {READOUTS}, got {neuron!r}, "
                             f"{readout!r}")
        if neuron == "lif" and readout == "li" and len(channels) < 2:
            raise ValueError("readout 'li' replaces the last layer's LIF with a leaky integrator: needs >= 2 layers")
        self.in_channels = in_channels
        self.out_channels = channels[-1]
        self.neuron = neuron
        self.readout = readout if neuron == "lif" else "membrane"
        ins = [in_channels, *channels[:-1]]
        kinds = [neuron] * len(channels)
        if self.readout == "li":
            kinds[-1] = "li"
        self.layers = nn.ModuleList(
            ConvLIF(i, o, kernel, s, v_th=v_th, leak=leak, learnable=learnable, width=width, neuron=kind,
                    leak_grid=leak_grid)
            for i, o, s, kind in zip(ins, channels, strides, kinds))

    def step(self, x: torch.Tensor, state: tuple[STMState, ...] | None = None
             ) -> tuple[torch.Tensor, tuple[STMState, ...]]:
        """One time step: ``x (B, C, H, W) -> (y_L (B, C_L, H', W'), new state)``."""
        states = [None] * len(self.layers) if state is None else list(state)
        h = x
        y = x
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            y, states[k] = layer(h, states[k])
            if k < last:
                h = states[k].o                  # spikes drive the next layer (eq. 3)
        return y, tuple(states)

    def forward(self, x: torch.Tensor, state: tuple[STMState, ...] | None = None
                ) -> tuple[torch.Tensor, tuple[STMState, ...]]:
        _check_seq(x, self.in_channels, type(self).__name__)
        out = []
        for t in range(x.shape[1]):
            u, state = self.step(x[:, t], state)
            out.append(u)
        return torch.stack(out, 1), state


class FrameConv(nn.Module):
    """"No STM": the STM's conv stack applied per frame, stateless. ``forward(x, state=None) -> (y, None)``."""

    def __init__(self, in_channels: int, channels: Sequence[int], strides: Sequence[int], kernel: int = 3):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = channels[-1]
        ins = [in_channels, *channels[:-1]]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, kernel, s, padding=kernel // 2)
                                   for i, o, s in zip(ins, channels, strides))

    def forward(self, x: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        _check_seq(x, self.in_channels, type(self).__name__)
        b, t = x.shape[:2]
        h = x.flatten(0, 1)
        for k, conv in enumerate(self.convs):
            h = conv(h)
            if k < len(self.convs) - 1:
                h = F.relu(h)
        return h.unflatten(0, (b, t)), None


class LSTMState(NamedTuple):
    """State of one ConvLSTM layer: hidden ``h`` and cell ``c``, each ``(B, C, H, W)``."""

    h: torch.Tensor
    c: torch.Tensor


class ConvLSTMCell(nn.Module):
    """``gates = conv([pool_s(x), h])``; ``i, f, g, o`` -> ``c = f*c + i*g``, ``h = o*tanh(c)`` (Shi et al. 2015)."""

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.hidden = hidden
        self.stride = stride
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride, ceil_mode=True)
        if state is None:
            zero = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = LSTMState(zero, zero)
        i, f, g, o = self.conv(torch.cat([x, state.h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, LSTMState(h, c)


class ConvLSTM(nn.Module):
    """Stack of :class:`ConvLSTMCell` run over time: ``(B, T, C, H, W) -> (h_seq (B, T, C_L, H', W'), state)``."""

    def __init__(self, in_channels: int, channels: Sequence[int], strides: Sequence[int], kernel: int = 3):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = channels[-1]
        ins = [in_channels, *channels[:-1]]
        self.cells = nn.ModuleList(ConvLSTMCell(i, o, kernel, s) for i, o, s in zip(ins, channels, strides))

    def forward(self, x: torch.Tensor, state: tuple[LSTMState, ...] | None = None
                ) -> tuple[torch.Tensor, tuple[LSTMState, ...]]:
        _check_seq(x, self.in_channels, type(self).__name__)
        states = [None] * len(self.cells) if state is None else list(state)
        out = []
        for t in range(x.shape[1]):
            h = x[:, t]
            for k, cell in enumerate(self.cells):
                h, states[k] = cell(h, states[k])
            out.append(h)
        return torch.stack(out, 1), tuple(states)


def build_temporal_modulator(kind: str, in_channels: int, channels: Sequence[int], strides: Sequence[int],
                             kernel: int = 3, *, v_th: float = 1.0, leak: float = 0.5,
                             width: float = DEFAULT_WIDTH, neuron: str = "stm", readout: str = "spikes",
                             leak_grid: str = "pow2") -> nn.Module:
    """The modulator for a config's ``stm`` switch: ``stm``/``common`` -> STM, ``fixed`` -> STM with frozen
    ``v_th``/``lambda``, ``none`` -> :class:`FrameConv`, ``lstm`` -> :class:`ConvLSTM`. ``neuron`` / ``readout``
    pick the spiking neuron of the STM kinds (ignored by ``none`` and ``lstm``), ``leak_grid`` the LIF leak grid."""
    if kind in ("stm", "common", "fixed"):
        return SpikingTemporalModulator(in_channels, channels, strides, kernel, v_th=v_th, leak=leak,
                                        learnable=kind != "fixed", width=width, neuron=neuron, readout=readout,
                                        leak_grid=leak_grid)
    if kind == "none":
        return FrameConv(in_channels, channels, strides, kernel)
    if kind == "lstm":
        return ConvLSTM(in_channels, channels, strides, kernel)
    raise ValueError(f"unknown temporal modulator {kind!r}")
