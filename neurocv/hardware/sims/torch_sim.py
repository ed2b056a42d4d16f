"""The STMs rebuilt in torch from their NIR files with the model's own arithmetic (each kind's step of
:mod:`neurocv.dynamics.kinds`, which :mod:`neurocv.models.neuron` wraps, and the model's ``heaviside``; float32),
so they equal the trained model's STMs; the runtime's ``torch`` backend."""

from __future__ import annotations

import time

import numpy as np

from . import SimInfo, SimRun, Simulator


class TorchSimulator(Simulator):
    name = "torch"

    def __init__(self, files: dict, float64: bool = False):
        from ..formats.stm_spec import load_stm_spec

        self._setup({m: load_stm_spec(f.nir) for m, f in files.items()}, float64)

    @classmethod
    def from_specs(cls, specs: dict) -> "TorchSimulator":
        """From :class:`~neurocv.hardware.formats.stm_spec.STMSpec` objects already read (the exporter's validation)."""
        self = cls.__new__(cls)
        self._setup(specs)
        return self

    def _setup(self, specs: dict, float64: bool = False) -> None:
        import torch

        from ..formats.stm_spec import fanout_map, layer_shapes

        self.specs = dict(specs)
        self.dtype = dt = torch.float64 if float64 else torch.float32
        self._layers = {}
        for name, spec in self.specs.items():
            in_hw = [spec.input_shape[1:]] + [s[1:] for s in layer_shapes(spec)[:-1]]
            self._layers[name] = [
                (torch.from_numpy(np.ascontiguousarray(l.weight, np.float32)).to(dt),
                 torch.from_numpy(np.ascontiguousarray(l.bias, np.float32)).to(dt), l.stride, l.padding,
                 torch.tensor(np.float32(l.v_th)).to(dt), torch.tensor(np.float32(l.leak)).to(dt),
                 torch.from_numpy(fanout_map(l, *hw).astype(np.float32)), l.neuron)
                for l, hw in zip(spec.layers, in_hw)]

    def run(self, stm: str, x: np.ndarray) -> SimRun:
        import torch
        import torch.nn.functional as F

        from ...dynamics.kinds import get_kind, layer_output
        from ...models.neuron import heaviside
        from ..formats.stm_spec import ac_count, analog_macs, check_input, empty_counts

        if stm not in self.specs:
            raise ValueError(f"no STM named {stm!r} (have {sorted(self.specs)})")
        t0 = time.perf_counter()
        spec = self.specs[stm]
        x = torch.from_numpy(np.ascontiguousarray(check_input(spec, x))).to(self.dtype)
        counts = empty_counts(spec)
        layers = self._layers[stm]
        acs = [0.0] * len(layers)
        state = [None] * len(layers)      # (v, o) per layer, from rest
        fire = lambda d: heaviside(d, surrogate=False)  # noqa: E731
        mems = [[] for _ in layers]
        spikes = [[] for _ in layers]
        out = []
        with torch.no_grad():
            for t in range(x.shape[0]):
                h = x[t][None]
                for k, (w, b, stride, pad, v_th, leak, fan, kind) in enumerate(layers):
                    if spec.layers[k].input == "spikes":
                        acs[k] += ac_count(w.shape[0], h[0].sum(0), fan)
                    cur = F.conv2d(h, w, b, stride, pad)
                    v, o = state[k] if state[k] is not None else (torch.zeros_like(cur), torch.zeros_like(cur))
                    v, o = state[k] = get_kind(kind).step(cur, v, o, leak, v_th, fire)
                    y = layer_output(kind, v, o)
                    mems[k].append(v[0])
                    spikes[k].append(o[0])
                    h = o
                out.append(y[0])
        steps = x.shape[0]
        spikes_np = [torch.stack(s).numpy() for s in spikes]
        for k, (entry, macs) in enumerate(zip(counts["layers"], analog_macs(spec, steps))):
            entry.update(macs=macs, acs=acs[k], spikes=float(spikes_np[k].sum()),
                         neuron_updates=float(entry["neurons"] * steps))
        return SimRun(torch.stack(out).numpy(), counts, [torch.stack(m).numpy() for m in mems], spikes_np,
                      time.perf_counter() - t0)


SIMULATORS = {"torch": SimInfo("torch", "the model's torch step functions on the STMs read from NIR (float32)",
                               TorchSimulator, float64=True)}
