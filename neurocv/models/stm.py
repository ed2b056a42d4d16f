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

from .neuron import DEFAULT_WIDTH, STMNeuron, STMState

__all__ = ["ConvLIF", "SpikingTemporalModulator", "FrameConv", "ConvLSTMCell", "ConvLSTM", "LSTMState",
           "build_temporal_modulator"]


def _check_seq(x: torch.Tensor, in_channels: int, who: str) -> None:
    if x.dim() != 5 or x.shape[2] != in_channels:
        raise ValueError(f"{who}: expected (B, T, {in_channels}, H, W), got {tuple(x.shape)}")


class ConvLIF(nn.Module):
    """``conv2d`` followed by an :class:`STMNeuron`: ``(B, C, H, W) -> u (B, C', H/s, W/s)``, one time step."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, *, v_th: float = 1.0,
                 leak: float = 0.5, learnable: bool = True, width: float = DEFAULT_WIDTH):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2)
        self.neuron = STMNeuron(v_th, leak, learnable, width)

    def forward(self, x: torch.Tensor, state: STMState | None = None) -> tuple[torch.Tensor, STMState]:
        return self.neuron(self.conv(x), state)


class SpikingTemporalModulator(nn.Module):
    """A stack of :class:`ConvLIF` layers run over time.

    ``forward(x (B, T, C, H, W), state=None) -> (u_seq (B, T, C_L, H', W'), state)`` where ``state`` is a tuple with
    one :class:`STMState` per layer, each holding ``(B, C_l, H_l, W_l)`` tensors.
    """

    def __init__(self, in_channels: int, channels: Sequence[int], strides: Sequence[int], kernel: int = 3, *,
                 v_th: float = 1.0, leak: float = 0.5, learnable: bool = True, width: float = DEFAULT_WIDTH):
        super().__init__()
        if len(channels) != len(strides) or not channels:
            raise ValueError(f"channels {tuple(channels)} and strides {tuple(strides)} must be non-empty, same length")
        self.in_channels = in_channels
        self.out_channels = channels[-1]
        ins = [in_channels, *channels[:-1]]
        self.layers = nn.ModuleList(
            ConvLIF(i, o, kernel, s, v_th=v_th, leak=leak, learnable=learnable, width=width)
            for i, o, s in zip(ins, channels, strides))

    def step(self, x: torch.Tensor, state: tuple[STMState, ...] | None = None
             ) -> tuple[torch.Tensor, tuple[STMState, ...]]:
        """One time step: ``x (B, C, H, W) -> (u_L (B, C_L, H', W'), new state)``."""
        states = [None] * len(self.layers) if state is None else list(state)
        h = x
        u = x
        for k, layer in enumerate(self.layers):
            u, states[k] = layer(h, states[k])
            h = states[k].o                      # spikes drive the next layer (eq. 3)
        return u, tuple(states)

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
                             width: float = DEFAULT_WIDTH) -> nn.Module:
    """The modulator for a config's ``stm`` switch: ``stm``/``common`` -> STM, ``fixed`` -> STM with frozen
    ``v_th``/``lambda``, ``none`` -> :class:`FrameConv`, ``lstm`` -> :class:`ConvLSTM`."""
    if kind in ("stm", "common", "fixed"):
        return SpikingTemporalModulator(in_channels, channels, strides, kernel, v_th=v_th, leak=leak,
                                        learnable=kind != "fixed", width=width)
    if kind == "none":
        return FrameConv(in_channels, channels, strides, kernel)
    if kind == "lstm":
        return ConvLSTM(in_channels, channels, strides, kernel)
    raise ValueError(f"unknown temporal modulator {kind!r}")
