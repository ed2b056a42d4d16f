"""The fixed-point neuron update, written once (numpy only: the Lava worker imports it in .venv-lava, without torch).

A layer's state is a 24-bit integer in units of ``2^-q`` (:mod:`neurocv.hardware.formats.fixed_point` chooses ``q`` and
quantises the parameters). One step of every neuron kind, on the conv's integer sums ``a``::

    raw = decay(u) + shift(a, sh) + b  [- vth * o_prev  for a subtractive reset]
    u   = sat24(raw)                    (clip to [STATE_MIN, STATE_MAX]; the count of clipped updates is returned)
    o   = u > vth                       (kinds that fire)
    u   = u * (1 - o)                   (a hard reset to 0)

with ``decay(u) = sign(u) * ((|u| * d) >> 12)`` (``d = round(lambda * DECAY_ONE)``) and ``shift(a, sh) = a * 2^sh``
rounding toward zero when ``sh < 0``. Which terms a kind uses is its entry's ``reset`` and ``fires`` in
:data:`neurocv.dynamics.kinds.KINDS`.

:func:`step_fixed` is the reference (int64); :func:`step_fixed_inplace` computes the same integers in place in
float64 (exact: every intermediate is an integer below 2^53), several times faster, for the Lava ProcessModels;
:func:`step_float_inplace` is their float32 twin (the kind's float step, in place).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STATE_BITS", "STATE_MIN", "STATE_MAX", "DECAY_BITS", "DECAY_ONE", "MAX_FLOAT_SHIFT", "shift_toward_zero",
           "decay_toward_zero", "step_fixed", "step_fixed_inplace", "step_float_inplace"]

STATE_BITS = 24
STATE_MIN, STATE_MAX = -(1 << (STATE_BITS - 1)), (1 << (STATE_BITS - 1)) - 1
DECAY_BITS = 12
DECAY_ONE = 1 << DECAY_BITS      # a decay of 4096 keeps the whole state (lambda = 1)
MAX_FLOAT_SHIFT = 29             # 2^23 * 2^29 = 2^52: the synaptic input stays exact in float64


def shift_toward_zero(a: np.ndarray, sh: int) -> np.ndarray:
    """``a * 2^sh`` for integers, rounding toward zero when ``sh < 0``."""
    a = np.asarray(a, np.int64)
    if sh >= 0:
        return a << sh
    return np.sign(a) * (np.abs(a) >> -sh)


def decay_toward_zero(u: np.ndarray, d: int) -> np.ndarray:
    """``sign(u) * ((|u| * d) >> 12)``."""
    u = np.asarray(u, np.int64)
    return np.sign(u) * ((np.abs(u) * d) >> DECAY_BITS)


def _traits(kind) -> tuple[bool, str]:
    from .kinds import get_kind

    k = get_kind(kind)
    return k.fires, k.reset


def step_fixed(kind, u: np.ndarray, o: np.ndarray, a: np.ndarray, bias: np.ndarray, decay: int, vth: int,
               shift: int) -> tuple[np.ndarray, np.ndarray, int]:
    """One step of neuron ``kind`` (a name or a :class:`~neurocv.dynamics.kinds.NeuronKind`) on int64 arrays:
    returns ``(u, o, n_saturated)`` (``u`` after any reset; ``o`` all 0 for a kind that does not fire)."""
    fires, reset = _traits(kind)
    raw = decay_toward_zero(u, decay) + shift_toward_zero(a, shift) + bias
    if reset == "subtract":
        raw = raw - vth * o
    u = np.clip(raw, STATE_MIN, STATE_MAX)
    n_sat = int(np.count_nonzero(u != raw))
    if not fires:
        return u, np.zeros_like(u), n_sat
    o = (u > vth).astype(np.int64)
    return (u * (1 - o) if reset == "zero" else u), o, n_sat


def step_fixed_inplace(kind, u: np.ndarray, o: np.ndarray, a: np.ndarray, bias: np.ndarray, decay: int, vth: int,
                       shift: int, buf: np.ndarray) -> int:
    """:func:`step_fixed` in place on float64 arrays holding integers (``u``, ``bias``, ``buf`` float64; ``o`` any
    array; ``a`` the conv's exact sums). Returns the number of saturated updates; ``o`` is left untouched by a kind
    that does not fire.

    Every intermediate is an integer below 2^53 (``|u| < 2^23``, ``decay < 2^13``, ``|a| <= 2^23`` and
    ``shift <= MAX_FLOAT_SHIFT``), so float64 arithmetic is exact; rounding toward zero is ``trunc`` of an exact
    power-of-two scaling."""
    if shift > MAX_FLOAT_SHIFT:
        raise ValueError(f"synaptic shift {shift} > {MAX_FLOAT_SHIFT}: not exact in float64")
    fires, reset = _traits(kind)
    np.multiply(a, 2.0 ** shift, out=buf)
    if shift < 0:
        np.trunc(buf, out=buf)
    u *= decay * 2.0 ** -DECAY_BITS        # = (u * decay) / 4096 exactly: the true product is representable
    np.trunc(u, out=u)
    u += buf
    u += bias
    if reset == "subtract":
        np.multiply(o, vth, out=buf)
        u -= buf
    n_sat = 0
    if u.max() > STATE_MAX or u.min() < STATE_MIN:
        n_sat = int(np.count_nonzero(u > STATE_MAX)) + int(np.count_nonzero(u < STATE_MIN))
        np.clip(u, STATE_MIN, STATE_MAX, out=u)
    if fires:
        np.greater(u, vth, out=o)
    if reset == "zero":
        np.copyto(u, 0.0, where=o)
    return n_sat


def step_float_inplace(kind, u: np.ndarray, o: np.ndarray, a: np.ndarray, bias: np.ndarray, leak: np.float32,
                       v_th: np.float32, cur: np.ndarray) -> None:
    """In place, float32, bit for bit the kind's float step (:class:`~neurocv.dynamics.kinds.NeuronKind` ``.step``)
    on the current ``I = float32(a) + b``: subtractive ``u = (I + leak * u) - v_th * o; o = u > v_th``, hard reset
    ``u = leak * u + I; o = u > v_th; u = 0`` where it fired, or no threshold ``u = leak * u + I`` (``o``
    untouched). ``cur``: a float32 buffer of ``u``'s shape; IEEE addition commutes, so adding ``cur`` to
    ``leak * u`` is the same sum."""
    fires, reset = _traits(kind)
    np.copyto(cur, a, casting="unsafe")
    cur += bias
    u *= leak
    u += cur
    if reset == "subtract":
        np.multiply(o, v_th, out=cur)          # v_th or 0 (numpy's masked subtract is ~10x slower)
        u -= cur
    if fires:
        np.greater(u, v_th, out=o)
    if reset == "zero":
        np.copyto(u, 0, where=o)
