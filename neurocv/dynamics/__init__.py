"""Neuron updates, written once for every array library (torch for training, numpy for the reference simulation,
the simulator adapters). Only ``+``, ``-``, ``*`` and a ``fire`` callable are used, so the same function runs on
torch tensors (with a surrogate-gradient ``fire``) and numpy arrays (``fire = heaviside_numpy``); nothing here
imports torch or numpy.

Two neurons, one step per time step t (a sampled segment of the clip), ``current[t] = W s_in[t] + b``:

* **STM** (the paper's Sec. 3.2, eqs. (3)-(4)): subtractive reset, the analog membrane is the output::

      u[t] = current[t] + lambda * u[t-1] - v_th * o[t-1]
      o[t] = H(u[t] - v_th)

* **LIF** (hardware-native: Loihi's CUBA neuron with a one-step current, Lava's ``LIF`` process with ``du = 1``,
  NIR's ``LIF`` node under forward Euler, snnTorch's ``Leaky(reset_mechanism="zero")``, norse's ``LIFBoxCell``)::

      v'[t] = lambda * v[t-1] + current[t]          (leak, then integrate)
      o[t]  = H(v'[t] - v_th)                       (strictly greater)
      v[t]  = v'[t] * (1 - o[t])                    (hard reset to 0; no refractory period)

  ``v[t]`` (after the reset) is the state carried to the next step.
* **LI** (a readout without threshold): ``v[t] = lambda * v[t-1] + current[t]``.

``H(x) = 1 if x > 0 else 0``. ``v[-1] = u[-1] = o[-1] = 0`` at the start of every clip. Multiplying by ``o`` or
``1 - o`` (0 or 1) is exact in floating point, so the hard reset adds no rounding.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["stm_update", "lif_update", "li_update", "heaviside_numpy", "NEURONS"]

#: neuron kinds of a spiking temporal modulator: the paper's STM and the hardware-native LIF
NEURONS = ("stm", "lif")


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
