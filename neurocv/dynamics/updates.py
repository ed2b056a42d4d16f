"""The float neuron updates of :mod:`neurocv.dynamics` (its docstring gives the equations); nothing here imports
torch or numpy."""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["stm_update", "lif_update", "li_update", "heaviside_numpy"]


def stm_update(current: Any, u: Any, o: Any, leak: Any, v_th: Any, fire: Callable[[Any], Any]) -> tuple[Any, Any]:
    """One STM step (eqs. (3)-(4)): returns ``(u[t], o[t])`` from ``u[t-1]``, ``o[t-1]``.

    Evaluated as ``(current + lambda * u) - v_th * o``, the order torch and the float32 references use."""
    u = current + leak * u - v_th * o
    return u, fire(u - v_th)


def lif_update(current: Any, v: Any, leak: Any, v_th: Any, fire: Callable[[Any], Any],
               hold: Callable[[Any], Any] = lambda s: s) -> tuple[Any, Any]:
    """One LIF step: returns ``(o[t], v[t])`` (spikes, membrane after the hard reset) from ``v[t-1]``.

    Evaluated as ``lambda * v + current`` (snnTorch's and Lava's order). ``hold`` is applied to the spikes used by
    the reset (torch training passes ``Tensor.detach``: the reset carries no surrogate gradient)."""
    v = leak * v + current
    o = fire(v - v_th)
    return o, v * (1 - hold(o))


def li_update(current: Any, v: Any, leak: Any) -> Any:
    """One LI (leaky integrator) step: ``v[t] = lambda * v[t-1] + current[t]``."""
    return leak * v + current


def heaviside_numpy(x):
    """``H(x)`` for numpy arrays, in ``x``'s dtype."""
    return (x > 0).astype(x.dtype)
