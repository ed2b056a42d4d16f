"""norse 1.1: norse 1.1 `from_nir` on the portable NIR file (LIFBoxCell); see :mod:`neurocv.exporters.nir_check`."""

from __future__ import annotations

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator


class Simulator(NIRLibrarySimulator):
    library = "norse"


SIMULATORS = {"norse": SimInfo("norse", "norse 1.1 `from_nir` on the portable NIR file (LIFBoxCell)", Simulator)}
