"""Lava worker: runs STMs as Lava processes in ``.venv-lava`` (Python 3.10, numpy < 2, no torch).

Started by :class:`neurocv.hardware.lava_backend.LavaSTMRunner` as ``python -m neurocv.hardware.lava_worker``; it
imports only numpy, nir/h5py, lava and ``neurocv.hardware`` / ``neurocv.errors`` (none imports torch).

Network per STM (built once, reused for every clip)::

    Injector (analog x, W x H x C) -> Conv_0 -> STMNeuron_0 -> Conv_1 -> STMNeuron_1 ... -> (u_out) Extractor

``lava.proc.conv.Conv`` carries the weights (Lava layout ``(C_out, kW, kH, C_in)``, kernel flipped: Lava's Conv is
a true convolution), ``num_message_bits=24`` on the analog first layer, 0 (binary) after it. Each Conv delays by
one step, so a clip of T steps runs ``T + L`` Lava steps and layer l is active on local steps ``l+1 .. l+T``
(held at rest otherwise, which resets it per clip); the extractor's outputs of local steps ``L .. L+T-1`` are
``u_L[0 .. T-1]``. The membrane is streamed through the Extractor's port, never read with ``Var.get`` (slow); only
the 3-element ``stats`` Vars are read per clip.

Protocol on stdin/stdout (stdout is reserved for it: fd 1 is pointed at stderr so that Lava's prints cannot
corrupt it): each message is ``u32 json_len, json, u64 npy_len, npy bytes (may be empty)``. Requests
``{"op": "load", "nir": {name: path}, "mode": "float"|"fixed"}``, ``{"op": "run", "name": ...}`` + clip
``(T, C, H, W)`` float32, ``{"op": "close"}``. Replies ``{"ok": true, ...}`` (+ u for ``run``) or
``{"ok": false, "error": "one line"}``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import time

import numpy as np

from .fixed_point import quantize_input, quantize_spec
from .stm_spec import STMSpec, analog_macs, check_input, empty_counts, fanout_map, layer_shapes, load_stm_spec

__all__ = ["LavaSTMNetwork", "read_message", "write_message", "main"]


def _lava_w(weight: np.ndarray) -> np.ndarray:
    """torch ``(C_out, C_in, kH, kW)`` cross-correlation -> Lava ``(C_out, kW, kH, C_in)`` convolution kernel."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def _chw_to_whc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(2, 1, 0))


class LavaSTMNetwork:
    """One STM as Lava processes; ``run(x (T, C, H, W)) -> (u (T, C_L, H_L, W_L) float32, counts)``."""

    def __init__(self, spec: STMSpec, mode: str = "float", input_frac_bits: int = 8, buffer: int = 32):
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.conv.process import Conv
        from lava.proc.io.extractor import Extractor, PyLoihiExtractorModel
        from lava.proc.io.injector import Injector, PyLoihiInjectorModel

        from .lava.process import STMNeuronProcess

        if mode not in ("float", "fixed"):
            raise ValueError(f"mode must be 'float' or 'fixed', got {mode!r}")
        self.spec, self.mode, self.buffer = spec, mode, buffer
        self.fixed = quantize_spec(spec, input_frac_bits) if mode == "fixed" else None
        shapes = layer_shapes(spec)
        c, h, w = spec.input_shape
        self.injector = Injector(shape=(w, h, c), buffer_size=buffer)
        src = self.injector.out_port
        self.neurons = []
        n_layers = len(spec.layers)
        for k, (layer, (co, ho, wo)) in enumerate(zip(spec.layers, shapes)):
            fl = self.fixed[k] if self.fixed else None
            conv = Conv(weight=_lava_w(fl.weight if fl else layer.weight.astype(np.float64)),
                        input_shape=(w, h, c), padding=layer.padding, stride=layer.stride,
                        num_message_bits=24 if layer.input == "analog" else 0,
                        weight_exp=fl.weight_exp if fl else 0)
            nxt = spec.layers[k + 1] if k + 1 < n_layers else None
            fan = fanout_map(nxt, ho, wo).T[:, :, None].astype(float) if nxt else None
            if fl:
                params = dict(bias=fl.bias[None, None, :], leak=fl.decay, v_th=fl.vth, shift=fl.shift)
            else:
                params = dict(bias=layer.bias.astype(np.float32)[None, None, :], leak=np.float32(layer.leak),
                              v_th=np.float32(layer.v_th))
            neuron = STMNeuronProcess(shape=(wo, ho, co), t_first=k + 1, fanout=fan,
                                      fan_mult=nxt.out_channels if nxt else 0, **params)
            src.connect(conv.s_in)
            conv.a_out.connect(neuron.a_in)
            src = neuron.s_out
            self.neurons.append(neuron)
            c, h, w = co, ho, wo
        self.extractor = Extractor(shape=(w, h, c), buffer_size=buffer)
        self.neurons[-1].u_out.connect(self.extractor.in_port)
        self.cfg = Loihi2SimCfg(select_tag="floating_pt" if mode == "float" else "fixed_pt",
                                exception_proc_model_map={Injector: PyLoihiInjectorModel,
                                                          Extractor: PyLoihiExtractorModel})
        self.steps_done = 0
        self.started = False

    def run(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        from lava.magma.core.run_conditions import RunSteps

        x = check_input(self.spec, x)
        steps, n_layers = x.shape[0], len(self.spec.layers)
        for neuron in self.neurons:   # before the first run the runtime is not started: Var.set is refused
            for var, value in ((neuron.t0, self.steps_done + 1), (neuron.n_steps, steps)):
                if self.started:
                    var.set(np.array([value]))
                else:
                    var.init = np.array([value])
        if not self.started:
            self.injector.create_runtime(run_cfg=self.cfg)
            self.started = True
        if self.fixed:
            xin = quantize_input(x, self.fixed[0]).astype(np.float64)
        else:
            xin = x.astype(np.float64)
        total = steps + n_layers
        zero = np.zeros(self.injector.out_port.shape)
        self.injector.run(condition=RunSteps(num_steps=total, blocking=False), run_cfg=self.cfg)
        outs, sent = [], 0
        lag = min(total, self.buffer - 1)
        for _ in range(lag):
            self.injector.send(_chw_to_whc(xin[sent]) if sent < steps else zero)
            sent += 1
        while len(outs) < total:
            outs.append(self.extractor.receive())
            if sent < total:
                self.injector.send(_chw_to_whc(xin[sent]) if sent < steps else zero)
                sent += 1
        self.injector.wait()
        self.steps_done += total
        u = np.stack([o.transpose(2, 1, 0) for o in outs[n_layers:n_layers + steps]])
        u = (u * 2.0 ** -self.fixed[-1].q) if self.fixed else u
        counts = empty_counts(self.spec)
        stats = [n.stats.get() for n in self.neurons]
        for k, entry in enumerate(counts["layers"]):
            entry["spikes"] = float(stats[k][0])
            entry["acs"] = float(stats[k - 1][1]) if entry["input"] == "spikes" and k > 0 else 0.0
            entry["neuron_updates"] = float(entry["neurons"] * steps)
        for entry, macs in zip(counts["layers"], analog_macs(self.spec, steps)):
            entry["macs"] = macs
        if self.fixed:
            counts["saturated"] = int(sum(s[2] for s in stats))
        return u.astype(np.float32), counts

    def stop(self) -> None:
        if self.started:
            self.injector.stop()
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


def main() -> int:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                      # anything printed (Lava, numpy warnings) goes to stderr
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    nets: dict[str, LavaSTMNetwork] = {}
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
                    for name, path in req["nir"].items():
                        spec = load_stm_spec(path)
                        nets[name] = LavaSTMNetwork(spec, req.get("mode", "float"))
                        shapes[name] = {"input": list(spec.input_shape), "output": list(spec.output_shape)}
                    write_message(out, {"ok": True, "shapes": shapes})
                elif op == "run":
                    name = req.get("name")
                    if name not in nets:
                        raise ValueError(f"no STM named {name!r} loaded (loaded: {sorted(nets)})")
                    if arr is None:
                        raise ValueError("run request without a clip")
                    t0 = time.perf_counter()
                    u, counts = nets[name].run(arr)
                    write_message(out, {"ok": True, "counts": counts, "seconds": time.perf_counter() - t0}, u)
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
                print(f"lava worker: stopping runtime failed: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
