"""What the adapters of the SNN libraries that import NIR (norse, snnTorch, nirtorch: ``norse_sim``, ``snntorch_sim``,
``nirtorch_sim``) share: the simulator class each subclasses and the per-clip driver that runs a loaded module.

Each library's own code - how it loads the file, where its neurons keep their membrane, how a clip starts, how one
step is called, which NIR neuron nodes its importer maps - is the few methods its adapter overrides on
:class:`NIRLibrarySimulator`; nothing outside the adapter asks which library it is.
:mod:`neurocv.hardware.nir_libraries` finds the adapters in the registry by name (for the exporter's check,
:mod:`neurocv.exporters.nir_check`).

All three evaluate the graph input -> output once per time step (no delay per edge) and return the last node's
output: the last layer's spikes (readout ``"spikes"``), or its membrane for an ``LI`` readout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...dynamics.kinds import get_kind
from . import SimRun, Simulator, SimulatorUnavailable, counts_from_spikes

__all__ = ["LibraryRun", "NIRLibrarySimulator", "run_loaded"]


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


class NIRLibrarySimulator(Simulator):
    """A simulator that loads the portable NIR file of a LIF STM with an SNN library's own importer (the file
    unmodified) and runs it in torch. A subclass is one library: ``library`` (its name), ``nir_nodes`` (the NIR
    neuron nodes its importer maps) and the static methods below."""

    library = "?"
    #: the NIR neuron node classes (:attr:`~neurocv.dynamics.kinds.NeuronKind.nir_node`) the importer maps
    nir_nodes: frozenset = frozenset({"LIF"})

    # --- the library's code: each adapter overrides what differs from these defaults -------------------------------
    @staticmethod
    def load(graph, dt_s: float):
        """The torch module the library's importer builds from the NIR ``graph`` (``dt_s``: the file's step)."""
        raise NotImplementedError

    @staticmethod
    def membrane(module, output):
        """A neuron module's membrane after its forward call returned ``output`` (default: ``(spikes, v)``)."""
        return output[1]

    @staticmethod
    def start(module, graph, spec) -> list[float]:
        """Bring ``module`` to rest before a clip; per layer the factor that takes its membrane to the file's units."""
        return [1.0] * len(spec.layers)

    @staticmethod
    def step(module, x, state):
        """One time step: ``(output, state)`` (default: the module carries its state as ``module(x, state)``)."""
        return module(x, state)

    # --- shared ------------------------------------------------------------------------------------------------------
    @classmethod
    def reads(cls, spec) -> bool:
        """Whether the importer maps every neuron node of ``spec``'s portable file."""
        return all(get_kind(layer.neuron).nir_node in cls.nir_nodes for layer in spec.layers)

    def __init__(self, files: dict, float64: bool = False):
        import nir
        import torch

        from ..formats.stm_spec import load_stm_spec

        self.name = self.library
        self.dtype = torch.float64 if float64 else torch.float32
        self.specs, self.paths, self.loaded = {}, {}, {}
        for m, f in files.items():
            spec = load_stm_spec(f.nir)
            try:
                graph = nir.read(f.nir)
                self.loaded[m] = (graph, self.load(graph, float(graph.metadata.get("dt_s", spec.dt_s))))
            except ImportError as e:
                raise SimulatorUnavailable(f"{self.library} is not installed ({e})") from None
            except Exception as e:  # noqa: BLE001  (an importer's own error types: the reason, in one line)
                msg = (str(e).splitlines() or [""])[0]
                raise SimulatorUnavailable(f"{self.library} cannot read {f.nir.name}: {type(e).__name__}: "
                                           f"{msg}"[:240]) from None
            if not get_kind(spec.neuron).portable:   # the importer took the graph; neurocv maps only portable neurons
                raise SimulatorUnavailable(f"{self.library} reads {f.nir.name}, the paper's STM graph (LI + "
                                           f"Threshold + Scale(-v_th) loop), only through neurocv's own modules; "
                                           f"a portable file comes from a model trained with `--set neuron=lif`")
            self.specs[m], self.paths[m] = spec, f.nir

    def run(self, stm: str, x) -> SimRun:
        t0 = time.perf_counter()
        graph, module = self.loaded[stm]        # imported once; every clip starts from rest
        run = run_loaded(type(self), graph, module, self.specs[stm], x, dtype=self.dtype)
        if not run.loaded:
            raise SimulatorUnavailable(f"{self.library}: {run.reason}")
        spec = self.specs[stm]
        # an LI layer hands on its membrane as its "output": it never spikes
        spikes = [s if get_kind(layer.neuron).fires else np.zeros_like(s) for s, layer in zip(run.spikes, spec.layers)]
        return SimRun(run.output, counts_from_spikes(spec, spikes), run.membrane, spikes,
                      time.perf_counter() - t0)


def _neuron_module_names(spec) -> list[str]:
    # nirtorch (which norse and snnTorch build on) names a module after its node, dots replaced by underscores
    return [f"{layer.name}.{get_kind(layer.neuron).nir_suffix}".replace(".", "_") for layer in spec.layers]


def run_loaded(adapter: type[NIRLibrarySimulator], graph, module, spec, x: np.ndarray, dtype=None) -> LibraryRun:
    """Run one clip ``x (T, C, H, W)`` from rest through ``module``, built by ``adapter.load`` from ``graph``; record
    every layer's spikes and membrane (in the file's units). Never raises for a module that cannot run the clip: the
    :class:`LibraryRun` says why. ``dtype=torch.float64`` moves the module (its float32 parameters, exactly) and the
    clip to float64 first; membranes come back in float64 then."""
    import torch

    library = adapter.library
    dtype = torch.float32 if dtype is None else dtype
    module.eval().to(dtype)
    names = _neuron_module_names(spec)
    mods = dict(module.named_modules())
    missing = [n for n in names if n not in mods]
    if missing:     # norse's importer maps an unknown node to None and drops it
        return LibraryRun(library, False, f"{library} maps no module for the node(s) {missing}")
    record: dict[str, tuple] = {}

    def hook(name):
        def fn(mod, args, out):
            record[name] = (out[0] if isinstance(out, tuple) else out, adapter.membrane(mod, out))
        return fn

    handles = [mods[n].register_forward_hook(hook(n)) for n in names]
    if dtype != torch.float32:      # snnTorch's neurons hand on float32 spikes (0/1: exact in any dtype)
        handles += [m.register_forward_pre_hook(lambda mod, args: tuple(a.to(dtype) for a in args))
                    for m in mods.values() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))[:, None].to(dtype)    # (T, 1, C, H, W)
    spikes = [[] for _ in names]
    membrane = [[] for _ in names]
    outs = []
    state = None
    try:
        with torch.no_grad():
            scale = adapter.start(module, graph, spec)
            for t in range(xt.shape[0]):
                out, state = adapter.step(module, xt[t], state)
                out = out[0] if isinstance(out, tuple) else out
                outs.append(out[0].to(dtype).numpy())
                for k, n in enumerate(names):
                    o, v = record[n]
                    spikes[k].append(o[0].float().numpy())
                    membrane[k].append(v[0].double().numpy() * scale[k])
    except Exception as e:  # noqa: BLE001  (the library's own error types: the reason, in one line)
        return LibraryRun(library, False, f"loaded, but running failed: {type(e).__name__}: {e}"[:200])
    finally:
        for h in handles:
            h.remove()
    return LibraryRun(library, True, "", np.stack(outs), [np.stack(s) for s in spikes],
                      [np.stack(m).astype(np.float64 if dtype == torch.float64 else np.float32) for m in membrane])
