"""lava-dl netx: the ``stm_*.net`` files loaded by ``lava.lib.dl.netx.hdf5.Network`` and run in Lava, in the
``.venv-lava`` netx worker (:mod:`neurocv.hardware.netx_worker`; it imports torch, the Lava worker does not).
``netx-fixed`` is what Loihi 2 runs (bit-accurate); ``netx-float`` the same integers in float arithmetic."""

from __future__ import annotations

import time

import numpy as np

from . import SimInfo, SimRun
from .lava_sim import LavaSimulator


class NetxSimulator(LavaSimulator):
    """``trace=True`` also streams every layer's membrane (after the reset, float units) out of Lava."""

    worker = "netx"

    def __init__(self, files: dict, mode: str, python=None, trace: bool = False):
        self.trace = trace
        super().__init__(files, mode, python=python, network={"trace": True} if trace else None)

    def run(self, stm: str, x) -> SimRun:
        if not self.trace:
            return super().run(stm, x)
        t0 = time.perf_counter()
        reply, flat = self.runner._request({"op": "run", "name": stm}, np.ascontiguousarray(x, dtype=np.float32))
        parts, k = [], 0
        for shape in reply["parts"]:
            n = int(np.prod(shape))
            parts.append(flat[k:k + n].reshape(shape))
            k += n
        return SimRun(parts[0], reply["counts"], parts[1:], [], float(reply.get("seconds", time.perf_counter() - t0)))


SIMULATORS = {
    "netx-float": SimInfo("netx-float", "lava-dl netx network, Lava floating_pt (.venv-lava)",
                          lambda files, **kw: NetxSimulator(files, "float", **kw), source="net", trace=True,
                          worker=True),
    "netx-fixed": SimInfo("netx-fixed", "lava-dl netx network, Lava fixed_pt: Loihi 2 integers (.venv-lava)",
                          lambda files, **kw: NetxSimulator(files, "fixed", **kw), source="net", trace=True,
                          worker=True),
}
