"""The STM neuron (paper Sec. 3.2, eqs. (3)-(4)): a leaky integrate-and-fire neuron with subtractive reset whose
analog membrane potential is its output.

Discrete-time dynamics, one step per sampled segment t (no dt: the leak is a per-step factor)::

    u[t] = I[t] + lambda * u[t-1] - v_th * o[t-1]        (3)   I[t] = W o_prev[t], the layer's synaptic input
    o[t] = H(u[t] - v_th)                                (4)   H(x) = 1 if x > 0 else 0 (strictly greater)

``u[-1] = 0`` and ``o[-1] = 0`` at the start of every clip (``state=None``). The spike ``o`` drives the next layer
and the subtractive reset; ``u`` is what the STM hands to the rest of the network.

Training backpropagates through ``H`` with the arctan surrogate of width ``gamma`` (default 100)::

    dH/dx ~= gamma / (2 * (1 + (pi/2 * gamma * x)^2)),    x = u - v_th

the derivative of ``1/pi * arctan(pi/2 * gamma * x) + 1/2`` (peak ``gamma/2`` at the threshold). With
``surrogate=False`` the step is a plain ``(x > 0)`` comparison (export path: Greater + Cast in ONNX).

``lambda`` stays in (0, 1) as ``sigmoid(raw_leak)`` and ``v_th`` stays positive as ``softplus(raw_v_th)``; both are
one scalar per layer, learned (``nn.Parameter``) or fixed (buffers, the "fixed v_th, lambda" ablation).

The hardware-native alternative (``ModelConfig.neuron = "lif"``) is :class:`LIFNeuron`: the same parameters, a hard
reset to 0 and binary spikes as output (Loihi / Lava / NIR ``LIF``); :class:`LINeuron` is its threshold-free
leaky-integrator readout. Both take ``leak_grid="pow2"`` (the default of ``ModelConfig.lif_leak``): the forward
pass uses ``lambda = 1 - 2**-j``, ``j = round(-log2(1 - sigmoid(raw_leak)))`` clipped to ``1..12``
(:func:`pow2_leak`, straight-through gradient), so the input gain ``1 - lambda`` is a power of two. Dividing
weights by it (NIR's ``r dt/tau`` folding) and multiplying back is then exact in floating point, and
``4096 (1 - lambda)`` is an integer (Loihi's 12-bit decay holds it exactly).

Neuron parameters are evaluated in float32 and then cast to the parameters' dtype, so a model moved to float64
(``neurocv crosscheck --float64``) runs with exactly the ``v_th`` and ``lambda`` its float32 export wrote. The arithmetic of all three steps lives in :mod:`neurocv.dynamics`, shared with the numpy
reference and the simulator adapters; the functions here only add the surrogate gradient and the state tuples.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..dynamics import li_update, lif_update, stm_update

__all__ = ["STMState", "STMParams", "ArctanHeaviside", "heaviside", "arctan_surrogate_grad", "stm_step",
           "STMNeuron", "set_surrogate", "pow2_leak", "LEAK_GRIDS", "POW2_LEAK_J", "LIFState", "lif_step", "LIFNeuron", "LIState", "li_step", "LINeuron",
           "NEURON_FACTORIES"]

DEFAULT_WIDTH = 100.0


class STMState(NamedTuple):
    """State of one layer of STM neurons: membrane ``u`` and last spike ``o``, both shaped like the input."""

    u: torch.Tensor
    o: torch.Tensor


class LIFState(NamedTuple):
    """State of one layer of LIF neurons: membrane ``v`` after the reset and last spike ``o`` (kept for counting;
    the dynamics do not read it), both shaped like the input."""

    v: torch.Tensor
    o: torch.Tensor


class LIState(NamedTuple):
    """State of one layer of leaky integrators: membrane ``v``. ``o`` (spikes) is always zero: an LI never fires,
    but every neuron state answers ``.o`` (the energy counter reads it)."""

    v: torch.Tensor

    @property
    def o(self) -> torch.Tensor:
        return torch.zeros_like(self.v)


class STMParams(NamedTuple):
    """Constrained neuron parameters: ``v_th > 0`` (threshold) and ``leak`` = lambda in (0, 1); 0-d tensors."""

    v_th: torch.Tensor
    leak: torch.Tensor


def arctan_surrogate_grad(x: torch.Tensor, width: float = DEFAULT_WIDTH) -> torch.Tensor:
    """``gamma / (2 * (1 + (pi/2 * gamma * x)^2))``: the surrogate of ``dH(x)/dx`` used in backward."""
    return width / (2.0 * (1.0 + (math.pi / 2.0 * width * x) ** 2))


class ArctanHeaviside(torch.autograd.Function):
    """Forward ``H(x) = (x > 0)``; backward multiplies by :func:`arctan_surrogate_grad`."""

    @staticmethod
    def forward(x: torch.Tensor, width: float) -> torch.Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, width = inputs
        ctx.save_for_backward(x)
        ctx.width = width

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * arctan_surrogate_grad(x, ctx.width), None


def heaviside(x: torch.Tensor, surrogate: bool = True, width: float = DEFAULT_WIDTH) -> torch.Tensor:
    """``H(x) = 1 if x > 0 else 0`` in ``x``'s dtype; differentiable through the arctan surrogate if ``surrogate``,
    else a plain comparison (zero gradient)."""
    if surrogate:
        return ArctanHeaviside.apply(x, width)
    return (x > 0).to(x.dtype)


def stm_step(x: torch.Tensor, state: STMState | None, params: STMParams, surrogate: bool = True,
             width: float = DEFAULT_WIDTH) -> tuple[torch.Tensor, STMState]:
    """One step of eqs. (3)-(4) for input current ``x`` (any shape, e.g. ``(B, C, H, W)``).

    Returns ``(u, STMState(u, o))``; ``state=None`` is the resting state ``u = o = 0``.
    """
    if state is None:
        zero = torch.zeros_like(x)
        state = STMState(zero, zero)
    u, o = stm_update(x, state.u, state.o, params.leak, params.v_th, lambda d: heaviside(d, surrogate, width))
    return u, STMState(u, o)


def lif_step(x: torch.Tensor, state: LIFState | None, params: STMParams, surrogate: bool = True,
             width: float = DEFAULT_WIDTH) -> tuple[torch.Tensor, LIFState]:
    """One LIF step for input current ``x`` (:func:`neurocv.dynamics.lif_update`: ``v' = lambda v + x``,
    ``o = H(v' - v_th)``, ``v = v' (1 - o)``). Returns ``(o, LIFState(v, o))``; ``state=None`` is rest (``v = 0``).
    The reset uses the detached spike (no surrogate gradient through the reset)."""
    v = torch.zeros_like(x) if state is None else state.v
    o, v = lif_update(x, v, params.leak, params.v_th, lambda d: heaviside(d, surrogate, width), torch.Tensor.detach)
    return o, LIFState(v, o)


def li_step(x: torch.Tensor, state: LIState | None, leak: torch.Tensor) -> tuple[torch.Tensor, LIState]:
    """One leaky-integrator step ``v = lambda v + x``; returns ``(v, LIState(v))``."""
    v = li_update(x, torch.zeros_like(x) if state is None else state.v, leak)
    return v, LIState(v)


#: the range of ``j`` in a power-of-two leak ``lambda = 1 - 2**-j`` (Loihi's decay has 12 bits: ``dv = 2**(12 - j)``)
POW2_LEAK_J = (1, 12)


class _Pow2Leak(torch.autograd.Function):
    """Forward: ``1 - 2**-round(-log2(1 - leak))`` (``j`` clipped to :data:`POW2_LEAK_J`); backward: identity."""

    @staticmethod
    def forward(leak: torch.Tensor) -> torch.Tensor:
        j = torch.round(-torch.log2(1 - leak)).clamp(*POW2_LEAK_J)
        return 1 - torch.exp2(-j)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out


def pow2_leak(leak: torch.Tensor) -> torch.Tensor:
    """``lambda`` rounded to the nearest ``1 - 2**-j`` in log scale (``j`` in ``1..12``): the gain ``1 - lambda`` is
    then a power of two; the gradient passes straight through to ``leak``."""
    return _Pow2Leak.apply(leak)


def _f32(fn, raw: torch.Tensor) -> torch.Tensor:
    """``fn(raw)`` evaluated in float32, returned in ``raw``'s dtype (see the module docstring)."""
    return fn(raw.float()).to(raw.dtype) if raw.dtype != torch.float32 else fn(raw)


LEAK_GRIDS = ("pow2", "free")


def _inv_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class STMNeuron(nn.Module):
    """Thin shell around :func:`stm_step` holding one layer's ``v_th`` and ``lambda``.

    ``learnable=False`` stores them as buffers (fixed). ``surrogate`` is a switch, not state: set it False (or call
    :func:`set_surrogate`) before export. ``forward(x, state) -> (u, state)``.
    """

    kind = "stm"

    def __init__(self, v_th: float = 1.0, leak: float = 0.5, learnable: bool = True,
                 width: float = DEFAULT_WIDTH, surrogate: bool = True):
        super().__init__()
        if not v_th > 0:
            raise ValueError(f"v_th must be > 0, got {v_th}")
        if not 0 < leak < 1:
            raise ValueError(f"leak must be in (0, 1), got {leak}")
        raw_v = torch.tensor(_inv_softplus(v_th), dtype=torch.float32)
        raw_l = torch.tensor(math.log(leak / (1 - leak)), dtype=torch.float32)
        if learnable:
            self.raw_v_th = nn.Parameter(raw_v)
            self.raw_leak = nn.Parameter(raw_l)
        else:
            self.register_buffer("raw_v_th", raw_v)
            self.register_buffer("raw_leak", raw_l)
        self.learnable = learnable
        self.width = float(width)
        self.surrogate = surrogate

    def params(self) -> STMParams:
        """``STMParams(v_th=softplus(raw_v_th), leak=sigmoid(raw_leak))``."""
        return STMParams(_f32(F.softplus, self.raw_v_th), _f32(torch.sigmoid, self.raw_leak))

    def forward(self, x: torch.Tensor, state: STMState | None = None) -> tuple[torch.Tensor, STMState]:
        return stm_step(x, state, self.params(), self.surrogate, self.width)

    def extra_repr(self) -> str:
        p = self.params()
        return (f"v_th={p.v_th.item():.4g}, leak={p.leak.item():.4g}, learnable={self.learnable}, "
                f"width={self.width:g}, surrogate={self.surrogate}")


class LIFNeuron(STMNeuron):
    """Thin shell around :func:`lif_step`: the same learned (or fixed) ``v_th`` and ``lambda`` as
    :class:`STMNeuron`, hard reset, ``forward(x, state) -> (o, LIFState)`` (spikes out)."""

    kind = "lif"

    def __init__(self, v_th: float = 1.0, leak: float = 0.5, learnable: bool = True, width: float = DEFAULT_WIDTH,
                 surrogate: bool = True, leak_grid: str = "pow2"):
        super().__init__(v_th, leak, learnable, width, surrogate)
        if leak_grid not in LEAK_GRIDS:
            raise ValueError(f"leak_grid must be one of {LEAK_GRIDS}, got {leak_grid!r}")
        self.leak_grid = leak_grid

    def params(self) -> STMParams:
        """As :meth:`STMNeuron.params`, with ``leak`` on the power-of-two grid when ``leak_grid == "pow2"``."""
        p = super().params()
        return p._replace(leak=_f32(pow2_leak, p.leak)) if self.leak_grid == "pow2" else p

    def forward(self, x: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        return lif_step(x, state, self.params(), self.surrogate, self.width)


class LINeuron(nn.Module):
    """Thin shell around :func:`li_step` (a readout: no threshold, no spikes) holding ``lambda`` =
    ``sigmoid(raw_leak)``, learned or fixed. ``forward(x, state) -> (v, LIState)``."""

    kind = "li"

    def __init__(self, leak: float = 0.5, learnable: bool = True, leak_grid: str = "pow2"):
        super().__init__()
        if leak_grid not in LEAK_GRIDS:
            raise ValueError(f"leak_grid must be one of {LEAK_GRIDS}, got {leak_grid!r}")
        self.leak_grid = leak_grid
        if not 0 < leak < 1:
            raise ValueError(f"leak must be in (0, 1), got {leak}")
        raw_l = torch.tensor(math.log(leak / (1 - leak)), dtype=torch.float32)
        if learnable:
            self.raw_leak = nn.Parameter(raw_l)
        else:
            self.register_buffer("raw_leak", raw_l)
        self.learnable = learnable

    def leak(self) -> torch.Tensor:
        leak = _f32(torch.sigmoid, self.raw_leak)
        return _f32(pow2_leak, leak) if self.leak_grid == "pow2" else leak

    def forward(self, x: torch.Tensor, state: LIState | None = None) -> tuple[torch.Tensor, LIState]:
        return li_step(x, state, self.leak())

    def extra_repr(self) -> str:
        return f"leak={self.leak().item():.4g}, learnable={self.learnable}, leak_grid={self.leak_grid}"


def set_surrogate(module: nn.Module, enabled: bool) -> nn.Module:
    """Switch every :class:`STMNeuron` / :class:`LIFNeuron` under ``module`` between the surrogate (training) and
    the plain Heaviside."""
    for m in module.modules():
        if isinstance(m, STMNeuron):
            m.surrogate = enabled
    return module


#: the torch neuron module of every registered kind (:data:`neurocv.dynamics.kinds.KINDS`), built from one layer's
#: options: ``NEURON_FACTORIES[kind](v_th, leak, learnable, width, leak_grid)``
NEURON_FACTORIES = {
    "stm": lambda v_th, leak, learnable, width, leak_grid: STMNeuron(v_th, leak, learnable, width),
    "lif": lambda v_th, leak, learnable, width, leak_grid: LIFNeuron(v_th, leak, learnable, width,
                                                                     leak_grid=leak_grid),
    "li": lambda v_th, leak, learnable, width, leak_grid: LINeuron(leak, learnable, leak_grid=leak_grid),
}
