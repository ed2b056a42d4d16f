"""Shared shell of the adapters that run the portable NIR file in an SNN library with its own importer (norse,
snnTorch, nirtorch): the loading and running code is in :mod:`neurocv.hardware.nir_libraries`."""

from __future__ import annotations

import time

import numpy as np

from ...dynamics.kinds import get_kind
from . import SimRun, Simulator, SimulatorUnavailable, counts_from_spikes


class NIRLibrarySimulator(Simulator):
    library = "?"

    def __init__(self, files: dict, float64: bool = False):
        import nir
        import torch

        from ..nir_libraries import load_library
        from ..stm_spec import load_stm_spec

        self.name = self.library
        self.dtype = torch.float64 if float64 else torch.float32
        self.specs, self.paths, self.loaded = {}, {}, {}
        for m, f in files.items():
            spec = load_stm_spec(f.nir)
            try:
                graph = nir.read(f.nir)
                self.loaded[m] = (graph, load_library(self.library, graph, float(graph.metadata.get("dt_s",
                                                                                                    spec.dt_s))))
            except ImportError as e:
                raise SimulatorUnavailable(f"{self.library} is not installed ({e})") from None
            except Exception as e:  # noqa: BLE001  (an importer's own error types: the reason, in one line)
                msg = (str(e).splitlines() or [""])[0]
                raise SimulatorUnavailable(f"{self.library} cannot read {f.nir.name}: {type(e).__name__}: "
                                           f"{msg}"[:240]) from None
            if not get_kind(spec.neuron).portable:   # the importer took the graph; neurocv maps only portable neurons
                raise SimulatorUnavailable(f"{self.library} reads {f.nir.name}, the paper's STM graph (LI + "
                                           f"Threshold + Scale(-v_th) loop), only through neurocv's own modules; "
                                           f"a portable file comes from a model trained with `--set neuron=lif`")
            self.specs[m], self.paths[m] = spec, f.nir

    def run(self, stm: str, x) -> SimRun:
        from ..nir_libraries import run_library

        t0 = time.perf_counter()
        run = run_library(self.library, self.paths[stm], self.specs[stm], x, dtype=self.dtype,
                          loaded=self.loaded[stm])      # imported once; every clip starts from rest
        if not run.loaded:
            raise SimulatorUnavailable(f"{self.library}: {run.reason}")
        spec = self.specs[stm]
        # an LI layer hands on its membrane as its "output": it never spikes
        spikes = [s if get_kind(layer.neuron).fires else np.zeros_like(s) for s, layer in zip(run.spikes, spec.layers)]
        return SimRun(run.output, counts_from_spikes(spec, spikes), run.membrane, spikes,
                      time.perf_counter() - t0)
