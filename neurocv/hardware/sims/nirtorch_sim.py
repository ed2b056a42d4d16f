"""nirtorch 2.6 on the portable NIR file of a LIF STM, with its own importer; the loading and running code is in
:mod:`neurocv.hardware.nir_libraries`."""

from __future__ import annotations

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator


class Simulator(NIRLibrarySimulator):
    library = "nirtorch"


SIMULATORS = {"nirtorch": SimInfo("nirtorch",
                               "nirtorch 2.6 `nir_to_torch` with neurocv's documented node map (forward Euler)",
                               Simulator, float64=True)}
