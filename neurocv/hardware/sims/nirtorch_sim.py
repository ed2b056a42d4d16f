"""nirtorch 2.6: nirtorch 2.6 `nir_to_torch` with neurocv's documented node map (forward Euler); see :mod:`neurocv.exporters.nir_check`."""

from __future__ import annotations

from . import SimInfo
from ._nir_libs import NIRLibrarySimulator


class Simulator(NIRLibrarySimulator):
    library = "nirtorch"


SIMULATORS = {"nirtorch": SimInfo("nirtorch", "nirtorch 2.6 `nir_to_torch` with neurocv's documented node map (forward Euler)", Simulator)}
