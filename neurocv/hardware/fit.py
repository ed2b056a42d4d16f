"""Does an STM (or several) fit on one neuromorphic chip? Neurons, synapses, weight memory and cores vs a chip profile.

Chip profiles are JSON files (``neurocv/hardware/chips/<name>.json``, schema ``neurocv.chip/1``) with
``cores_per_chip``, ``neurons_per_core``, ``synaptic_memory_bytes_per_core``, ``synapses_per_chip``,
``weight_bits``, ``weight_sharing`` and the ``sources`` the numbers come from.

Model, per Conv-LIF layer with N = C_out * H_out * W_out neurons and fan-in F = C_in * k * k (layers never share a
core; borders are not discounted, so synapse counts are upper bounds):

* ``synapses`` = N * F (explicit connections), ``weights`` = C_out * F (unique kernel values);
* memory per core: with ``weight_sharing`` a core holding n neurons stores the kernel once
  (C_out * F * weight_bits / 8 bytes), else its n * F synapses (n * F * weight_bits / 8 bytes);
* ``cores`` = the fewest cores such that each holds <= ``neurons_per_core`` neurons and its synaptic memory fits.

The STMs fit if total cores <= ``cores_per_chip``, total neurons <= cores * neurons_per_core, total synapses
<= ``synapses_per_chip`` and every layer can be placed at all (a kernel larger than one core's memory cannot).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import HardwareProfileError
from .formats.stm_spec import STMSpec, layer_shapes

__all__ = ["ChipProfile", "load_chip", "FitReport", "fit_check", "CHIPS_DIR"]

CHIPS_DIR = Path(__file__).resolve().parent / "chips"
_FIELDS = {"cores_per_chip": int, "neurons_per_core": int, "synaptic_memory_bytes_per_core": int,
           "synapses_per_chip": int, "weight_bits": int, "weight_sharing": bool}


@dataclass(frozen=True)
class ChipProfile:
    """Limits of one chip (see the module docstring); ``sources`` cite where each number comes from."""

    name: str
    cores_per_chip: int
    neurons_per_core: int
    synaptic_memory_bytes_per_core: int
    synapses_per_chip: int
    weight_bits: int
    weight_sharing: bool
    sources: tuple[str, ...] = ()


def load_chip(chip: str | Path) -> ChipProfile:
    """A profile by name (``"loihi1"``, ``"loihi2"``) or path; :class:`HardwareProfileError` naming the file if it
    is missing, not JSON, lacks a field or has a value of the wrong type or sign."""
    path = Path(chip) if (isinstance(chip, Path) or str(chip).endswith(".json")) else CHIPS_DIR / f"{chip}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CHIPS_DIR.glob("*.json") if "system" not in p.read_text()[:60]))
        raise HardwareProfileError(f"{path}: no such chip profile (built in: {known})")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HardwareProfileError(f"{path}: not a readable JSON chip profile ({e})") from None
    if not isinstance(data, dict):
        raise HardwareProfileError(f"{path}: expected a JSON object, found {type(data).__name__}")
    values = {}
    for key, kind in _FIELDS.items():
        v = data.get(key)
        if v is None:
            raise HardwareProfileError(f"{path}: field {key!r} missing")
        if kind is int and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise HardwareProfileError(f"{path}: field {key!r} must be a positive integer, found {v!r}")
        if kind is bool and not isinstance(v, bool):
            raise HardwareProfileError(f"{path}: field {key!r} must be true or false, found {v!r}")
        values[key] = v
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not sources:
        raise HardwareProfileError(f"{path}: field 'sources' must list where the numbers come from")
    return ChipProfile(name=str(data.get("name", path.stem)), sources=tuple(map(str, sources)), **values)


@dataclass
class FitReport:
    """Result of :func:`fit_check`: ``ok``, a one-paragraph ``message`` and per-layer ``layers`` rows."""

    chip: ChipProfile
    layers: list[dict] = field(default_factory=list)
    neurons: int = 0
    synapses: int = 0
    weights: int = 0
    cores: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        c = self.chip
        head = (f"{self.neurons:,} neurons, {self.synapses:,} synapses ({self.weights:,} weights) on "
                f"{self.cores} of {c.name}'s {c.cores_per_chip} cores")
        if self.ok:
            return f"fits on one {c.name}: {head}"
        return f"does not fit on one {c.name}: " + "; ".join(self.problems) + f" ({head})"

    def to_dict(self) -> dict:
        c = self.chip
        return {"chip": c.name, "ok": self.ok, "message": self.message, "neurons": self.neurons,
                "synapses": self.synapses, "weights": self.weights, "cores": self.cores, "problems": self.problems,
                "limits": {"cores_per_chip": c.cores_per_chip, "neurons_per_core": c.neurons_per_core,
                           "synaptic_memory_bytes_per_core": c.synaptic_memory_bytes_per_core,
                           "synapses_per_chip": c.synapses_per_chip, "weight_bits": c.weight_bits,
                           "weight_sharing": c.weight_sharing},
                "layers": self.layers, "sources": list(c.sources)}


def _layer_cores(neurons: int, fan_in: int, kernel_bytes: int, chip: ChipProfile) -> int | None:
    """Fewest cores for one layer, or None if even one neuron per core does not fit its memory."""
    mem = chip.synaptic_memory_bytes_per_core
    if chip.weight_sharing:
        if kernel_bytes > mem:
            return None
        per_core = chip.neurons_per_core
    else:
        per_neuron = fan_in * chip.weight_bits / 8
        if per_neuron > mem:
            return None
        per_core = min(chip.neurons_per_core, int(mem // per_neuron))
    return math.ceil(neurons / per_core)


def fit_check(spec_or_specs: STMSpec | Iterable[STMSpec], chip: str | Path = "loihi2") -> FitReport:
    """Check that all the given STMs (at their ``input_shape``) fit together on one chip."""
    specs = [spec_or_specs] if isinstance(spec_or_specs, STMSpec) else list(spec_or_specs)
    profile = load_chip(chip)
    report = FitReport(chip=profile)
    for spec in specs:
        for layer, (co, ho, wo) in zip(spec.layers, layer_shapes(spec)):
            n = co * ho * wo
            fan_in = layer.in_channels * layer.kernel ** 2
            kernel_bytes = math.ceil(co * fan_in * profile.weight_bits / 8)
            cores = _layer_cores(n, fan_in, kernel_bytes, profile)
            name = f"{spec.name}:{layer.name}"
            if cores is None:
                report.problems.append(f"layer {name} needs {kernel_bytes:,} B of weights in one core, "
                                       f"{profile.synaptic_memory_bytes_per_core:,} B available")
            report.layers.append({"name": name, "neurons": n, "synapses": n * fan_in, "weights": co * fan_in,
                                  "kernel_bytes": kernel_bytes, "cores": cores})
            report.neurons += n
            report.synapses += n * fan_in
            report.weights += co * fan_in
            report.cores += cores or 0
    p = profile
    if report.cores > p.cores_per_chip:
        report.problems.append(f"needs {report.cores} cores, chip has {p.cores_per_chip} "
                               f"({report.cores - p.cores_per_chip} too many, {report.cores / p.cores_per_chip:.2f}x)")
    max_neurons = p.cores_per_chip * p.neurons_per_core
    if report.neurons > max_neurons:
        report.problems.append(f"needs {report.neurons:,} neurons, chip has {max_neurons:,} "
                               f"({report.neurons / max_neurons:.2f}x)")
    if report.synapses > p.synapses_per_chip and not p.weight_sharing:
        report.problems.append(f"needs {report.synapses:,} synapses, chip has {p.synapses_per_chip:,} "
                               f"({report.synapses / p.synapses_per_chip:.2f}x)")
    return report
