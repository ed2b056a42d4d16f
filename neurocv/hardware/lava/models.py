"""ProcessModels of :class:`STMNeuronProcess`: ``floating_pt`` (float32, the torch arithmetic) and ``fixed_pt``
(Loihi-style integers, bit-exact with :func:`neurocv.hardware.fixed_point.simulate_fixed_numpy`)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurocv.hardware.lava.process import STMNeuronProcess  # absolute: Lava loads this file by path

STATE_MIN, STATE_MAX = -(1 << 23), (1 << 23) - 1


class _Common(PyLoihiProcessModel):
    t0: np.ndarray = LavaPyType(np.ndarray, np.int64)
    n_steps: np.ndarray = LavaPyType(np.ndarray, np.int64)
    t_first: np.ndarray = LavaPyType(np.ndarray, np.int64)
    fanout: np.ndarray = LavaPyType(np.ndarray, float)
    fan_mult: np.ndarray = LavaPyType(np.ndarray, float)
    stats: np.ndarray = LavaPyType(np.ndarray, float)

    def update(self, a: np.ndarray) -> None:
        raise NotImplementedError

    def run_spk(self) -> None:
        a = self.a_in.recv()
        k = self.time_step - int(self.t0[0])
        if k == 0:
            self.stats[:] = 0
        first = int(self.t_first[0])
        if first <= k < first + int(self.n_steps[0]):
            self.update(a)
            n = float(self.o.sum())
            self.stats[0] += n
            if n and self.fan_mult[0]:
                self.stats[1] += self.fan_mult[0] * float((self.o.sum(axis=2, keepdims=True) * self.fanout).sum())
        else:
            self.u[:] = 0
            self.o[:] = 0
        self.s_out.send(self.o)
        self.u_out.send(self.u)


@implements(proc=STMNeuronProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySTMNeuronFloat(_Common):
    """float32: ``u = (float32(a) + b) + lambda * u - v_th * o``; ``o = u > v_th``."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, np.float32)
    o: np.ndarray = LavaPyType(np.ndarray, np.float32)
    bias: np.ndarray = LavaPyType(np.ndarray, np.float32)
    leak: np.ndarray = LavaPyType(np.ndarray, np.float32)
    v_th: np.ndarray = LavaPyType(np.ndarray, np.float32)
    shift: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def update(self, a: np.ndarray) -> None:
        cur = a.astype(np.float32) + self.bias
        u = cur + self.leak[0] * self.u - self.v_th[0] * self.o
        self.u[:] = u
        self.o[:] = u > self.v_th[0]


@implements(proc=STMNeuronProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySTMNeuronFixed(_Common):
    """24-bit state: ``u = sat24(decay12(u) + shift(a, sh) + b - vth * o)``; ``o = u > vth`` (all integers)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    o: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    leak: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=13)
    v_th: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    shift: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def update(self, a: np.ndarray) -> None:
        a = np.asarray(a).astype(np.int64)
        sh = int(self.shift[0])
        syn = a << sh if sh >= 0 else np.sign(a) * (np.abs(a) >> -sh)
        u = self.u
        decayed = np.sign(u) * ((np.abs(u) * int(self.leak[0])) >> 12)
        raw = decayed + syn + self.bias - int(self.v_th[0]) * self.o
        clipped = np.clip(raw, STATE_MIN, STATE_MAX)
        self.stats[2] += float(np.count_nonzero(clipped != raw))
        self.u[:] = clipped
        self.o[:] = clipped > int(self.v_th[0])
