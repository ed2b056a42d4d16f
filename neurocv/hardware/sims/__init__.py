"""One interface for every simulator of the spiking partition (the STMs): load the STM files, run a clip, return
the readout, per-layer membranes and spikes where the simulator exposes them, and operation counts.

Each simulator is one module in this folder that defines ``SIMULATORS``, a dict ``name -> SimInfo``; the registry
below imports every module here, so adding a simulator means adding one file. The runtime's backends
(:mod:`neurocv.runtime`) and ``neurocv crosscheck`` (:mod:`neurocv.crosscheck`) open simulators only through
:func:`open_simulator`.

>>> sim = open_simulator("numpy", {"mv": STMFiles.from_nir("deploy/stm_mv.nir")})
>>> r = sim.run("mv", x)          # x (T, C, H, W) float32 -> SimRun
>>> r.output.shape, r.counts["layers"][0]["spikes"]
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ...errors import NeuroCVError

__all__ = ["STMFiles", "SimRun", "Simulator", "SimInfo", "available", "open_simulator", "SimulatorUnavailable",
           "ALIASES", "counts_from_spikes"]

#: other names accepted for a simulator (``neurocv run --backend netx`` runs what a Loihi 2 runs: fixed point)
ALIASES = {"netx": "netx-fixed"}


class SimulatorUnavailable(NeuroCVError):
    """A simulator cannot load these STM files (library missing, neuron it cannot express, file absent); the
    message is one line that says why."""


@dataclass(frozen=True)
class STMFiles:
    """The files of one STM: ``nir`` (the NIR graph, every simulator's source but netx's) and ``net`` (lava-dl
    netx HDF5, LIF models only; ``None`` when the deployment has none)."""

    name: str
    nir: Path
    net: Path | None = None

    @classmethod
    def from_nir(cls, nir: str | Path, name: str | None = None) -> "STMFiles":
        nir = Path(nir)
        net = nir.with_suffix(".net")
        return cls(name or nir.stem.removeprefix("stm_"), nir, net if net.is_file() else None)


@dataclass
class SimRun:
    """One clip through one STM. ``output`` ``(T, C_L, H_L, W_L)`` float32 is what the ANN partition reads (the
    membrane for the paper's STM and an LI readout, the spikes for a LIF readout); ``membranes[l]`` /
    ``spikes[l]`` are layer l's ``(T, C_l, H_l, W_l)`` traces or ``None`` where the simulator does not expose them
    (membranes are after the reset for LIF layers); ``counts`` as
    :func:`~neurocv.hardware.formats.stm_spec.simulate_numpy` (``counts["layers"][l]`` holds ``spikes``, ``macs``,
    ``acs``, ``neuron_updates``, ``neurons``)."""

    output: np.ndarray
    counts: dict
    membranes: list = field(default_factory=list)
    spikes: list = field(default_factory=list)
    seconds: float = 0.0


class Simulator:
    """Base class: ``run(stm, x) -> SimRun``; every clip starts from rest. A context manager (``close`` ends
    worker processes)."""

    name = "?"

    def run(self, stm: str, x: np.ndarray) -> SimRun:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class SimInfo:
    """A registered simulator: ``open(files: dict[str, STMFiles]) -> Simulator``; ``description`` one line;
    ``source`` the file kind it reads (``"nir"`` or ``"net"``); ``trace``: ``open`` takes ``trace=True`` to return
    per-layer membranes it does not return by default; ``float64``: ``open`` takes ``float64=True`` to compute in
    float64 from the files' float32 parameters (membranes then come back in float64); ``worker``: it runs in a
    ``.venv-lava`` worker process and ``open`` takes ``python=`` (that environment's interpreter); ``backend``: one
    of the stitched runtime's spiking backends (:data:`neurocv.runtime.BACKENDS`; the NIR libraries are
    crosscheck's only)."""

    name: str
    description: str
    open: Callable[[dict], Simulator]
    source: str = "nir"
    trace: bool = False      # open(..., trace=True) also returns every layer's membrane (costs time)
    float64: bool = False    # open(..., float64=True) computes in float64 (from the same float32 parameters)
    worker: bool = False     # runs in a .venv-lava worker; open(..., python=...) names its interpreter
    backend: bool = True     # a spiking backend of the stitched runtime (neurocv run --backend)


def available() -> dict[str, SimInfo]:
    """Every simulator of this folder, in a fixed order (module name, then its own order)."""
    out: dict[str, SimInfo] = {}
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
        module = importlib.import_module(f"{__name__}.{mod}")
        for name, info in getattr(module, "SIMULATORS", {}).items():
            out[name] = info
    order = ["torch", "numpy", "lava-float", "lava-fixed", "netx-float", "netx-fixed"]
    return dict(sorted(out.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


def open_simulator(name: str, files: dict[str, STMFiles], **options) -> Simulator:
    """Open simulator ``name`` (or an alias) on the STMs ``files``; :class:`SimulatorUnavailable` (one line) when
    it cannot load them, ``ValueError`` for an unknown name."""
    sims = available()
    name = ALIASES.get(name, name)
    if name not in sims:
        raise ValueError(f"unknown simulator {name!r}; choose one of {', '.join(list(sims) + list(ALIASES))}")
    info = sims[name]
    if info.source == "net":
        missing = [f.name for f in files.values() if f.net is None or not Path(f.net).is_file()]
        if missing:
            raise SimulatorUnavailable(f"{name}: no netx file for STM {', '.join(missing)} (written by `neurocv "
                                       f"export` for models trained with `--set neuron=lif` only)")
    return info.open(files, **options)


def counts_from_spikes(spec, spikes: list) -> dict:
    """Operation counts of one clip (the format of :func:`~neurocv.hardware.formats.stm_spec.simulate_numpy`) from each
    layer's spikes ``(T, C_l, H_l, W_l)``, for simulators that only hand back spikes."""
    from ..formats.stm_spec import ac_count, analog_macs, empty_counts, fanout_map, layer_shapes

    steps = int(spikes[0].shape[0])
    counts = empty_counts(spec)
    in_hw = [spec.input_shape[1:]] + [s[1:] for s in layer_shapes(spec)[:-1]]
    for k, (entry, macs) in enumerate(zip(counts["layers"], analog_macs(spec, steps))):
        layer = spec.layers[k]
        entry.update(macs=macs, spikes=float(np.asarray(spikes[k]).sum()),
                     neuron_updates=float(entry["neurons"] * steps))
        if layer.input == "spikes":
            fan = fanout_map(layer, *in_hw[k])
            entry["acs"] = ac_count(layer.out_channels, np.asarray(spikes[k - 1]).sum(axis=(0, 1)), fan)
    return counts
