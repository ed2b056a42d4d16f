"""snnTorch 1.0 on the portable NIR file of a LIF STM, with its own importer:
``snntorch.import_nir.import_from_nir(graph)``.

``LIF`` -> ``Leaky(beta = 1 - dt/tau, reset_mechanism="zero")`` with ``dt`` fixed at 1e-4 (hence the files'
``dt_s``); ``r dt/tau != 1`` is absorbed by dividing the threshold by it, so its membrane is ``v / (r dt/tau)``
(scaled back to the file's units here). The neurons keep their state on the module (``init_hidden``, membrane in
``.mem``): :func:`snntorch.utils.reset` starts a clip and a step is ``module(x)``. snnTorch has no ``LI`` node.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from ...dynamics.kinds import get_kind
from . import SimInfo
from ._nir_libs import NIRLibrarySimulator

#: the time step snnTorch's importer assumes
DT_S = 1e-4


class Simulator(NIRLibrarySimulator):
    library = "snntorch"
    nir_nodes = frozenset({"LIF"})

    @staticmethod
    def load(graph, dt_s: float):
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):      # it prints its weight-scaling notes
            return import_from_nir(graph)

    @staticmethod
    def membrane(module, output):
        return module.mem

    @staticmethod
    def start(module, graph, spec) -> list[float]:
        import snntorch.utils

        snntorch.utils.reset(module)
        scale = []
        for layer in spec.layers:     # its membrane is v / (r dt / tau): back to the file's units
            node = graph.nodes[f"{layer.name}.{get_kind(layer.neuron).nir_suffix}"]
            scale.append(float(np.unique(np.asarray(node.r) * DT_S / np.asarray(node.tau))[0]))
        return scale

    @staticmethod
    def step(module, x, state):
        return module(x), state


SIMULATORS = {"snntorch": SimInfo("snntorch",
                               "snnTorch 1.0 `import_from_nir` on the portable NIR file (Leaky, reset to zero)",
                               Simulator, float64=True, backend=False)}
