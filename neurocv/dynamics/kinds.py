"""The neuron kinds, one entry each: what every consumer (the torch model, the numpy and fixed-point references, the
NIR writer and reader, the Lava ProcessModels, the netx file) looks up instead of comparing strings.

An entry holds the kind's float step (:func:`neurocv.dynamics.stm_update` ...), the traits its fixed-point step
is made of (:func:`neurocv.dynamics.fixed.step_fixed`: ``reset``, ``fires``), what a layer of it hands on
(``output``), its code in the Lava processes' ``neuron`` Var (its index in :data:`KIND_NAMES`), its NIR form (the
node it is written as and read back from) and whether it is portable (standard NIR nodes, netx/Loihi).

A new kind is one :class:`NeuronKind` in :data:`KINDS` plus its tests; ``tests/test_neuron_kinds.py`` lists the
consumers that still hold a table of per-kind handlers and fails while one of them lacks the new kind.
Importable without torch (numpy only, through :mod:`neurocv.dynamics.fixed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .updates import li_update, lif_update, stm_update

__all__ = ["NeuronKind", "KINDS", "KIND_NAMES", "MEMBRANE_READOUTS", "get_kind", "float_step", "layer_output",
           "check_layer_kinds"]


def _stm_step(current, v, o, leak, v_th, fire):
    return stm_update(current, v, o, leak, v_th, fire)


def _lif_step(current, v, o, leak, v_th, fire):
    o, v = lif_update(current, v, leak, v_th, fire)
    return v, o


def _li_step(current, v, o, leak, v_th, fire):
    return li_update(current, v, leak), o       # no spikes: o stays what it was at rest (0)


@dataclass(frozen=True)
class NeuronKind:
    """One neuron kind.

    ``step(current, v, o, leak, v_th, fire) -> (v, o)``: the float update in the kind's own order (``v`` the state
    carried to the next step, after any reset; ``o`` the spikes). ``reset``: ``"subtract"`` (``- v_th * o_prev``),
    ``"zero"`` (hard reset to 0 where it fired) or ``"none"``. ``fires``: whether it compares with a threshold
    (``False``: ``v_th`` is ``inf``, ``o`` stays 0). ``output``: what a layer of it hands on as the STM's output,
    ``"membrane"`` or ``"spikes"``. ``portable``: written as standard NIR nodes that norse / snnTorch / nirtorch /
    netx read (``False``: neurocv's own LI + Threshold + Scale loop). ``nir_node``: the NIR node class name of its
    neuron (``nir_suffix`` the node's key after the layer name). ``last_only``: allowed only as an STM's last
    layer (a readout). ``readout``: the STM's readout name when its last layer is this kind."""

    name: str
    step: Callable[..., tuple[Any, Any]]
    reset: str
    fires: bool
    output: str
    portable: bool
    nir_node: str
    nir_suffix: str
    last_only: bool
    readout: str
    doc: str

    @property
    def code(self) -> int:
        """The kind's value in the Lava processes' ``neuron`` Var."""
        return KIND_NAMES.index(self.name)


KINDS: dict[str, NeuronKind] = {k.name: k for k in (
    NeuronKind("stm", _stm_step, reset="subtract", fires=True, output="membrane", portable=False, nir_node="LI",
               nir_suffix="li", last_only=False, readout="membrane",
               doc="the paper's STM: u = I + lambda u - v_th o_prev, o = u > v_th; the membrane is the output"),
    NeuronKind("lif", _lif_step, reset="zero", fires=True, output="spikes", portable=True, nir_node="LIF",
               nir_suffix="lif", last_only=False, readout="spikes",
               doc="hardware-native LIF: v = lambda v + I, o = v > v_th, v = 0 where it fired; spikes out"),
    NeuronKind("li", _li_step, reset="none", fires=False, output="membrane", portable=True, nir_node="LI",
               nir_suffix="li", last_only=True, readout="li",
               doc="leaky integrator readout: v = lambda v + I, no threshold; the membrane is the output"),
)}
#: the kinds in code order (the Lava ``neuron`` Var holds an index into this tuple)
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
#: the STM readouts that hand on a membrane (analog values), not spikes
MEMBRANE_READOUTS = frozenset(k.readout for k in KINDS.values() if k.output == "membrane")


def get_kind(kind: "str | NeuronKind") -> NeuronKind:
    """The entry of ``kind`` (a name, or an entry, returned as is); ValueError naming the known kinds."""
    if isinstance(kind, NeuronKind):
        return kind
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown neuron kind {kind!r}; known: {', '.join(KIND_NAMES)}") from None


def float_step(kind, current, v, o, leak, v_th, fire):
    """One float step of ``kind``: ``(v, o)`` (see :class:`NeuronKind`)."""
    return get_kind(kind).step(current, v, o, leak, v_th, fire)


def layer_output(kind, v, o):
    """What a layer of ``kind`` hands on as its output: its membrane ``v`` or its spikes ``o``."""
    return o if get_kind(kind).output == "spikes" else v


def check_layer_kinds(kinds: list[str]) -> str | None:
    """Why the per-layer kinds ``kinds`` (first to last) do not make one STM, or None: every kind registered, one
    body kind, a readout-only kind (``last_only``) only last and only after a body of the same NIR form
    (``portable``)."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        return f"unknown neuron kind(s) {unknown}; known: {', '.join(KIND_NAMES)}" if unknown else "no layers"
    last = KINDS[kinds[-1]]
    body = kinds[:-1] if last.last_only else kinds
    if not body or len(set(body)) != 1 or KINDS[body[0]].last_only:
        return "layers must all be one kind, perhaps with a last readout layer"
    if last.last_only and last.portable != KINDS[body[0]].portable:
        return f"a {last.name!r} readout cannot follow {body[0]!r} layers (their NIR forms differ)"
    return None
