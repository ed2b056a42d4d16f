"""The numpy reference (:func:`neurocv.hardware.formats.stm_spec.simulate_numpy`): float32, every layer's membrane and
spikes, no other library."""

from __future__ import annotations

import time

import numpy as np

from . import SimInfo, SimRun, Simulator


class NumpySimulator(Simulator):
    name = "numpy"

    def __init__(self, files: dict, float64: bool = False):
        from ..formats.stm_spec import load_stm_spec

        self.specs = {m: load_stm_spec(f.nir) for m, f in files.items()}
        self.dtype = np.float64 if float64 else np.float32

    def run(self, stm: str, x) -> SimRun:
        from ..formats.stm_spec import simulate_numpy

        t0 = time.perf_counter()
        trace: dict = {}
        y, counts = simulate_numpy(self.specs[stm], x, trace=trace, dtype=self.dtype)
        return SimRun(y, counts, trace["membrane"], trace["spikes"], time.perf_counter() - t0)


SIMULATORS = {"numpy": SimInfo("numpy", "numpy float32 reference (neurocv.hardware.formats.stm_spec)", NumpySimulator,
                               float64=True)}
