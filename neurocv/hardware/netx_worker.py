"""netx worker: runs the STMs' lava-dl netx files (``stm_*.net``) with ``lava.lib.dl.netx.hdf5.Network`` in
``.venv-lava``.

netx imports torch (through lava-dl's slayer), so it runs in its own process, apart from the torch-free Lava worker
(:mod:`neurocv.hardware.lava_worker`); both speak the same protocol (``read_message`` / ``write_message``) and are
driven by the same client (:class:`neurocv.hardware.lava_backend.LavaSTMRunner` with ``worker="netx"``).

Network per STM (built once)::

    Injector (graded x_q, W x H x C) -> netx Network (Conv block -> LIFReset) x L
       each block's spikes -> Extractor;  with an LI readout, the last block's v -> VarWire

netx's blocks are Lava's ``Conv`` + ``LIF`` processes; ``reset_interval = T + L`` (steps per clip) and
``reset_offset = 1`` make each layer reset u and v to 0 on the step its clip's first input arrives (each Conv
delays by one step), so every clip starts from rest without rebuilding. ``fixed`` runs Lava's bit-accurate
``fixed_pt`` models on the file's integers; ``float`` runs the ``floating_pt`` models with the same parameters
expressed as fractions (``du = 1``, ``dv = vDecay / 4096``, ``vth = vThMant``, ``bias = bias_mant``, unrounded
input ``x * 2^p``): both equal :func:`neurocv.hardware.formats.netx_format.simulate_netx_numpy` (tested).

Requests ``{"op": "load", "net": {name: path}, "mode": "float"|"fixed"}``, ``{"op": "run", "name": ...}`` + clip,
``{"op": "close"}``; a run's reply carries the readout ``(T, C_L, H_L, W_L)`` and the operation counts
(:func:`~neurocv.hardware.formats.netx_format.netx_counts`), as the Lava worker's. With ``"network": {"trace":
true}`` in the load request every layer's membrane is read too (a VarWire per layer) and sent after the readout in
one flat array, the reply's ``parts`` giving the shapes.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..dynamics.fixed import DECAY_ONE
from .lava_worker import serve
from .formats.netx_format import NetxNetwork, netx_counts, quantize_input_netx, read_netx

__all__ = ["NetxSTMNetwork", "main"]


def _chw_to_whc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(2, 1, 0))


class NetxSTMNetwork:
    """One STM from its netx file; ``run(x (T, C, H, W)) -> (y (T, C_L, H_L, W_L) float32, spikes per layer)``."""

    def __init__(self, path: str, mode: str = "fixed", buffer: int = 32, trace: bool = False):
        if mode not in ("float", "fixed"):
            raise ValueError(f"mode must be 'float' or 'fixed', got {mode!r}")
        self.path, self.mode, self.buffer, self.trace = path, mode, buffer, trace
        self.net_info: NetxNetwork = read_netx(path)
        self.interval = None
        self.started = False
        self.steps_done = 0

    def _build(self, steps: int) -> None:
        from lava.lib.dl import netx
        from lava.lib.dl.netx.blocks import models as block_models
        from lava.lib.dl.netx.blocks import process as block_process
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel, PyLoihiVarWireModel, VarWire
        from lava.proc.io.injector import Injector, PyLoihiInjectorModel

        self.stop()
        info = self.net_info
        n_layers = len(info.layers)
        self.interval = steps + n_layers
        net = netx.hdf5.Network(net_config=self.path, input_message_bits=24, reset_interval=self.interval,
                                reset_offset=1)
        if len(net.layers) != n_layers:
            raise ValueError(f"{self.path}: netx built {len(net.layers)} layers, the file has {n_layers}")
        if self.mode == "float":
            for block, layer in zip(net.layers, info.layers):
                nrn = block.neuron
                nrn.du.init, nrn.dv.init = 1.0, layer.v_decay / float(DECAY_ONE)
                nrn.vth.init = float(layer.v_th)
        c, h, w = info.input_shape
        self.injector = Injector(shape=(w, h, c), buffer_size=self.buffer)
        self.injector.out_port.connect(net.inp)
        self.extractors = []
        for block in net.layers:
            ex = Extractor(shape=block.out.shape, buffer_size=self.buffer)
            block.out.connect(ex.in_port)
            self.extractors.append(ex)
        self.wires = {}      # layer index -> VarWire on its v: the LI readout, or every layer with trace=True
        for k, block in enumerate(net.layers):
            if self.trace or (info.membrane_readout and k == n_layers - 1):
                self.wires[k] = VarWire(buffer_size=self.buffer)
                self.wires[k].connect_var(block.neuron.v)
        models = {Injector: PyLoihiInjectorModel, Extractor: PyLoihiExtractorModel, VarWire: PyLoihiVarWireModel,
                  netx.hdf5.Network: netx.hdf5.PyNetworkModel, block_process.Conv: block_models.PyConvModel}
        try:   # the fast Conv model of neurocv's Lava backend, where it is present
            from lava.proc.conv.process import Conv

            from .lava.conv import PyConvFastFixed, PyConvFastFloat

            models[Conv] = PyConvFastFixed if self.mode == "fixed" else PyConvFastFloat
        except ImportError:
            pass
        self.cfg = Loihi2SimCfg(select_tag="fixed_pt" if self.mode == "fixed" else "floating_pt",
                                exception_proc_model_map=models)
        self.net = net
        self.injector.create_runtime(run_cfg=self.cfg)
        self.started = True
        self.steps_done = 0

    def run(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray | None]]:
        """``x (T, C, H, W)`` -> ``(readout, spikes per layer, membranes per layer (float units, after the reset;
        None where not read))``."""
        from lava.magma.core.run_conditions import RunSteps

        info = self.net_info
        x = np.asarray(x, np.float32)
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(info.input_shape):
            raise ValueError(f"STM {info.name}: expected a clip (T, {', '.join(map(str, info.input_shape))}), "
                             f"got {tuple(x.shape)}")
        steps, n_layers = x.shape[0], len(info.layers)
        if not self.started or self.interval != steps + n_layers:
            self._build(steps)
        xin = quantize_input_netx(info, x, self.mode)
        total = self.interval
        zero = np.zeros(self.injector.out_port.shape)
        self.injector.run(condition=RunSteps(num_steps=total, blocking=False), run_cfg=self.cfg)
        spikes = [[] for _ in range(n_layers)]
        mem = {k: [] for k in self.wires}
        sent = 0
        for _ in range(min(total, self.buffer - 1)):
            self.injector.send(_chw_to_whc(xin[sent]) if sent < steps else zero)
            sent += 1
        for _ in range(total):
            for k, ex in enumerate(self.extractors):
                spikes[k].append(ex.receive())
            for k, wire in self.wires.items():
                mem[k].append(wire.receive())
            if sent < total:
                self.injector.send(_chw_to_whc(xin[sent]) if sent < steps else zero)
                sent += 1
        self.injector.wait()
        self.steps_done += total
        # layer k is active on local steps k+1 .. k+T (the Conv before it delays by one step)
        out_spikes = [np.stack([s.transpose(2, 1, 0) for s in spikes[k][k + 1:k + 1 + steps]]).astype(np.float32)
                      for k in range(n_layers)]
        mems: list[np.ndarray | None] = [None] * n_layers
        for k, trace in mem.items():
            unit = 2.0 ** -(info.layers[k].scale + (6 if self.mode == "fixed" else 0))
            # VarWire reads v after the step's update (and reset): layer k's clip steps are local k+1 .. k+T
            mems[k] = (np.stack([m.transpose(2, 1, 0) for m in trace[k + 1:k + 1 + steps]]) * unit).astype(np.float32)
        y = mems[-1] if info.membrane_readout else out_spikes[-1]
        return y.astype(np.float32), out_spikes, mems

    def stop(self) -> None:
        if self.started:
            self.injector.stop()
            self.started = False


def _load(path: str, req: dict):
    trace = bool((req.get("network") or {}).get("trace"))
    net = NetxSTMNetwork(path, req.get("mode", "fixed"), trace=trace)
    info = net.net_info
    return net, {"input": list(info.input_shape), "output": list(info.shapes()[-1])}


def _run(net: "NetxSTMNetwork", clip: np.ndarray):
    t0 = time.perf_counter()
    y, spikes, mems = net.run(clip)
    reply = {"counts": netx_counts(net.net_info, spikes), "seconds": time.perf_counter() - t0}
    if net.trace:    # readout, then every layer's membrane, in one flat array
        reply["parts"] = [list(y.shape)] + [list(m.shape) for m in mems]
        y = np.concatenate([y.ravel()] + [m.ravel() for m in mems])
    return reply, y


def main() -> int:
    return serve("netx worker", "net", _load, _run)


if __name__ == "__main__":
    sys.exit(main())
