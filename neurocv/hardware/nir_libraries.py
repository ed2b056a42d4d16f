"""Run a portable STM NIR file (``neuron="lif"``, :func:`neurocv.exporters.nir_export.lif_spec_to_nir`) in the SNN
libraries that import NIR, by name. The exporter's check (:mod:`neurocv.exporters.nir_check`) stands on this module.

Each library is a simulator adapter of :mod:`.sims` that subclasses
:class:`~.sims._nir_libs.NIRLibrarySimulator` (``norse_sim``, ``snntorch_sim``, ``nirtorch_sim``): the adapter holds
all of its library's code (how the file loads, which ``dt`` it assumes, where its membrane is, which NIR neuron nodes
it maps). This module only finds them in the registry and runs one of them on a file; a new library is one new
adapter file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sims import available
from .sims._nir_libs import LibraryRun, NIRLibrarySimulator, run_loaded
from .formats.stm_spec import STMSpec

__all__ = ["LIBRARIES", "LibraryRun", "library_adapters", "library_adapter", "load_library", "run_library"]


def library_adapters() -> dict[str, type[NIRLibrarySimulator]]:
    """Every NIR-library adapter of the simulator registry, by name, in the registry's order."""
    return {name: info.open for name, info in available().items()
            if isinstance(info.open, type) and issubclass(info.open, NIRLibrarySimulator)}


#: the SNN libraries that load a portable NIR file with their own importer (the registry's NIR-library adapters)
LIBRARIES: tuple[str, ...] = tuple(library_adapters())


def library_adapter(library: str) -> type[NIRLibrarySimulator]:
    """The adapter of ``library``; ``ValueError`` naming the known ones."""
    adapters = library_adapters()
    if library not in adapters:
        raise ValueError(f"unknown library {library!r}; known: {', '.join(adapters)}")
    return adapters[library]


def load_library(library: str, graph, dt_s: float):
    """The torch module ``library`` builds from ``graph`` (its own importer, the file unmodified)."""
    return library_adapter(library).load(graph, dt_s)


def run_library(library: str, nir_path: str | Path, spec: STMSpec, x: np.ndarray, dtype=None,
                loaded: tuple | None = None) -> LibraryRun:
    """Load ``nir_path`` in ``library`` and run one clip ``x (T, C, H, W)`` from rest. Never raises for a library
    that is missing or cannot read the file: the :class:`LibraryRun` says why. ``dtype=torch.float64`` moves the
    library's module (its float32 parameters, exactly) and the clip to float64 before running; membranes come back
    in float64 then. ``loaded``: ``(graph, module)`` from an earlier call of :func:`load_library` on this file (a
    simulator running many clips), instead of reading and importing the file again."""
    import nir

    adapter = library_adapter(library)
    graph = nir.read(nir_path) if loaded is None else loaded[0]
    dt_s = float(graph.metadata.get("dt_s", spec.dt_s))
    try:
        module = load_library(library, graph, dt_s) if loaded is None else loaded[1]
    except ImportError as e:
        return LibraryRun(library, False, f"not installed ({e})", installed=False)
    except Exception as e:  # noqa: BLE001  (an importer that cannot map a node raises its own types)
        msg = str(e).splitlines()[0] if str(e) else ""
        return LibraryRun(library, False, f"{type(e).__name__}: {msg}"[:200])
    return run_loaded(adapter, graph, module, spec, x, dtype=dtype)
