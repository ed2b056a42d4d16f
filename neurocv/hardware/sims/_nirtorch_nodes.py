"""The torch modules of nirtorch's node map (:func:`neurocv.hardware.sims.nirtorch_sim.nirtorch_node_map`): NIR's
``LIF`` / ``LI``, ``Threshold`` and ``Scale`` under forward Euler with the update of :mod:`neurocv.dynamics`. Apart
from the adapter so that listing the simulators imports no torch."""

from __future__ import annotations

import numpy as np
import torch

from ...dynamics import li_update, lif_update

__all__ = ["NIRLIF", "NIRThreshold", "NIRScale"]


class NIRLIF(torch.nn.Module):
    """NIR ``LIF`` (or ``LI`` with ``fire=False``) under forward Euler with step ``dt``: ``v' = (1 - dt/tau) v +
    (dt/tau) r I``, spike ``v' > v_threshold``, ``v = v_reset = 0`` after a spike. Parameters cast to float32 once.
    ``forward(x, state) -> (o or v, v)``."""

    def __init__(self, node, dt: float, fire: bool = True):
        super().__init__()
        tau = np.asarray(node.tau, np.float64)
        self.register_buffer("decay", torch.from_numpy(1.0 - dt / tau).float())
        self.register_buffer("gain", torch.from_numpy(dt / tau * np.asarray(node.r, np.float64)).float())
        thr = np.asarray(node.v_threshold, np.float64) if fire else np.full(tau.shape, np.inf)
        self.register_buffer("v_th", torch.from_numpy(thr).float())
        self.fire = fire

    def forward(self, x, state=None):
        v = torch.zeros_like(x) if state is None else state
        if not self.fire:
            v = li_update(self.gain * x, v, self.decay)
            return v, v
        o, v = lif_update(self.gain * x, v, self.decay, self.v_th, lambda d: (d > 0).to(d.dtype))
        return o, v


class NIRThreshold(torch.nn.Module):
    """NIR ``Threshold``: ``x > threshold`` as float."""

    def __init__(self, node):
        super().__init__()
        self.register_buffer("theta", torch.from_numpy(np.asarray(node.threshold, np.float64)).float())

    def forward(self, x):
        return (x > self.theta).to(x.dtype)


class NIRScale(torch.nn.Module):
    """NIR ``Scale``: ``scale * x``."""

    def __init__(self, node):
        super().__init__()
        self.register_buffer("s", torch.from_numpy(np.asarray(node.scale, np.float64)).float())

    def forward(self, x):
        return self.s * x
