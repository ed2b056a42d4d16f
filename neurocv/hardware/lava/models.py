"""ProcessModels of :class:`STMLayerProcess` (conv + neurons) and :class:`STMNeuronProcess` (neurons alone):
``floating_pt`` (float32, the torch arithmetic) and ``fixed_pt`` (Loihi-style integers, bit-exact with
:func:`neurocv.hardware.formats.fixed_point.simulate_fixed_numpy`). Each runs the neuron its process's ``neuron`` Var
names (0 the paper's STM, 1 LIF with a hard reset, 2 LI: :data:`~neurocv.hardware.lava.process.NEURON_CODES`)."""

from __future__ import annotations

import time

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

# absolute imports: Lava loads these files by path. fixed_point is numpy only (no torch: tests/test_layering.py)
from neurocv.dynamics import heaviside_numpy
from neurocv.dynamics.kinds import KINDS, layer_output
from neurocv.hardware.formats.fixed_point import (DECAY_ONE, MAX_FLOAT_SHIFT, STATE_MAX,  # noqa: F401 (re-exported)
                                                  STATE_MIN, step_fixed, step_fixed_inplace, step_float_inplace)
from neurocv.hardware.formats.stm_spec import ac_count
from neurocv.hardware.lava.conv import ConvPlan, signed_wrap
from neurocv.hardware.lava.process import NEURON_CODES, STMLayerProcess, STMNeuronProcess


def _kind(neuron: np.ndarray):
    """The registry entry of a process's ``neuron`` Var (its code: an index into NEURON_CODES)."""
    return KINDS[NEURON_CODES[int(neuron[0])]]


class _Common(PyLoihiProcessModel):
    t0: np.ndarray = LavaPyType(np.ndarray, np.int64)
    n_steps: np.ndarray = LavaPyType(np.ndarray, np.int64)
    t_first: np.ndarray = LavaPyType(np.ndarray, np.int64)
    fanout: np.ndarray = LavaPyType(np.ndarray, float)
    fan_mult: np.ndarray = LavaPyType(np.ndarray, float)
    stats: np.ndarray = LavaPyType(np.ndarray, float)
    neuron: np.ndarray = LavaPyType(np.ndarray, np.int64)

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
                self.stats[1] += ac_count(self.fan_mult[0], self.o.sum(axis=2, keepdims=True), self.fanout)
        else:
            self.u[:] = 0
            self.o[:] = 0
        self.s_out.send(self.o)
        self.u_out.send(layer_output(_kind(self.neuron), self.u, self.o))    # the layer's output


@implements(proc=STMNeuronProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySTMNeuronFloat(_Common):
    """float32: ``u = (float32(a) + b) + lambda * u - v_th * o``; ``o = u > v_th`` (STM), or
    :func:`~neurocv.dynamics.lif_update` / :func:`~neurocv.dynamics.li_update` on ``I = float32(a) + b``."""

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
        self.u[:], self.o[:] = _kind(self.neuron).step(cur, self.u, self.o, self.leak[0], self.v_th[0],
                                                       heaviside_numpy)


@implements(proc=STMNeuronProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySTMNeuronFixed(_Common):
    """24-bit state: ``u = sat24(decay12(u) + shift(a, sh) + b - vth * o)``; ``o = u > vth`` (all integers). LIF:
    no ``- vth * o``, ``u = 0`` where it fired; LI: no spikes
    (:func:`~neurocv.hardware.formats.fixed_point.neuron_step_fixed`).
    """

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
        u, o, n_sat = step_fixed(_kind(self.neuron), self.u, self.o, np.asarray(a).astype(np.int64),
                                 self.bias, int(self.leak[0]), int(self.v_th[0]), int(self.shift[0]))
        self.stats[2] += float(n_sat)
        self.u[:] = u
        self.o[:] = o


# ----------------------------------------------------------------------------------------------------------------
# STMLayerProcess: conv + neurons in one process, no delay, reset at every clip's first step


class _LayerCommon(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.bool_, precision=1)     # 1 byte a spike
    weight: np.ndarray = LavaPyType(np.ndarray, float)
    stride: np.ndarray = LavaPyType(np.ndarray, np.int64)
    padding: np.ndarray = LavaPyType(np.ndarray, np.int64)
    analog: np.ndarray = LavaPyType(np.ndarray, np.int64)
    stream_u: np.ndarray = LavaPyType(np.ndarray, np.int64)
    shift: np.ndarray = LavaPyType(np.ndarray, np.int64)
    n_steps: np.ndarray = LavaPyType(np.ndarray, np.int64)
    k: np.ndarray = LavaPyType(np.ndarray, np.int64)
    fanout: np.ndarray = LavaPyType(np.ndarray, float)
    fan_mult: np.ndarray = LavaPyType(np.ndarray, float)
    stats: np.ndarray = LavaPyType(np.ndarray, float)
    neuron: np.ndarray = LavaPyType(np.ndarray, np.int64)
    _plan = None
    _buf = None

    def _setup(self) -> None:
        self._plan = ConvPlan(self.weight, self.s_in.shape, int(self.stride[0]), int(self.padding[0]),
                              binary=not int(self.analog[0]))
        self.o = np.zeros(self.u.shape, bool)
        self._acc = np.zeros(self.u.shape[:2], np.int64) if self.fan_mult[0] else None
        self._tally = np.zeros(4)

    def update(self, a: np.ndarray) -> None:
        raise NotImplementedError

    def run_spk(self) -> None:
        ports = self.s_in.csp_ports
        # one sender: its array as sent (booleans stay booleans; PyInPort.recv would add it to a zero array)
        x = ports[0].recv() if len(ports) == 1 else self.s_in.recv()
        t0 = time.perf_counter()
        if self._plan is None:
            self._setup()
        if self.k[0] == 0:                        # a clip's first step: start from rest
            self.u[:] = 0
            self.o[:] = False
            self._tally[:] = 0
            if self._acc is not None:
                self._acc[:] = 0
        self.update(self._plan(x))
        if self._acc is not None:
            self._acc += self.o.sum(axis=2)
        else:
            self._tally[0] += np.count_nonzero(self.o)
        self.k[0] += 1
        if self.k[0] == self.n_steps[0]:          # the clip's last step: publish its counts
            self.k[0] = 0
            if self._acc is not None:
                self._tally[0] = float(self._acc.sum())
                self._tally[1] = ac_count(self.fan_mult[0], self._acc, self.fanout)
            self._tally[3] += time.perf_counter() - t0
            self.stats[:] = self._tally
        else:
            self._tally[3] += time.perf_counter() - t0
        self.s_out.send(self.o)
        if self.stream_u[0]:
            self.u_out.send(layer_output(_kind(self.neuron), self.u, self.o))    # the layer's output


def float_step(u: np.ndarray, o: np.ndarray, a: np.ndarray, bias: np.ndarray, leak: np.float32, v_th: np.float32,
               cur: np.ndarray, neuron: int = 0) -> None:
    """In place, float32, bit for bit the float step of the kind whose code is ``neuron`` (0: the paper's STM,
    ``u = (float32(a) + b) + leak * u - v_th * o; o = u > v_th``): :func:`~neurocv.dynamics.fixed.
    step_float_inplace`."""
    step_float_inplace(KINDS[NEURON_CODES[neuron]], u, o, a, bias, leak, v_th, cur)


def fixed_step(u: np.ndarray, o: np.ndarray, a: np.ndarray, bias: np.ndarray, decay: int, v_th: int, shift: int,
               buf: np.ndarray, neuron: int = 0) -> int:
    """In place, the integers of :func:`neurocv.hardware.formats.fixed_point.neuron_step_fixed` on the conv's (exact,
    already wrapped) sums ``a``, for the neuron Var's value ``neuron``: :func:`~neurocv.dynamics.fixed.
    step_fixed_inplace` (float64 arrays holding integers). Returns the number of saturated updates."""
    return step_fixed_inplace(KINDS[NEURON_CODES[neuron]], u, o, a, bias, decay, v_th, shift, buf)


@implements(proc=STMLayerProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySTMLayerFloat(_LayerCommon):
    """float64 conv sums (as Lava's Conv), then float32: ``u = (float32(a) + b) + lambda * u - v_th * o``."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.float32)     # the host's clip is float32: half the bytes
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.float32)
    u: np.ndarray = LavaPyType(np.ndarray, np.float32)
    bias: np.ndarray = LavaPyType(np.ndarray, np.float32)
    leak: np.ndarray = LavaPyType(np.ndarray, np.float32)
    v_th: np.ndarray = LavaPyType(np.ndarray, np.float32)

    def update(self, a: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty(self.u.shape, np.float32)
        float_step(self.u, self.o, a, self.bias, self.leak[0], self.v_th[0], self._buf, int(self.neuron[0]))


@implements(proc=STMLayerProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySTMLayerFixed(_LayerCommon):
    """Integer conv sums wrapped to 24 bits (as Lava's Conv), then
    ``u = sat24(decay12(u) + shift(a, sh) + b - vth * o)``; ``o = u > vth``."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    leak: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=13)
    v_th: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)

    def update(self, a: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty(self.u.shape)
            self._uf = np.zeros(self.u.shape)            # the integer state, held exactly in float64
            self._bias = self.bias.astype(np.float64)
        if self.k[0] == 0:
            self._uf[:] = 0
        # Lava's Conv casts its sums to int32 and wraps them to 24 bits: a no-op unless a sum leaves [-2^23, 2^23)
        safe = self._plan.binary and self._plan.row_abs_sum < 1 << 23
        if not safe and (a.min() < STATE_MIN or a.max() > STATE_MAX):
            a = signed_wrap(a.astype(np.int32), 24).astype(np.float64)
        self._tally[2] += fixed_step(self._uf, self.o, a, self._bias, int(self.leak[0]), int(self.v_th[0]),
                                     int(self.shift[0]), self._buf, int(self.neuron[0]))
        if self.stream_u[0]:
            self.u[:] = self._uf
