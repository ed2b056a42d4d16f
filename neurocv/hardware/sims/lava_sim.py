"""Lava (lava-nc 0.10.0) processes in the ``.venv-lava`` worker (:class:`neurocv.hardware.lava_backend.LavaSTMRunner`):
``floating_pt`` and the bit-accurate ``fixed_pt``. The worker streams the readout only: no per-layer traces."""

from __future__ import annotations

import time

from . import SimInfo, SimRun, Simulator


class LavaSimulator(Simulator):
    worker = "lava"

    def __init__(self, files: dict, mode: str, python=None, **options):
        from ..lava_backend import LavaSTMRunner

        self.name = f"{'netx' if self.worker == 'netx' else 'lava'}-{mode}"
        paths = {m: (f.net if self.worker == "netx" else f.nir) for m, f in files.items()}
        self.runner = LavaSTMRunner(paths, mode, python=python, worker=self.worker, **options)

    @property
    def pid(self) -> int:
        return self.runner.pid

    def run(self, stm: str, x) -> SimRun:
        t0 = time.perf_counter()
        y, counts = self.runner.run(stm, x)
        seconds = float(counts.get("seconds", self.runner.last_seconds) or 0.0)
        return SimRun(y, counts, [], [], seconds if seconds == seconds else time.perf_counter() - t0)

    def close(self) -> None:
        self.runner.close()


SIMULATORS = {
    "lava-float": SimInfo("lava-float", "Lava floating_pt processes (.venv-lava worker)",
                          lambda files, **kw: LavaSimulator(files, "float", **kw), worker=True),
    "lava-fixed": SimInfo("lava-fixed", "Lava fixed_pt processes, Loihi integers (.venv-lava worker)",
                          lambda files, **kw: LavaSimulator(files, "fixed", **kw), worker=True),
}
