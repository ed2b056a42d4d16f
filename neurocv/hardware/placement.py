"""Multi-chip placement of the STM layers on a Loihi 2 system (``neurocv fit``).

A *system* is a number of identical chips (``neurocv/hardware/chips/<name>.json``: a chip profile of
:mod:`.fit`, or a system file, schema ``neurocv.system/1``, naming its chip and chip count with sources, e.g.
``kapoho-point``: 8 Loihi 2 chips).

Placement model (the assumptions, also in every report's ``assumptions``):

* each Conv-LIF layer needs the cores :mod:`.fit` computes for it (per-core neuron and synaptic-memory limits;
  layers never share a core; with weight sharing a core stores the layer's kernel once);
* layers are laid in network order (each STM's layers first to last, the STMs one after the other) onto cores,
  filling chip 0, then chip 1, ...; a layer may span cores and chips; its neurons are spread evenly over its cores;
* without a chip count, the fewest chips that hold every core; a chip count too small raises one line saying how
  many are needed;
* traffic: a spike of layer ``l`` is sent once to every *other* chip that holds part of layer ``l + 1`` (multicast
  per chip, not per core); spikes per time step come from a run's per-layer spike counts (``neurocv run --ops``)
  divided by its time steps, or, without a run, the bound of every neuron spiking at every step;
* the first layer's analog input and the last layer's output (to the ANN partition on the host) cross the system
  boundary and are not counted as chip-to-chip traffic; link bandwidth and latency are not modelled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError, HardwareProfileError
from .fit import CHIPS_DIR, ChipProfile, _layer_cores, load_chip
from .formats.stm_spec import STMSpec, layer_shapes

__all__ = ["System", "load_system", "Placement", "place", "spikes_from_run", "load_ops_file", "ASSUMPTIONS",
           "PlacementError"]

SYSTEM_SCHEMA = "neurocv.system/1"
ASSUMPTIONS = (
    "core capacity: neurocv.hardware.fit's per-core model (neurons per core, synaptic memory per core; shared "
    "convolution kernels stored once per core on Loihi 2); layers never share a core",
    "order: layers in network order (the STMs one after the other), filling chip after chip; a layer may span "
    "cores and chips, its neurons spread evenly over its cores",
    "routing: a spike crosses to each other chip holding part of the next layer once (multicast per chip); link "
    "bandwidth and latency are not modelled",
    "the first layer's analog input and the last layer's output to the host ANN are not chip-to-chip traffic",
)


class PlacementError(ConfigError):
    """The STMs do not fit the chips given (the message says how many they need)."""


@dataclass(frozen=True)
class System:
    """``chips`` identical ``chip`` s (``chips`` is the most a placement may use)."""

    name: str
    chip: ChipProfile
    chips: int
    sources: tuple[str, ...] = ()


def load_system(name_or_path: str | Path = "loihi2") -> System:
    """A system by name (``loihi2``: one chip and as many more as needed; ``kapoho-point``: 8 Loihi 2 chips) or a
    JSON file: a chip profile (unbounded chip count) or a system file. Unknown names raise one line."""
    text = str(name_or_path)
    path = Path(text) if (text.endswith(".json") or Path(text).is_file()) else CHIPS_DIR / f"{text}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CHIPS_DIR.glob("*.json")))
        raise HardwareProfileError(f"unknown system {text!r}: not a built-in chip or system ({known}) nor an "
                                   f"existing JSON file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HardwareProfileError(f"{path}: not a readable JSON system or chip profile ({e})") from None
    if isinstance(data, dict) and data.get("schema") == SYSTEM_SCHEMA:
        chips, chip = data.get("chips"), data.get("chip")
        if isinstance(chips, bool) or not isinstance(chips, int) or chips < 1 or not isinstance(chip, str):
            raise HardwareProfileError(f"{path}: a system needs 'chip' (a chip profile name) and 'chips' (a positive "
                                       f"integer), found {chip!r}, {chips!r}")
        sources = data.get("sources")
        if not isinstance(sources, list) or not sources:
            raise HardwareProfileError(f"{path}: field 'sources' must list where the numbers come from")
        profile = load_chip(path.parent / chip if chip.endswith(".json") else chip)
        return System(str(data.get("name", path.stem)), profile, chips, tuple(map(str, sources)))
    profile = load_chip(path)
    return System(profile.name, profile, 0, profile.sources)       # 0: as many chips as it takes


def load_ops_file(path: str | Path) -> dict:
    """The contents of a runtime's ops JSON (``neurocv.ops/1``, written by ``neurocv run --ops``); a file that is
    unreadable or of another kind raises one :class:`ConfigError` line naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable ops JSON ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != "neurocv.ops/1":
        raise ConfigError(f"{path}: not a neurocv ops file (expected schema 'neurocv.ops/1'; write one with "
                          f"`neurocv run DEPLOY VIDEO --ops OPS.json`)")
    return data


def spikes_from_run(path: str | Path) -> tuple[dict[str, float], str]:
    """``({layer name: spikes per time step}, description)`` from a runtime's ops JSON (``neurocv.ops/1``): each
    spiking layer's mean spikes per video divided by the clip's time steps (segments x crops)."""
    data = load_ops_file(path)
    try:
        steps = int(data.get("segments") or 0) * int(data.get("crops") or 1)
        rows = [r for r in data["per_video"]["layers"] if r.get("partition") == "spiking"]
        out = {str(r["name"]): float(r.get("spikes", 0)) / steps for r in rows}
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise ConfigError(f"{path}: malformed ops JSON ({type(e).__name__}: {e})") from None
    return out, f"measured by `neurocv run` ({data.get('backend', '?')}) on {data.get('n_videos', '?')} video(s)"


@dataclass
class Placement:
    """Where every STM layer sits: ``layers`` rows ``{name, neurons, cores, chips: {chip: cores}}``, cores per chip,
    and the chip-to-chip spikes per time step."""

    system: System
    chips: int
    layers: list[dict] = field(default_factory=list)
    cores_per_chip: list[int] = field(default_factory=list)
    traffic: list[dict] = field(default_factory=list)
    spikes_source: str = ""
    given_chips: int | None = None

    @property
    def cores(self) -> int:
        return sum(self.cores_per_chip)

    @property
    def cross_chip_spikes_per_step(self) -> float:
        return sum(t["cross_chip_spikes_per_step"] for t in self.traffic)

    @property
    def message(self) -> str:
        c = self.system.chip
        return (f"placed on {self.chips} {c.name} chip{'s' * (self.chips != 1)}"
                + (f" of {self.system.name}'s {self.system.chips}" if self.system.chips else "")
                + (f": {' + '.join(map(str, self.cores_per_chip))} = " if self.chips > 1 else ": ")
                + f"{self.cores} cores at {c.cores_per_chip} a chip; "
                f"{self.cross_chip_spikes_per_step:,.0f} spikes cross chips per time step ({self.spikes_source})")

    def to_dict(self) -> dict:
        c = self.system.chip
        return {"ok": True, "system": self.system.name, "chip": c.name, "chips": self.chips,
                "system_chips": self.system.chips or None, "cores": self.cores,
                "cores_per_chip": self.cores_per_chip, "chip_limits": {"cores_per_chip": c.cores_per_chip,
                                                                       "neurons_per_core": c.neurons_per_core,
                                                                       "synaptic_memory_bytes_per_core":
                                                                           c.synaptic_memory_bytes_per_core},
                "layers": self.layers, "traffic": self.traffic,
                "cross_chip_spikes_per_step": self.cross_chip_spikes_per_step, "spikes_source": self.spikes_source,
                "message": self.message, "assumptions": list(ASSUMPTIONS),
                "sources": list(dict.fromkeys(self.system.sources + c.sources))}


def _layers(specs: list[STMSpec], chip: ChipProfile) -> list[dict]:
    rows = []
    for spec in specs:
        for k, (layer, (co, ho, wo)) in enumerate(zip(spec.layers, layer_shapes(spec))):
            n = co * ho * wo
            fan_in = layer.in_channels * layer.kernel ** 2
            kernel_bytes = math.ceil(co * fan_in * chip.weight_bits / 8)
            cores = _layer_cores(n, fan_in, kernel_bytes, chip)
            if cores is None:
                raise PlacementError(f"layer {spec.name}:{layer.name} needs {kernel_bytes:,} B of weights in one "
                                     f"core, {chip.name} has {chip.synaptic_memory_bytes_per_core:,} B: it cannot "
                                     f"be placed on any number of chips")
            rows.append({"stm": spec.name, "name": layer.name, "neurons": n, "cores": cores,
                         "last": k == len(spec.layers) - 1})
    return rows


def place(specs: STMSpec | Iterable[STMSpec], system: str | Path | System = "loihi2", chips: int | None = None,
          spikes_per_step: dict[str, float] | None = None, spikes_source: str | None = None) -> Placement:
    """Place the STM layers of ``specs`` (see the module docstring). ``chips``: use exactly that many (fewer than
    needed raises :class:`PlacementError`); ``spikes_per_step``: ``{layer name: spikes per time step}`` from a run
    (:func:`spikes_from_run`), else every neuron spiking every step (the bound)."""
    specs = [specs] if isinstance(specs, STMSpec) else list(specs)
    sysm = system if isinstance(system, System) else load_system(system)
    chip = sysm.chip
    rows = _layers(specs, chip)
    total = sum(r["cores"] for r in rows)
    needed = max(1, math.ceil(total / chip.cores_per_chip))
    where = f"{chip.name} chip{'s' * (needed != 1)} ({total} cores at {chip.cores_per_chip} a chip)"
    if chips is not None and chips < 1:
        raise PlacementError(f"--chips must be at least 1, got {chips}")
    if sysm.chips and chips is not None and chips > sysm.chips:
        raise PlacementError(f"{sysm.name} has {sysm.chips} chips; {chips} asked for")
    if chips is not None and needed > chips:
        raise PlacementError(f"does not fit: needs {needed} {where}; {chips} given")
    if sysm.chips and needed > sysm.chips:
        raise PlacementError(f"does not fit on {sysm.name}: needs {needed} {where}; it has {sysm.chips}")
    n_chips = chips or needed
    used = [0] * n_chips
    chip_k = 0
    for r in rows:                     # fill chip after chip, in network order
        left, r["chips"] = r["cores"], {}
        while left:
            if used[chip_k] == chip.cores_per_chip:
                chip_k += 1
            take = min(left, chip.cores_per_chip - used[chip_k])
            r["chips"][chip_k] = r["chips"].get(chip_k, 0) + take
            used[chip_k] += take
            left -= take
    traffic = []
    if spikes_per_step is None:
        source = "bound: every neuron spiking at every step"
    else:
        source = spikes_source or "measured"
        missing = [r["name"] for r in rows if not r["last"] and r["name"] not in spikes_per_step]
        if missing:
            raise ConfigError(f"the run's spike counts do not name layer(s) {', '.join(missing[:3])} of this "
                              f"deployment: was it made with another model?")
    for r, nxt in zip(rows, rows[1:]):
        if r["last"]:
            continue
        per_step = r["neurons"] if spikes_per_step is None else spikes_per_step[r["name"]]
        cross = sum(per_step * cores / r["cores"] * len(set(nxt["chips"]) - {c}) for c, cores in r["chips"].items())
        traffic.append({"layer": r["name"], "to": nxt["name"], "spikes_per_step": per_step,
                        "cross_chip_spikes_per_step": cross})
    for r in rows:
        r["chips"] = {str(c): n for c, n in r["chips"].items()}
        del r["last"]
    return Placement(sysm, n_chips, rows, used, traffic, source, chips)
