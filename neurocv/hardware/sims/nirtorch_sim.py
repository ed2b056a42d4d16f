"""nirtorch 2.6 on the portable NIR file of a LIF STM: ``nirtorch.nir_to_torch(graph, nirtorch_node_map(dt_s))``.

nirtorch maps no neuron itself; :func:`nirtorch_node_map` is the documented map (forward Euler, the update of
:mod:`neurocv.dynamics`): ``LIF`` and ``LI`` (so the ``"li"`` readout runs here, and only here), plus ``Threshold``
and ``Scale`` so the paper's STM graph (LI + Threshold + Scale loop) loads as well. The module carries its state as
``module(x, state) -> (out, state)``; a neuron returns ``(spikes or v, v)``.
"""

from __future__ import annotations

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator

__all__ = ["nirtorch_node_map", "Simulator", "SIMULATORS"]


def nirtorch_node_map(dt_s: float) -> dict:
    """The node map for ``nirtorch.nir_to_torch``: ``nir.LIF`` and ``nir.LI`` -> :class:`~._nirtorch_nodes.NIRLIF` at
    ``dt_s``; ``nir.Threshold`` and ``nir.Scale`` too, so the paper's STM graph (LI + Threshold + Scale loop) runs as
    well."""
    import nir

    from ._nirtorch_nodes import NIRLIF, NIRScale, NIRThreshold

    return {nir.LIF: lambda n: NIRLIF(n, dt_s), nir.LI: lambda n: NIRLIF(n, dt_s, fire=False),
            nir.Threshold: NIRThreshold, nir.Scale: NIRScale}


class Simulator(NIRLibrarySimulator):
    library = "nirtorch"
    nir_nodes = frozenset({"LIF", "LI"})

    @staticmethod
    def load(graph, dt_s: float):
        import nirtorch

        return nirtorch.nir_to_torch(graph, nirtorch_node_map(dt_s))


SIMULATORS = {"nirtorch": SimInfo("nirtorch",
                               "nirtorch 2.6 `nir_to_torch` with neurocv's documented node map (forward Euler)",
                               Simulator, float64=True, backend=False)}
