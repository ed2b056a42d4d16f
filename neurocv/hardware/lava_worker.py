"""Lava worker: runs STMs as Lava processes in ``.venv-lava`` (Python 3.10, numpy < 2, no torch).

Started by :class:`neurocv.hardware.lava_backend.LavaSTMRunner` as ``python -m neurocv.hardware.lava_worker``; it
imports only numpy, nir/h5py, lava and ``neurocv.hardware`` / ``neurocv.errors`` (none imports torch).

Network per STM (built once, reused for every clip), the default ``layout="fused"``::

    Injector (analog x, W x H x C) -> STMLayer_0 -> STMLayer_1 ... -> (u_out) Extractor

Each :class:`~neurocv.hardware.lava.process.STMLayerProcess` convolves (im2col + one BLAS matmul over the strided
outputs, :mod:`neurocv.hardware.lava.conv`) and updates its neurons in the same step, so a clip of T steps is T Lava
steps; spikes travel as booleans. Weights are in Lava layout ``(C_out, kW, kH, C_in)``, kernel flipped (Lava's Conv
is a true convolution). Each layer counts its clip's steps and resets itself at the first, so consecutive clips
need no host call (``n_steps`` is set only when T changes). ``layout="split"`` is the network of Lava's own
processes, ``Injector -> (lava.proc.conv.Conv -> STMNeuron) x L -> Extractor`` with the Conv run by our model
(``conv="neurocv"``) or Lava's (``conv="lava"``): each Conv delays by one step, so a clip runs ``T + L`` steps and
layer l is active on local steps ``l+1 .. l+T`` (held at rest otherwise). Every layer runs its spec's neuron
(the paper's STM, or a hardware-native LIF with an optional last LI layer: the processes' ``neuron`` Var). The
STM's output (:attr:`~neurocv.hardware.formats.stm_spec.STMSpec.readout`: the last layer's membrane, or its 0/1
spikes for a LIF readout) is streamed through the Extractor's port, never read with ``Var.get`` (slow); only the small
``stats`` Vars are read per clip.

Protocol on stdin/stdout (stdout is reserved for it: fd 1 is pointed at stderr so that Lava's prints cannot
corrupt it): each message is ``u32 json_len, json, u64 npy_len, npy bytes (may be empty)``. Requests
``{"op": "load", "nir": {name: path}, "mode": "float"|"fixed"[, "network": {"layout": ..., "conv": ...}]}``,
``{"op": "run", "name": ...}`` + clip ``(T, C, H, W)`` float32, ``{"op": "close"}``. Replies
``{"ok": true, ...}`` (``run``: + u, and ``counts``, ``seconds`` (Lava's wall time), ``steps``, ``compute_s``
(the layers' own compute; null for the split layout)) or ``{"ok": false, "error": "one line"}``.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    # One BLAS thread per process, set before numpy loads its BLAS: Lava forks one OS process per Lava process and
    # each convolves with a matmul; on a 2-core machine extra BLAS threads only compete. (Only when run as the
    # worker: the client in the main environment imports this module for its framing functions.)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import io  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from .formats.fixed_point import quantize_input, quantize_spec
from .formats.stm_spec import STMSpec, analog_macs, check_input, empty_counts, fanout_map, layer_shapes, load_stm_spec

__all__ = ["LavaSTMNetwork", "LAYOUTS", "CONV_MODELS", "read_message", "write_message", "main"]

LAYOUTS = ("fused", "split")        # one process per layer (conv + neurons), or Lava's Conv + a neuron process
CONV_MODELS = ("neurocv", "lava")   # split layout: which ProcessModel runs lava.proc.conv.Conv


def _lava_w(weight: np.ndarray) -> np.ndarray:
    """torch ``(C_out, C_in, kH, kW)`` cross-correlation -> Lava ``(C_out, kW, kH, C_in)`` convolution kernel."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


class LavaSTMNetwork:
    """One STM as Lava processes; ``run(x (T, C, H, W)) -> (y (T, C_L, H_L, W_L) float32, counts)``, ``y`` the
    STM's output (membrane, or spikes for a LIF readout)."""

    def __init__(self, spec: STMSpec, mode: str = "float", input_frac_bits: int = 8, buffer: int = 32,
                 layout: str = "fused", conv: str = "neurocv"):
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
        from lava.proc.io.injector import Injector, PyLoihiInjectorModel

        if mode not in ("float", "fixed"):
            raise ValueError(f"mode must be 'float' or 'fixed', got {mode!r}")
        if layout not in LAYOUTS or conv not in CONV_MODELS:
            raise ValueError(f"layout must be one of {LAYOUTS} and conv one of {CONV_MODELS}, got {layout!r}, "
                             f"{conv!r}")
        self.spec, self.mode, self.buffer, self.layout = spec, mode, buffer, layout
        self.fixed = quantize_spec(spec, input_frac_bits) if mode == "fixed" else None
        models = {}
        if layout == "fused":
            self._build_fused(buffer)
            self.head = self.layers[0]
        else:
            c, h, w = spec.input_shape
            self.injector = Injector(shape=(w, h, c), buffer_size=buffer)
            models = {Injector: PyLoihiInjectorModel, Extractor: PyLoihiExtractorModel}
            self._build_split(models, conv)
            self.extractor = Extractor(shape=self.layers[-1].u_out.shape, buffer_size=buffer)
            self.layers[-1].u_out.connect(self.extractor.in_port)
            self.head = self.injector
        self.cfg = Loihi2SimCfg(select_tag="floating_pt" if mode == "float" else "fixed_pt",
                                exception_proc_model_map=models)
        self.steps_done = 0
        self.n_steps = 0
        self.started = False

    def _layer_params(self, k: int, nxt, ho: int, wo: int) -> dict:
        from .lava.process import NEURON_CODES

        fl = self.fixed[k] if self.fixed else None
        layer = self.spec.layers[k]
        fan = fanout_map(nxt, ho, wo).T.astype(float) if nxt else None
        if fl:
            params = dict(bias=fl.bias[None, None, :], leak=fl.decay, v_th=fl.vth, shift=fl.shift)
        else:
            params = dict(bias=layer.bias.astype(np.float32)[None, None, :], leak=np.float32(layer.leak),
                          v_th=np.float32(layer.v_th))
        weight = _lava_w(fl.weight if fl else layer.weight.astype(np.float64))
        return dict(params, fanout=fan, fan_mult=nxt.out_channels if nxt else 0,
                    neuron=NEURON_CODES.index(layer.neuron)), weight

    def _build_fused(self, buffer: int) -> None:
        """``host -> STMLayer_0 -> ... -> STMLayer_L -> host``: the first layer's input and the last one's membrane
        are pipes to the host (no Injector/Extractor processes); no delays, T Lava steps a clip."""
        from .lava.process import STMLayerProcess

        c, h, w = self.spec.input_shape
        src, self.layers = None, []
        n_layers = len(self.spec.layers)
        for k, (layer, (co, ho, wo)) in enumerate(zip(self.spec.layers, layer_shapes(self.spec))):
            nxt = self.spec.layers[k + 1] if k + 1 < n_layers else None
            params, weight = self._layer_params(k, nxt, ho, wo)
            proc = STMLayerProcess(input_shape=(w, h, c), weight=weight, stride=layer.stride, padding=layer.padding,
                                   analog=layer.input == "analog", stream_u=nxt is None,
                                   pipe_in=buffer if k == 0 else 0, pipe_out=buffer if nxt is None else 0, **params)
            if src is not None:
                src.connect(proc.s_in)
            src = proc.s_out
            self.layers.append(proc)
            c, h, w = co, ho, wo
        self.delay = 0

    def _build_split(self, models: dict, conv: str):
        """``Injector -> (Conv -> STMNeuron) x L -> Extractor`` with Lava's Conv process; its model is ours
        (``conv="neurocv"``) or Lava's (``"lava"``). Each Conv delays by one step: T + L Lava steps a clip."""
        from lava.proc.conv.process import Conv

        from .lava.process import STMNeuronProcess

        if conv == "neurocv":
            from .lava.conv import PyConvFastFixed, PyConvFastFloat

            models[Conv] = PyConvFastFloat if self.mode == "float" else PyConvFastFixed
        c, h, w = self.spec.input_shape
        src, self.layers = self.injector.out_port, []
        n_layers = len(self.spec.layers)
        for k, (layer, (co, ho, wo)) in enumerate(zip(self.spec.layers, layer_shapes(self.spec))):
            nxt = self.spec.layers[k + 1] if k + 1 < n_layers else None
            params, weight = self._layer_params(k, nxt, ho, wo)
            params["fanout"] = None if params["fanout"] is None else params["fanout"][:, :, None]
            proc = Conv(weight=weight, input_shape=(w, h, c), padding=layer.padding, stride=layer.stride,
                        num_message_bits=24 if layer.input == "analog" else 0,
                        weight_exp=self.fixed[k].weight_exp if self.fixed else 0)
            neuron = STMNeuronProcess(shape=(wo, ho, co), t_first=k + 1, **params)
            src.connect(proc.s_in)
            proc.a_out.connect(neuron.a_in)
            src = neuron.s_out
            self.layers.append(neuron)
            c, h, w = co, ho, wo
        self.delay = n_layers

    def _set(self, var, value) -> None:
        # before the first run the runtime is not started: Var.set is refused, the initial value is set instead
        if self.started:
            var.set(np.array([value]))
        else:
            var.init = np.array([value])

    def run(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        from lava.magma.core.run_conditions import RunSteps

        x = check_input(self.spec, x)
        steps = x.shape[0]
        if self.layout == "split":
            for neuron in self.layers:
                self._set(neuron.t0, self.steps_done + 1)
                self._set(neuron.n_steps, steps)
        elif steps != self.n_steps:           # the fused layers count their steps: told only when T changes
            for proc in self.layers:
                self._set(proc.n_steps, steps)
        self.n_steps = steps
        if not self.started:
            self.head.create_runtime(run_cfg=self.cfg)
            self.started = True
        if self.layout == "fused":
            send, receive = (self.layers[0].s_in.external_pipe_csp_send_port.send,
                             self.layers[-1].u_out.external_pipe_csp_recv_port.recv)
        else:
            send, receive = self.injector.send, self.extractor.receive
        # float32 clips and int32 integers (|x| < 2^23) travel as they are; Lava's channels cast on copy
        xin = quantize_input(x, self.fixed[0]).astype(np.int32) if self.fixed else x
        xin = np.ascontiguousarray(xin.transpose(0, 3, 2, 1))          # (T, W, H, C): Lava's layout
        total = steps + self.delay
        zero = np.zeros(xin.shape[1:])
        self.head.run(condition=RunSteps(num_steps=total, blocking=False), run_cfg=self.cfg)
        outs, sent = [], 0
        lag = min(total, self.buffer - 1)
        for _ in range(lag):
            send(xin[sent] if sent < steps else zero)
            sent += 1
        while len(outs) < total:
            outs.append(receive())
            if sent < total:
                send(xin[sent] if sent < steps else zero)
                sent += 1
        self.head.wait()
        self.steps_done += total
        u = np.stack(outs[self.delay:self.delay + steps]).transpose(0, 3, 2, 1)
        if self.fixed and self.spec.readout != "spikes":     # a LIF readout streams its 0/1 spikes
            u = u * 2.0 ** -self.fixed[-1].q
        counts = empty_counts(self.spec)
        stats = [proc.stats.get() for proc in self.layers]
        for k, entry in enumerate(counts["layers"]):
            entry["spikes"] = float(stats[k][0])
            entry["acs"] = float(stats[k - 1][1]) if entry["input"] == "spikes" and k > 0 else 0.0
            entry["neuron_updates"] = float(entry["neurons"] * steps)
        for entry, macs in zip(counts["layers"], analog_macs(self.spec, steps)):
            entry["macs"] = macs
        if self.fixed:
            counts["saturated"] = int(sum(s[2] for s in stats))
        # the layers' own compute (conv, neurons, counts; fused layout only): the rest of a step is Lava's overhead
        self.compute_s = float(sum(s[3] for s in stats)) if self.layout == "fused" else float("nan")
        return np.ascontiguousarray(u, np.float32), counts

    def stop(self) -> None:
        if self.started:
            self.head.stop()
            self.started = False


# ----------------------------------------------------------------------------------------------------------------
# Framing (shared with the client in lava_backend.py, which imports these two functions)


def write_message(fh, header: dict, array: np.ndarray | None = None) -> None:
    """``u32 len + JSON header + u64 len + npy bytes`` to a binary stream, flushed."""
    blob = b""
    if array is not None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        blob = buf.getvalue()
    head = json.dumps(header).encode()
    fh.write(struct.pack("<I", len(head)) + head + struct.pack("<Q", len(blob)) + blob)
    fh.flush()


def _read_exact(read, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = read(left)
        if not chunk:
            raise EOFError(f"stream closed with {left} of {n} bytes missing")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(read) -> tuple[dict, np.ndarray | None]:
    """Inverse of :func:`write_message`; ``read(n)`` returns up to n bytes (b"" at end of stream)."""
    (n,) = struct.unpack("<I", _read_exact(read, 4))
    header = json.loads(_read_exact(read, n))
    (m,) = struct.unpack("<Q", _read_exact(read, 8))
    array = np.load(io.BytesIO(_read_exact(read, m)), allow_pickle=False) if m else None
    return header, array


def serve(what: str, paths_key: str, load_one, run_one) -> int:
    """The worker's message loop (shared with the netx worker): ``load`` opens one network per STM with
    ``load_one(path, request) -> (network, {"input": [...], "output": [...]})`` from ``request[paths_key]``
    (name -> file), ``run`` answers ``run_one(network, clip) -> (reply fields, array)``, ``close`` ends it. Errors
    go back to the client in one line; the worker keeps serving. ``what`` names the worker in its own messages."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                      # anything printed (Lava, lava-dl's notes, numpy warnings) goes to stderr
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    nets: dict = {}
    write_message(out, {"ok": True, "ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
    try:
        while True:
            try:
                req, arr = read_message(inp.read)
            except EOFError:
                return 0
            op = req.get("op")
            try:
                if op == "close":
                    write_message(out, {"ok": True})
                    return 0
                if op == "load":
                    for net in nets.values():
                        net.stop()
                    nets.clear()
                    shapes = {}
                    for name, path in req[paths_key].items():
                        nets[name], shapes[name] = load_one(path, req)
                    write_message(out, {"ok": True, "shapes": shapes})
                elif op == "run":
                    name = req.get("name")
                    if name not in nets:
                        raise ValueError(f"no STM named {name!r} loaded (loaded: {sorted(nets)})")
                    if arr is None:
                        raise ValueError("run request without a clip")
                    reply, y = run_one(nets[name], arr)
                    write_message(out, {"ok": True, **reply}, y)
                else:
                    raise ValueError(f"unknown op {op!r}")
            except Exception as e:  # reported to the client, which raises it; the worker keeps serving
                msg = f"{type(e).__name__}: {e}".splitlines()[0]
                write_message(out, {"ok": False, "error": msg})
    finally:
        for net in nets.values():
            try:
                net.stop()
            except Exception as e:  # the process is exiting anyway
                print(f"{what}: stopping runtime failed: {e}", file=sys.stderr)


def _load(path: str, req: dict):
    spec = load_stm_spec(path)
    net = LavaSTMNetwork(spec, req.get("mode", "float"), **req.get("network", {}))
    return net, {"input": list(spec.input_shape), "output": list(spec.output_shape)}


def _run(net: "LavaSTMNetwork", clip: np.ndarray):
    t0 = time.perf_counter()
    u, counts = net.run(clip)
    seconds = time.perf_counter() - t0
    compute = net.compute_s
    return {"counts": counts, "seconds": seconds, "steps": int(clip.shape[0]),
            "compute_s": None if compute != compute else compute}, u


def main() -> int:
    return serve("lava worker", "nir", _load, _run)


if __name__ == "__main__":
    sys.exit(main())
