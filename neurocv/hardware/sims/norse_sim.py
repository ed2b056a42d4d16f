"""norse 1.1 on the portable NIR file of a LIF STM, with its own importer; the loading and running code is in
:mod:`neurocv.hardware.nir_libraries`."""

from __future__ import annotations

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator


class Simulator(NIRLibrarySimulator):
    library = "norse"


SIMULATORS = {"norse": SimInfo("norse",
                               "norse 1.1 `from_nir` on the portable NIR file (LIFBoxCell)",
                               Simulator, float64=True)}
