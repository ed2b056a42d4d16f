"""Neuron updates, written once for every array library (torch for training, numpy for the reference simulation,
the simulator adapters). Only ``+``, ``-``, ``*`` and a ``fire`` callable are used, so the same function runs on
torch tensors (with a surrogate-gradient ``fire``) and numpy arrays (``fire = heaviside_numpy``); nothing here
imports torch or numpy.

The package: :mod:`.updates` (these float updates), :mod:`.fixed` (the fixed-point step, numpy), :mod:`.kinds`
(the neuron-kind registry every consumer looks up).

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

from .kinds import KIND_NAMES, KINDS, NeuronKind, get_kind
from .updates import heaviside_numpy, li_update, lif_update, stm_update

__all__ = ["stm_update", "lif_update", "li_update", "heaviside_numpy", "NEURONS", "KINDS", "KIND_NAMES",
           "NeuronKind", "get_kind"]

#: neuron kinds a whole spiking temporal modulator can be made of (the registry's kinds that are not readouts)
NEURONS = tuple(name for name, kind in KINDS.items() if not kind.last_only)
