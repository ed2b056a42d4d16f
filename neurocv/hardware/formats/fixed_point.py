"""Loihi-style fixed-point form of an STM and its bit-exact numpy reference (what the Lava ``fixed_pt`` model runs).

Per layer l, with integer state in units of ``2^-q_l`` (``q_l`` chosen from the threshold, below):

* **Weights**: 8-bit signed mantissas ``w_m = clip(round(W / 2^e_l), -128, 127)`` with one exponent per layer,
  ``e_l = ceil(log2(max|W| / 127))``. The conv sums ``a = sum w_m * s`` (int, < 2^23 by construction, below).
* **Input**: layer 0 gets graded spikes ``x_q = clip(round(x * 2^p), -X, X)`` with ``p = input_frac_bits`` (8);
  ``X = (2^23 - 1) // max_c sum|w_m[c]|`` so the 24-bit conv accumulator cannot overflow (input saturation at
  ``X / 2^p``, reported as ``input_limit``). Spike layers get 0/1, ``p = 0``.
* **Synaptic input** into the 24-bit state: ``shift(a, sh_l)``, ``sh_l = e_l - p + q_l`` (left shift, or right shift
  rounding toward zero when negative). In Loihi terms that is the hardware's fixed 6-bit activation shift plus a
  weight exponent ``weight_exp = sh_l - 6``.
* **Threshold**: ``vth = vth_m << 6`` with a 17-bit mantissa ``vth_m = round(v_th * 2^q_l / 64)``; ``q_l`` puts
  ``v_th * 2^q_l`` in [2^17, 2^18), so the mantissa is 2^11..2^12 (relative resolution <= 2^-11) and the 24-bit
  state spans +-2^23 units = +-32..64 thresholds.
* **Leak**: 12-bit decay ``d = round(lambda * 4096)`` (4096 = 1), ``decay(u) = sign(u) * ((|u| * d) >> 12)``
  (toward zero, as Lava's bit-accurate LIF).
* **Bias**: 13-bit signed mantissa with a 3-bit exponent, ``b = b_m << b_exp``, ``b_m = round(b * 2^q / 2^b_exp)``.
* **Update**: ``u = sat24(decay(u) + shift(a, sh) + b - vth * o_prev)``, ``o = u > vth``. Saturation (clip to
  [-2^23, 2^23 - 1]) keeps the sign where Lava's LIF wraps around; the reference counts saturated updates.

Hardware-native layers (``neuron="lif"``, :func:`neurocv.dynamics.lif_update`) use the same integers with a hard
reset instead of the subtractive one: ``v' = sat24(decay(v) + shift(a, sh) + b)``, ``o = v' > vth``, ``v = 0`` where
it fired. A leaky-integrator readout (``neuron="li"``) is ``v = sat24(decay(v) + shift(a, sh) + b)`` with no
threshold (``vth = 0``, never compared); having no threshold to scale from, its ``q`` is the largest that keeps the
bound ``max_c (sum |W_c| + |b_c|) / (1 - lambda)`` of its membrane (0/1 input) inside the 24-bit state.

The output is the last layer's ``u * 2^-q_L`` (paper's STM, LI readout), or its spikes (LIF readout). The error
against float is bounded by the weight rounding (<= 2^(e_l - 1) per weight), the threshold rounding and truncation
in decay and shifts; spikes near threshold can flip, after which the traces differ by about one threshold. Tests
state the measured error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...dynamics.fixed import (DECAY_ONE, MAX_FLOAT_SHIFT, STATE_BITS, STATE_MAX, STATE_MIN, decay_toward_zero,
                              shift_toward_zero, step_fixed, step_fixed_inplace, step_float_inplace)
from ...dynamics.kinds import get_kind
from .stm_spec import STMSpec, check_input, conv2d_numpy, drive_clip

__all__ = ["FixedLayer", "quantize_spec", "shift_toward_zero", "decay_toward_zero", "simulate_fixed_numpy",
           "STATE_MIN", "STATE_MAX", "STATE_BITS", "DECAY_ONE", "MAX_FLOAT_SHIFT", "neuron_step_fixed",
           "step_fixed", "step_fixed_inplace", "step_float_inplace"]

# the integer arithmetic itself (STATE_*, DECAY_ONE, the shifts and the step) is neurocv.dynamics.fixed: one
# definition, imported from here by the Lava ProcessModels too


@dataclass(frozen=True)
class FixedLayer:
    """Integer parameters of one layer (module docstring). ``weight`` int32 ``(C_out, C_in, k, k)`` torch layout;
    ``bias`` int64 ``(C_out,)`` state units; ``shift`` = sh_l; ``q`` = fractional bits of the state."""

    weight: np.ndarray
    weight_exp: int
    bias: np.ndarray
    shift: int
    decay: int
    vth: int
    q: int
    input_frac_bits: int
    input_limit: int
    neuron: str = "stm"


def _q_bits(v_th: float) -> int:
    return 17 - math.floor(math.log2(v_th))


def _q_bits_li(layer) -> int:
    """``q`` of an LI layer (no threshold): the largest with its membrane bound (0/1 input) below 2^23 units."""
    w = np.abs(layer.weight.astype(np.float64)).reshape(layer.out_channels, -1).sum(1)
    bound = float((w + np.abs(layer.bias.astype(np.float64))).max()) / (1.0 - layer.leak)
    return math.floor(math.log2(STATE_MAX / bound)) if bound > 0 else 0


def quantize_spec(spec: STMSpec, input_frac_bits: int = 8) -> list[FixedLayer]:
    """The fixed-point parameters of every layer of ``spec``."""
    out = []
    for k, layer in enumerate(spec.layers):
        w = layer.weight.astype(np.float64)
        wmax = float(np.abs(w).max())
        e = math.ceil(math.log2(wmax / 127.0)) if wmax > 0 else 0
        w_m = np.clip(np.round(w / 2.0 ** e), -128, 127).astype(np.int32)
        li = not get_kind(layer.neuron).fires          # no threshold to scale q from
        q = _q_bits_li(layer) if li else _q_bits(layer.v_th)
        p = input_frac_bits if layer.input == "analog" else 0
        vth_m = 0 if li else min(int(round(layer.v_th * 2.0 ** q / 64)), (1 << 17) - 1)
        b = layer.bias.astype(np.float64) * 2.0 ** q
        b_exp = max(0, min(7, math.ceil(math.log2(max(float(np.abs(b).max()), 1.0) / 4095))))
        b_m = np.clip(np.round(b / 2 ** b_exp), -4096, 4095).astype(np.int64)
        row_sum = int(np.abs(w_m).reshape(w_m.shape[0], -1).sum(1).max()) or 1
        out.append(FixedLayer(weight=w_m, weight_exp=e - p + q - 6, bias=b_m << b_exp, shift=e - p + q,
                              decay=int(round(layer.leak * DECAY_ONE)), vth=vth_m << 6, q=q, input_frac_bits=p,
                              input_limit=STATE_MAX // row_sum, neuron=layer.neuron))
    return out


def quantize_input(x: np.ndarray, layer: FixedLayer) -> np.ndarray:
    """Analog input -> graded-spike integers (int64), saturated at ``+-layer.input_limit``."""
    return np.clip(np.round(x.astype(np.float64) * 2.0 ** layer.input_frac_bits), -layer.input_limit,
                   layer.input_limit).astype(np.int64)


def neuron_step_fixed(u: np.ndarray, o: np.ndarray, a: np.ndarray, layer: FixedLayer,
                      bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One fixed-point update of ``layer.neuron``'s kind; ``bias`` broadcast to ``u``'s shape. Returns ``(u, o,
    n_saturated)`` (``u`` after the reset for a LIF layer; ``o`` all 0 for an LI layer)."""
    return step_fixed(layer.neuron, u, o, a, bias, layer.decay, layer.vth, layer.shift)


def simulate_fixed_numpy(spec: STMSpec, x: np.ndarray, input_frac_bits: int = 8) -> tuple[np.ndarray, dict]:
    """The fixed-point STM on one clip: ``x (T, C, H, W)`` -> ``(y (T, C_L, H_L, W_L) float32, counts)``; ``y`` is
    the readout (:attr:`~neurocv.hardware.formats.stm_spec.STMSpec.readout`): ``u_int * 2^-q_L`` of the last layer, or
    its spikes (0/1) for a LIF readout; ``counts["saturated"]`` is the number of saturated neuron updates."""
    x = check_input(spec, x)
    fixed = quantize_spec(spec, input_frac_bits)
    saturated = [0]

    def step(k, h, u, o):
        fl, layer = fixed[k], spec.layers[k]
        a = conv2d_numpy(h, fl.weight.astype(np.int64), None, layer.stride, layer.padding)
        u, o, sat = neuron_step_fixed(u, o, a, fl, fl.bias[:, None, None])
        saturated[0] += sat
        return u, o

    unit = 2.0 ** -fixed[-1].q
    spikes_out = get_kind(spec.layers[-1].neuron).output == "spikes"
    readout = (lambda u, o: o) if spikes_out else (lambda u, o: u * unit)
    out, counts = drive_clip(spec, x, step, readout, np.int64, np.float32,
                             encode=lambda x_t: quantize_input(x_t, fixed[0]))
    counts["saturated"] = saturated[0]
    return out, counts
