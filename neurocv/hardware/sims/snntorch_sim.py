"""snnTorch 1.0 on the portable NIR file of a LIF STM, with its own importer; the loading and running code is in
:mod:`neurocv.hardware.nir_libraries`."""

from __future__ import annotations

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator


class Simulator(NIRLibrarySimulator):
    library = "snntorch"


SIMULATORS = {"snntorch": SimInfo("snntorch",
                               "snnTorch 1.0 `import_from_nir` on the portable NIR file (Leaky, reset to zero)",
                               Simulator, float64=True)}
