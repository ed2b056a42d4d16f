"""lava-dl netx: the ``stm_*.net`` files loaded by ``lava.lib.dl.netx.hdf5.Network`` and run in Lava, in the
``.venv-lava`` netx worker (:mod:`neurocv.hardware.netx_worker`; it imports torch, the Lava worker does not).
``netx-fixed`` is what Loihi 2 runs (bit-accurate); ``netx-float`` the same integers in float arithmetic."""

from __future__ import annotations

from . import SimInfo
from .lava_sim import LavaSimulator


class NetxSimulator(LavaSimulator):
    worker = "netx"


SIMULATORS = {
    "netx-float": SimInfo("netx-float", "lava-dl netx network, Lava floating_pt (.venv-lava)",
                          lambda files, **kw: NetxSimulator(files, "float", **kw), source="net"),
    "netx-fixed": SimInfo("netx-fixed", "lava-dl netx network, Lava fixed_pt: Loihi 2 integers (.venv-lava)",
                          lambda files, **kw: NetxSimulator(files, "fixed", **kw), source="net"),
}
