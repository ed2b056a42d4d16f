"""Run a portable STM NIR file (``neuron="lif"``, :func:`neurocv.exporters.nir_export.lif_spec_to_nir`) in the SNN
libraries that import NIR. The exporter's check (:mod:`neurocv.exporters.nir_check`) and the simulator adapters
(:mod:`.sims`) both stand on this module.

Each library loads the same unmodified file with its own importer:

* **norse** 1.1: ``norse.torch.from_nir(graph, dt=dt_s)`` - ``LIF`` -> ``LIFBoxCell`` (``v += dt/tau (v_leak - v +
  I)``, ``r`` ignored: the exporter writes ``r = 1`` and folds the gain into the conv weights). norse's default
  ``dt`` is 1e-3: pass the file's ``metadata["dt_s"]``.
* **snnTorch** 1.0: ``snntorch.import_nir.import_from_nir(graph)`` - ``LIF`` -> ``Leaky(beta = 1 - dt/tau,
  reset_mechanism="zero")`` with ``dt`` fixed at 1e-4 (hence the files' ``dt_s``); ``r dt/tau != 1`` is absorbed
  by dividing the threshold by it, so its membrane is ``v / (dt/tau)``. The neurons keep their state on the module
  (``init_hidden``): :func:`snntorch.utils.reset` starts a clip.
* **nirtorch** 2.6: ``nirtorch.nir_to_torch(graph, nirtorch_node_map(dt_s))`` - nirtorch maps no neuron itself;
  :func:`nirtorch_node_map` is the documented map (forward Euler, the update of :mod:`neurocv.dynamics`).

All three evaluate the graph input -> output once per time step (no delay per edge) and return the last node's
output: the last layer's spikes (readout ``"spikes"``). norse and snnTorch have no ``LI`` node, so an STM with the
``"li"`` readout runs in nirtorch only.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..dynamics import li_update, lif_update
from ..dynamics.kinds import get_kind
from .stm_spec import STMSpec

__all__ = ["LIBRARIES", "LibraryRun", "NIRLIF", "NIRThreshold", "NIRScale", "nirtorch_node_map", "load_library",
           "run_library"]

LIBRARIES = ("norse", "snntorch", "nirtorch")


class NIRLIF(torch.nn.Module):
    """NIR ``LIF`` (or ``LI`` with ``fire=False``) under forward Euler with step ``dt``: ``v' = (1 - dt/tau) v +
    (dt/tau) r I``, spike ``v' > v_threshold``, ``v = v_reset = 0`` after a spike. Parameters cast to float32 once.
    ``forward(x, state) -> (o or v, v)``."""

    def __init__(self, node, dt: float, fire: bool = True):
        super().__init__()
        tau = np.asarray(node.tau, np.float64)
        self.register_buffer("decay", torch.from_numpy(1.0 - dt / tau).float())
        self.register_buffer("gain", torch.from_numpy(dt / tau * np.asarray(node.r, np.float64)).float())
        thr = np.asarray(node.v_threshold, np.float64) if fire else np.full(tau.shape, np.inf)
        self.register_buffer("v_th", torch.from_numpy(thr).float())
        self.fire = fire

    def forward(self, x, state=None):
        v = torch.zeros_like(x) if state is None else state
        if not self.fire:
            v = li_update(self.gain * x, v, self.decay)
            return v, v
        o, v = lif_update(self.gain * x, v, self.decay, self.v_th, lambda d: (d > 0).to(d.dtype))
        return o, v


class NIRThreshold(torch.nn.Module):
    """NIR ``Threshold``: ``x > threshold`` as float."""

    def __init__(self, node):
        super().__init__()
        self.register_buffer("theta", torch.from_numpy(np.asarray(node.threshold, np.float64)).float())

    def forward(self, x):
        return (x > self.theta).to(x.dtype)


class NIRScale(torch.nn.Module):
    """NIR ``Scale``: ``scale * x``."""

    def __init__(self, node):
        super().__init__()
        self.register_buffer("s", torch.from_numpy(np.asarray(node.scale, np.float64)).float())

    def forward(self, x):
        return self.s * x


def nirtorch_node_map(dt_s: float) -> dict:
    """The node map for ``nirtorch.nir_to_torch``: ``nir.LIF`` and ``nir.LI`` -> :class:`NIRLIF` at ``dt_s``;
    ``nir.Threshold`` and ``nir.Scale`` too, so the paper's STM graph (LI + Threshold + Scale loop) runs as well."""
    import nir

    return {nir.LIF: lambda n: NIRLIF(n, dt_s), nir.LI: lambda n: NIRLIF(n, dt_s, fire=False),
            nir.Threshold: NIRThreshold, nir.Scale: NIRScale}


@dataclass
class LibraryRun:
    """One library on one clip: ``output (T, C_L, H_L, W_L)``; per layer ``spikes`` and ``membrane`` ``(T, C, H, W)``
    in the file's units (snnTorch's scaled back). ``reason`` says why it did not load or run."""

    library: str
    loaded: bool
    reason: str = ""
    output: np.ndarray | None = None
    spikes: list[np.ndarray] = field(default_factory=list)
    membrane: list[np.ndarray] = field(default_factory=list)
    installed: bool = True


def _neuron_module_names(spec: STMSpec) -> list[str]:
    # nirtorch names a module after its node, dots replaced by underscores
    return [f"{layer.name}.{get_kind(layer.neuron).nir_suffix}".replace(".", "_") for layer in spec.layers]


def load_library(library: str, graph, dt_s: float) -> torch.nn.Module:
    """The torch module ``library`` builds from ``graph`` (its own importer, the file unmodified)."""
    if library == "norse":
        from norse.torch import from_nir

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return from_nir(graph, dt=dt_s)
    if library == "snntorch":
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):      # it prints its weight-scaling notes
            return import_from_nir(graph)
    if library == "nirtorch":
        import nirtorch

        return nirtorch.nir_to_torch(graph, nirtorch_node_map(dt_s))
    raise ValueError(f"unknown library {library!r}; known: {LIBRARIES}")


@torch.no_grad()
def run_library(library: str, nir_path: str | Path, spec: STMSpec, x: np.ndarray,
                dtype: torch.dtype = torch.float32, loaded: tuple | None = None) -> LibraryRun:
    """Load ``nir_path`` in ``library`` and run one clip ``x (T, C, H, W)`` from rest. Never raises for a library
    that is missing or cannot read the file: the :class:`LibraryRun` says why. ``dtype=torch.float64`` moves the
    library's module (its float32 parameters, exactly) and the clip to float64 before running; membranes come back
    in float64 then. ``loaded``: ``(graph, module)`` from an earlier call of :func:`load_library` on this file (a
    simulator running many clips), instead of reading and importing the file again."""
    import nir

    graph = nir.read(nir_path) if loaded is None else loaded[0]
    dt_s = float(graph.metadata.get("dt_s", spec.dt_s))
    try:
        module = load_library(library, graph, dt_s) if loaded is None else loaded[1]
    except ImportError as e:
        return LibraryRun(library, False, f"not installed ({e})", installed=False)
    except Exception as e:  # an importer that cannot map a node raises its own types (KeyError, ValueError, ...)
        msg = str(e).splitlines()[0] if str(e) else ""
        return LibraryRun(library, False, f"{type(e).__name__}: {msg}"[:200])
    module.eval().to(dtype)
    names = _neuron_module_names(spec)
    mods = dict(module.named_modules())
    missing = [n for n in names if n not in mods]
    if missing:     # norse's importer maps an unknown node to None and drops it
        return LibraryRun(library, False, f"{library} maps no module for the node(s) {missing}")
    record: dict[str, tuple] = {}

    def hook(name):
        def fn(mod, args, out):
            o = out[0] if isinstance(out, tuple) else out
            if library == "norse":
                v = out[1].v
            elif library == "snntorch":
                v = mod.mem
            else:
                v = out[1]
            record[name] = (o, v)
        return fn

    handles = [mods[n].register_forward_hook(hook(n)) for n in names]
    if dtype != torch.float32:      # snnTorch's neurons hand on float32 spikes (0/1: exact in any dtype)
        handles += [m.register_forward_pre_hook(lambda mod, args: tuple(a.to(dtype) for a in args))
                    for m in mods.values() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    scale = [1.0] * len(names)
    if library == "snntorch":
        import snntorch.utils

        snntorch.utils.reset(module)
        for k, layer in enumerate(spec.layers):     # its membrane is v / (r dt / tau): back to the file's units
            node = graph.nodes[f"{layer.name}.{get_kind(layer.neuron).nir_suffix}"]
            scale[k] = float(np.unique(np.asarray(node.r) * 1e-4 / np.asarray(node.tau))[0])
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))[:, None].to(dtype)    # (T, 1, C, H, W)
    spikes = [[] for _ in names]
    membrane = [[] for _ in names]
    outs = []
    state = None
    try:
        for t in range(xt.shape[0]):
            if library == "snntorch":
                out = module(xt[t])
            else:
                out, state = module(xt[t], state)
            out = out[0] if isinstance(out, tuple) else out
            outs.append(out[0].to(dtype).numpy())
            for k, n in enumerate(names):
                o, v = record[n]
                spikes[k].append(o[0].float().numpy())
                membrane[k].append(v[0].double().numpy() * scale[k])
    except Exception as e:
        return LibraryRun(library, False, f"loaded, but running failed: {type(e).__name__}: {e}"[:200])
    finally:
        for h in handles:
            h.remove()
    return LibraryRun(library, True, "", np.stack(outs), [np.stack(s) for s in spikes],
                      [np.stack(m).astype(np.float64 if dtype == torch.float64 else np.float32) for m in membrane])
