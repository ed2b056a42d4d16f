"""Hardware profiles: energy per operation, as data files that cite their sources.

A profile is a JSON object (schema ``neurocv.hardware-profile/1``)::

    {"name": "cmos45nm-fp32", "description": "...", "mac_pj": 4.6, "ac_pj": 0.9, "neuron_update_pj": 0.0,
     "bytes_per_value": 4, "sram_read_pj_per_64bit": 20.0, "sources": ["Horowitz, ISSCC 2014: ..."]}

Energies in picojoules: ``mac_pj`` per multiply-accumulate on real values, ``ac_pj`` per accumulate triggered by a
spike (synaptic operation), ``neuron_update_pj`` per neuron per time step, ``sram_read_pj_per_64bit`` per 64-bit
SRAM access for the optional memory column (``null``: not applicable). Built-in profiles live in
``neurocv/energy/hardware_profiles/``; :func:`load_profile` takes one of their names or a path to a file.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import HardwareProfileError

__all__ = ["HardwareProfile", "load_profile", "list_profiles", "PROFILE_DIR", "DEFAULT_PROFILE"]

PROFILE_DIR = Path(__file__).resolve().parent / "hardware_profiles"
DEFAULT_PROFILE = "cmos45nm-fp32"
SCHEMA = "neurocv.hardware-profile/1"


@dataclass(frozen=True)
class HardwareProfile:
    """Energy per operation in pJ (see module docstring); ``sources`` cite where each number comes from."""

    name: str
    description: str
    mac_pj: float
    ac_pj: float
    neuron_update_pj: float
    bytes_per_value: float
    sram_read_pj_per_64bit: float | None
    sources: tuple[str, ...]
    path: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sources"] = list(self.sources)
        return d


_NUMBERS = ("mac_pj", "ac_pj", "neuron_update_pj", "bytes_per_value")


def _parse(data, where: str) -> HardwareProfile:
    def bad(msg: str) -> HardwareProfileError:
        return HardwareProfileError(f"{where}: malformed hardware profile: {msg}")

    if not isinstance(data, dict):
        raise bad(f"expected a JSON object, found {type(data).__name__}")
    if data.get("schema", SCHEMA) != SCHEMA:
        raise bad(f"schema must be {SCHEMA!r}, found {data.get('schema')!r}")
    missing = [k for k in ("name", *_NUMBERS, "sources") if k not in data]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    values = {}
    for k in _NUMBERS:
        v = data[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise bad(f"{k} must be a finite number >= 0, found {v!r}")
        values[k] = float(v)
    if values["bytes_per_value"] <= 0:
        raise bad(f"bytes_per_value must be > 0, found {data['bytes_per_value']!r}")
    sram = data.get("sram_read_pj_per_64bit")
    if sram is not None and (isinstance(sram, bool) or not isinstance(sram, (int, float)) or sram < 0):
        raise bad(f"sram_read_pj_per_64bit must be a number >= 0 or null, found {sram!r}")
    sources = data["sources"]
    if (not isinstance(sources, list) or not sources
            or not all(isinstance(s, str) and s.strip() for s in sources)):
        raise bad("sources must be a non-empty list of citations (strings)")
    if not isinstance(data["name"], str) or not data["name"].strip():
        raise bad("name must be a non-empty string")
    return HardwareProfile(name=data["name"], description=str(data.get("description", "")),
                           sram_read_pj_per_64bit=None if sram is None else float(sram),
                           sources=tuple(sources), path=where, **values)


def list_profiles() -> list[str]:
    """Names of the built-in profiles."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> HardwareProfile:
    """A built-in profile by name, or a profile file by path; unknown names and malformed files raise
    :class:`~neurocv.errors.HardwareProfileError` naming them."""
    text = str(name_or_path)
    path = PROFILE_DIR / f"{text}.json"
    if not path.is_file():
        path = Path(text)
        if not path.is_file():
            raise HardwareProfileError(f"unknown hardware profile {text!r}: not a built-in profile "
                                       f"({', '.join(list_profiles())}) nor an existing file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise HardwareProfileError(f"{path}: cannot read hardware profile: {exc}") from None
    except json.JSONDecodeError as exc:
        raise HardwareProfileError(f"{path}: malformed hardware profile: not valid JSON ({exc})") from None
    return _parse(data, str(path))
