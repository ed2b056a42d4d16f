"""Lava Processes of one STM layer: the paper's neuron (eqs. (3)-(4)), or the hardware-native LIF / LI of
:mod:`neurocv.dynamics` (a per-process ``neuron`` Var, :data:`NEURON_CODES`).

``STMLayerProcess`` (the default network): the layer's convolution and its neurons in ONE process, no step of delay;
it convolves only the clip's own steps. ``STMNeuronProcess`` (the "split" network): the neurons alone, fed by a
``lava.proc.conv.Conv`` process.

``STMNeuronProcess``:

Ports (Lava layout ``shape = (W, H, C)``): ``a_in`` synaptic input from the Conv (no bias: Lava's Conv has none,
the bias is a neuron parameter), ``s_out`` spikes to the next Conv, ``u_out`` the layer's output (streamed out of
the last layer every step: the analog membrane, or a LIF layer's spikes). Each Conv delays by one step, so layer l
(0-based) sees clip step t at local step ``k = t + l + 1`` (``k = time_step - t0``); outside its window
``[t_first, t_first + n_steps)`` the neuron is held at rest, which also resets it between clips. ``stats``
accumulates per clip: [spikes emitted, ACs they cause in the next layer (= fan_mult * sum of ``fanout`` over spike
positions), saturated updates (fixed point only)].
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from neurocv.hardware.formats.stm_spec import LAYER_NEURONS  # absolute: Lava loads these files by path

#: the ``neuron`` Var of both processes: an index into the spec's neuron kinds
NEURON_CODES = LAYER_NEURONS


class STMNeuronProcess(AbstractProcess):
    """``u = I + b + lambda * u_prev - v_th * o_prev; o = u > v_th`` (floating_pt) or its fixed-point form
    (fixed_pt, see :mod:`neurocv.hardware.formats.fixed_point`: ``leak`` is then the 12-bit decay, ``v_th`` and
    ``bias`` in state units and ``shift`` the synaptic input shift). ``neuron`` (0, 1, 2: :data:`NEURON_CODES`)
    selects the paper's STM above, the LIF of :func:`neurocv.dynamics.lif_update` (``v = lambda * v_prev + I + b;
    o = v > v_th``, then ``v = 0`` where it fired) or the LI of :func:`~neurocv.dynamics.li_update` (no spikes).
    ``u_out`` carries the layer's output: ``u`` for STM and LI, the spikes ``o`` for LIF."""

    def __init__(self, *, shape: tuple[int, int, int], bias: np.ndarray, leak: float, v_th: float, shift: int = 0,
                 t_first: int = 1, fanout: np.ndarray | None = None, fan_mult: int = 0, neuron: int = 0,
                 **kwargs) -> None:
        super().__init__(shape=shape, **kwargs)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.o = Var(shape=shape, init=0)
        self.bias = Var(shape=shape, init=np.broadcast_to(bias, shape).copy())
        self.leak = Var(shape=(1,), init=leak)
        self.v_th = Var(shape=(1,), init=v_th)
        self.shift = Var(shape=(1,), init=shift)
        self.neuron = Var(shape=(1,), init=neuron)
        self.t0 = Var(shape=(1,), init=1)
        self.n_steps = Var(shape=(1,), init=0)
        self.t_first = Var(shape=(1,), init=t_first)
        fan_shape = (shape[0], shape[1], 1)
        self.fanout = Var(shape=fan_shape, init=np.zeros(fan_shape) if fanout is None else fanout)
        self.fan_mult = Var(shape=(1,), init=fan_mult)
        self.stats = Var(shape=(3,), init=0)


class STMLayerProcess(AbstractProcess):
    """Conv + STM neurons of one layer in one process: ``a = conv(s_in)`` (Lava's true convolution, weight in Lava
    layout ``(C_out, kW, kH, C_in)``, input ``(W, H, C_in)``; ``analog`` input is taken as is, otherwise as 0/1
    spikes), then the neuron update of :class:`STMNeuronProcess` on ``a`` (of its kind ``neuron``). Spikes leave
    ``s_out`` as booleans in the same step (no delay); ``u_out`` streams the layer's output when ``stream_u`` (the
    membrane, or the spikes of a LIF layer). ``pipe_in`` / ``pipe_out`` (a
    buffer size, 0 = off) connect ``s_in`` / ``u_out`` straight to the host, as Lava's Injector and Extractor do,
    without their two extra processes: the host sends with ``s_in.external_pipe_csp_send_port.send(x)`` and reads
    with ``u_out.external_pipe_csp_recv_port.recv()``.

    Every clip is ``n_steps`` steps: the state is reset at each clip's first step (a step counter ``k``), so clips
    of that length follow each other without any host call. ``stats`` holds the last finished clip's [spikes, ACs
    they cause in the next layer, saturated updates (fixed point only), seconds spent computing (conv, neurons,
    counts: what is not Lava's own overhead)]."""

    def __init__(self, *, input_shape: tuple[int, int, int], weight: np.ndarray, stride: int, padding: int,
                 analog: bool, bias: np.ndarray, leak: float, v_th: float, shift: int = 0, n_steps: int = 1,
                 fanout: np.ndarray | None = None, fan_mult: int = 0, stream_u: bool = False, pipe_in: int = 0,
                 pipe_out: int = 0, neuron: int = 0, **kwargs) -> None:
        wi, hi, _ = input_shape
        k = weight.shape[1]
        wo, ho = (wi + 2 * padding - k) // stride + 1, (hi + 2 * padding - k) // stride + 1
        shape = (wo, ho, int(weight.shape[0]))
        super().__init__(shape=shape, **kwargs)
        self.s_in = InPort(shape=tuple(input_shape))
        self.s_out = OutPort(shape=shape)
        self.u_out = OutPort(shape=shape)
        if pipe_in:      # the host writes the input here (as Lava's Injector does), no Injector process
            self.s_in.flag_external_pipe(buffer_size=pipe_in)
        if pipe_out:     # the host reads u here (as from Lava's Extractor), no Extractor process
            self.u_out.flag_external_pipe(buffer_size=pipe_out)
        self.weight = Var(shape=weight.shape, init=weight)
        self.stride = Var(shape=(1,), init=stride)
        self.padding = Var(shape=(1,), init=padding)
        self.analog = Var(shape=(1,), init=int(analog))
        self.stream_u = Var(shape=(1,), init=int(stream_u))
        self.neuron = Var(shape=(1,), init=neuron)
        self.u = Var(shape=shape, init=0)
        self.bias = Var(shape=shape, init=np.broadcast_to(bias, shape).copy())
        self.leak = Var(shape=(1,), init=leak)
        self.v_th = Var(shape=(1,), init=v_th)
        self.shift = Var(shape=(1,), init=shift)
        self.n_steps = Var(shape=(1,), init=n_steps)
        self.k = Var(shape=(1,), init=0)
        fan_shape = (wo, ho)
        self.fanout = Var(shape=fan_shape, init=np.zeros(fan_shape) if fanout is None else fanout)
        self.fan_mult = Var(shape=(1,), init=fan_mult)
        self.stats = Var(shape=(4,), init=0)
