"""norse 1.1 on the portable NIR file of a LIF STM, with its own importer: ``norse.torch.from_nir(graph, dt=dt_s)``.

``LIF`` -> ``LIFBoxCell`` (``v += dt/tau (v_leak - v + I)``, ``r`` ignored: the exporter writes ``r = 1`` and folds
the gain into the conv weights). norse's default ``dt`` is 1e-3: the file's ``metadata["dt_s"]`` is passed. The
module carries its state as ``module(x, state) -> (out, state)``; a neuron returns ``(spikes, LIFBoxFeedForwardState)``.
norse has no ``LI`` node: an STM with the ``"li"`` readout does not load.
"""

from __future__ import annotations

import warnings

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator


class Simulator(NIRLibrarySimulator):
    library = "norse"
    nir_nodes = frozenset({"LIF"})

    @staticmethod
    def load(graph, dt_s: float):
        from norse.torch import from_nir

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return from_nir(graph, dt=dt_s)

    @staticmethod
    def membrane(module, output):
        return output[1].v


SIMULATORS = {"norse": SimInfo("norse",
                               "norse 1.1 `from_nir` on the portable NIR file (LIFBoxCell)",
                               Simulator, float64=True, backend=False)}
