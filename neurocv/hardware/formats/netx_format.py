"""lava-dl netx files (``stm_mv.net``, ``stm_residual.net``): a LIF STM as Loihi integers in netx's HDF5 layout, and
the bit-exact numpy model of what Lava runs from them.

Torch-free (numpy + h5py): written in the main environment by ``neurocv export``, read in ``.venv-lava`` by
``lava.lib.dl.netx.hdf5.Network`` (:mod:`neurocv.hardware.netx_worker`). Only ``neuron=lif`` STMs have a netx form:
netx's ``CUBA`` neuron is Lava's ``LIF`` (hard reset to 0); the paper's STM (subtractive reset, analog membrane
out) has none (:func:`check_netx_compatible` says so in one line).

Layout (what netx's ``hdf5.py`` reads; every layer a group ``layer/<i>``)::

    layer/0  type "input", shape (C, H, W)                                  (no neuron: only the input shape)
    layer/k  type "conv", shape (C_out, H_out, W_out), weight int (C_out, C_in, kH, kW) (torch layout, netx flips
             and transposes it for Lava), bias int (C_out,) = bias mantissa, stride/padding/dilation (2,),
             groups 1, neuron {type "CUBA", iDecay 4096, vDecay, vThMant, refDelay 1, gradedSpike 0}

The neurocv metadata (format, input scale, per-layer scales, the readout) is in the root group's attributes.

Quantisation (Loihi's CUBA neuron with a one-step current: ``du = iDecay - 1 = 4095`` makes ``u = a`` each step)::

    weights   w_m = clip(round(W / 2^e), -128, 127),  e = ceil(log2(max|W| / 127))       8-bit mantissa, exponent e
    input     x_q = round(x * 2^p) (graded 24-bit messages, first layer only; spikes are 0/1, p = 0)
    scale     s = p - e: one unit of synaptic input a = sum w_m x_q is 2^-s of the float current
    threshold vThMant = round(v_th * 2^s)        (Lava compares v > vThMant << 6)
    bias      bias_mant = round(b * 2^s)         (13-bit, netx's bias_exp 6: added as bias_mant << 6)
    leak      vDecay = round((1 - lambda) * 4096)    (12-bit: v <- v * (4096 - vDecay) >> 12, toward zero)

so Lava's state ``v`` is the float membrane times ``2^(s + 6)``. An LI readout layer (``lif_readout=li``) is a CUBA
layer whose threshold is the largest mantissa (it never fires below the 24-bit ceiling); its membrane is read.
The first layer's ``p`` is chosen so that 32 thresholds fit in the 24-bit state and the bias fits 13 bits.

Lava's fixed-point LIF (``PyLifModelBitAcc``), per step: ``u = a << 6`` (wraps at 24 bits), ``v = clip(decay(v) + u
+ (bias_mant << 6), -(2^23 - 1), 2^23 - 1)``, spike ``v > vThMant << 6``, ``v = 0`` where it spiked.
:func:`simulate_netx_numpy` does exactly that (``mode="fixed"``) or the same parameters in float64 without
rounding (``mode="float"``, what Lava's ``floating_pt`` models compute from them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...dynamics.fixed import DECAY_ONE, STATE_MAX
from ...dynamics.kinds import KINDS, check_layer_kinds
from ...errors import ExportError
from .stm_spec import ConvGeometry, STMSpec, ac_count, conv2d_numpy, fanout_map

__all__ = ["NETX_FORMAT", "NetxLayer", "NetxNetwork", "quantize_netx", "write_netx", "read_netx",
           "simulate_netx_numpy", "netx_counts", "check_netx_compatible", "layer_kinds", "VTH_MANT_MAX"]

NETX_FORMAT = "neurocv.stm-netx/1"
VTH_MANT_MAX = (1 << 17) - 1
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << 12), (1 << 12) - 1
HEADROOM_THRESHOLDS = 32


def layer_kinds(spec: STMSpec) -> list[str]:
    """Each layer's neuron: ``"stm"``, ``"lif"`` or ``"li"`` (a spec without neuron kinds is the paper's STM)."""
    return [str(getattr(layer, "neuron", "stm")) for layer in spec.layers]


def check_netx_compatible(spec: STMSpec, path=None) -> None:
    """:class:`ExportError` in one line unless every layer is a portable kind (``lif``; the last may be ``li``)."""
    kinds = layer_kinds(spec)
    ok = check_layer_kinds(kinds) is None and all(KINDS[k].portable for k in kinds)
    if not ok:
        where = f"{path}: " if path else ""
        raise ExportError(f"{where}no lava-dl netx form for the paper's STM neuron (subtractive reset and an analog "
                          f"membrane readout; netx's CUBA neuron resets to 0 and sends spikes): train a "
                          f"hardware-native model with `--set neuron=lif` and export that")


@dataclass(frozen=True)
class NetxLayer(ConvGeometry):
    """One conv layer as Loihi integers (module docstring): ``weight`` int ``(C_out, C_in, k, k)`` torch layout,
    ``bias`` int ``(C_out,)`` (mantissa), ``v_th`` = vThMant, ``v_decay`` 12-bit, ``scale`` = s (state unit
    ``2^-(s+6)`` of the float membrane), ``kind`` ``"lif"`` or ``"li"``."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int
    v_th: int
    v_decay: int
    scale: int
    weight_exp: int
    kind: str
    bias_saturated: int = 0


@dataclass(frozen=True)
class NetxNetwork:
    """A quantised STM: ``input_shape`` ``(C, H, W)``, ``input_bits`` = p (input ``x_q = round(x * 2^p)``)."""

    name: str
    input_shape: tuple[int, int, int]
    input_bits: int
    layers: tuple[NetxLayer, ...]

    @property
    def readout(self) -> str:
        return KINDS[self.layers[-1].kind].readout

    @property
    def membrane_readout(self) -> bool:
        """Whether the readout is the last layer's membrane (an LI layer), not its spikes."""
        return KINDS[self.layers[-1].kind].output == "membrane"

    def shapes(self) -> list[tuple[int, int, int]]:
        c, h, w = self.input_shape
        out = []
        for layer in self.layers:
            h, w = layer.out_hw(h, w)
            c = layer.out_channels
            out.append((c, h, w))
        return out


def _exp(weight: np.ndarray) -> int:
    wmax = float(np.abs(weight).max())
    return math.ceil(math.log2(wmax / 127.0)) if wmax > 0 else 0


def quantize_netx(spec: STMSpec) -> NetxNetwork:
    """The Loihi integers of a LIF STM (module docstring); :class:`ExportError` for the paper's STM."""
    check_netx_compatible(spec)
    kinds = layer_kinds(spec)
    layers, p = [], 0
    for k, (layer, kind) in enumerate(zip(spec.layers, kinds)):
        w = layer.weight.astype(np.float64)
        b = layer.bias.astype(np.float64)
        e = _exp(w)
        if layer.input == "analog":
            # largest scale with 32 thresholds of headroom in the 24-bit state and the bias inside 13 bits
            limits = [math.log2(STATE_MAX / 64 / HEADROOM_THRESHOLDS / layer.v_th)]
            if np.abs(b).max() > 0:
                limits.append(math.log2(BIAS_MANT_MAX / float(np.abs(b).max())))
            p = math.floor(min(limits)) + e
            s = p - e
        else:
            s = -e
        w_m = np.clip(np.round(w / 2.0 ** e), -128, 127).astype(np.int64)
        b_raw = np.round(b * 2.0 ** s)
        b_m = np.clip(b_raw, BIAS_MANT_MIN, BIAS_MANT_MAX).astype(np.int64)
        v_th = VTH_MANT_MAX if not KINDS[kind].fires else int(min(max(round(layer.v_th * 2.0 ** s), 1), VTH_MANT_MAX))
        layers.append(NetxLayer(name=layer.name, weight=w_m, bias=b_m, stride=layer.stride, padding=layer.padding,
                                v_th=v_th, v_decay=int(round((1.0 - layer.leak) * DECAY_ONE)), scale=s,
                                weight_exp=e, kind=kind, bias_saturated=int(np.count_nonzero(b_m != b_raw))))
    return NetxNetwork(name=spec.name, input_shape=tuple(spec.input_shape), input_bits=p, layers=tuple(layers))


def _string(group, key: str, value: str) -> None:
    group.create_dataset(key, (1,), f"S{max(len(value), 1)}", [value.encode("ascii")])


def write_netx(spec: STMSpec | NetxNetwork, path: str | Path) -> NetxNetwork:
    """Write a LIF STM's netx file (atomically); returns its integers."""
    import h5py

    from ..._io import atomic_path

    net = spec if isinstance(spec, NetxNetwork) else quantize_netx(spec)
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = NETX_FORMAT
            f.attrs["neurocv"] = json.dumps({
                "name": net.name, "input_shape": list(net.input_shape), "input_bits": net.input_bits,
                "readout": net.readout,
                "layers": [{"name": l.name, "scale": l.scale, "weight_exp": l.weight_exp, "kind": l.kind,
                            "bias_saturated": l.bias_saturated} for l in net.layers]})
            group = f.create_group("layer")
            first = group.create_group("0")
            _string(first, "type", "input")
            first.create_dataset("shape", data=np.asarray(net.input_shape, np.int64))
            for k, (layer, shape) in enumerate(zip(net.layers, net.shapes()), start=1):
                g = group.create_group(str(k))
                _string(g, "type", "conv")
                g.create_dataset("shape", data=np.asarray(shape, np.int64))
                g.create_dataset("weight", data=layer.weight.astype(np.float32))
                g.create_dataset("bias", data=layer.bias.astype(np.float32))
                for key, v in (("stride", layer.stride), ("padding", layer.padding), ("dilation", 1)):
                    g.create_dataset(key, data=np.asarray([v, v], np.int64))
                g.create_dataset("groups", data=np.int64(1))
                n = g.create_group("neuron")
                _string(n, "type", "CUBA")
                for key, v in (("iDecay", DECAY_ONE), ("vDecay", layer.v_decay), ("vThMant", layer.v_th),
                               ("refDelay", 1), ("gradedSpike", 0)):
                    n.create_dataset(key, data=np.int64(v))
    return net


def read_netx(path: str | Path) -> NetxNetwork:
    """Read a netx file written by :func:`write_netx` back into integers; :class:`ExportError` names the file."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such netx file")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != NETX_FORMAT:
                raise ExportError(f"{path}: not a neurocv netx file (format {f.attrs.get('format')!r}, expected "
                                  f"{NETX_FORMAT!r})")
            meta = json.loads(f.attrs["neurocv"])
            layers = []
            for k, info in enumerate(meta["layers"], start=1):
                g = f["layer"][str(k)]
                layers.append(NetxLayer(
                    name=info["name"], weight=g["weight"][()].astype(np.int64), bias=g["bias"][()].astype(np.int64),
                    stride=int(g["stride"][0]), padding=int(g["padding"][0]), v_th=int(g["neuron/vThMant"][()]),
                    v_decay=int(g["neuron/vDecay"][()]), scale=int(info["scale"]),
                    weight_exp=int(info["weight_exp"]), kind=info["kind"],
                    bias_saturated=int(info.get("bias_saturated", 0))))
    except ExportError:
        raise
    except Exception as e:  # h5py: OSError/KeyError on corrupt or truncated files
        raise ExportError(f"{path}: not a readable netx file ({type(e).__name__}); re-export it with "
                          f"`neurocv export`") from None
    return NetxNetwork(name=meta["name"], input_shape=tuple(meta["input_shape"]), input_bits=int(meta["input_bits"]),
                       layers=tuple(layers))


def quantize_input_netx(net: NetxNetwork, x: np.ndarray, mode: str = "fixed") -> np.ndarray:
    """The first layer's graded input: ``round(x * 2^p)`` (fixed) or ``x * 2^p`` (float), float64."""
    xs = np.asarray(x, np.float64) * 2.0 ** net.input_bits
    return np.round(xs) if mode == "fixed" else xs


def netx_counts(net: NetxNetwork, spikes: list[np.ndarray]) -> dict:
    """Operation counts of one clip from each layer's spikes ``(T, C_l, H_l, W_l)``, in the format of
    :func:`~neurocv.hardware.formats.stm_spec.simulate_numpy` (an analog-fed layer counts MACs, a spike-fed one ACs =
    C_out * the border-aware fan-out of every input spike)."""
    shapes = net.shapes()
    steps = int(spikes[0].shape[0])
    in_hw = [net.input_shape[1:]] + [s[1:] for s in shapes[:-1]]
    layers = []
    for k, (layer, (c, h, w)) in enumerate(zip(net.layers, shapes)):
        analog = k == 0
        entry = {"name": layer.name, "input": "analog" if analog else "spikes", "neurons": c * h * w,
                 "macs": c * layer.in_channels * layer.kernel ** 2 * h * w * steps if analog else 0, "acs": 0.0,
                 "spikes": float(spikes[k].sum()), "neuron_updates": float(c * h * w * steps)}
        if not analog:
            fan = fanout_map(layer, *in_hw[k])
            entry["acs"] = ac_count(layer.out_channels, spikes[k - 1].sum(axis=(0, 1)), fan)
        layers.append(entry)
    return {"layers": layers}


def simulate_netx_numpy(net: NetxNetwork, x: np.ndarray, mode: str = "fixed"
                        ) -> tuple[np.ndarray, dict, list[np.ndarray]]:
    """What Lava runs from the netx file, one clip from rest: ``x (T, C, H, W)`` -> ``(y, counts, membranes)``.

    ``y`` is the readout in float units: spikes (0/1) of the last layer, or the LI membrane ``v * 2^-(s+6)``;
    ``membranes[l]`` is layer l's ``v`` after the reset, ``(T, C_l, H_l, W_l)`` in float units; ``counts`` from
    :func:`netx_counts`."""
    if mode not in ("fixed", "float"):
        raise ValueError(f"mode must be 'fixed' or 'float', got {mode!r}")
    x = np.asarray(x, np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(net.input_shape):
        raise ValueError(f"STM {net.name}: expected a clip (T, {', '.join(map(str, net.input_shape))}), "
                         f"got {tuple(x.shape)}")
    shapes = net.shapes()
    steps = x.shape[0]
    v = [np.zeros(s, np.int64 if mode == "fixed" else np.float64) for s in shapes]
    mems = [np.empty((steps, *s), np.float32) for s in shapes]
    spikes = [np.zeros((steps, *s), np.float32) for s in shapes]
    for t in range(steps):
        h = quantize_input_netx(net, x[t], mode)
        for k, layer in enumerate(net.layers):
            a = conv2d_numpy(h, layer.weight.astype(np.float64), None, layer.stride, layer.padding)
            bias = layer.bias[:, None, None]
            if mode == "fixed":
                a = a.astype(np.int64)
                u = a << 6
                u = np.where(u > (1 << 23), u - (1 << 24), u)         # 24-bit wrap of the current, as Lava's LIF
                u = np.where(u <= -(1 << 23), u + (1 << 24), u)
                keep = DECAY_ONE - layer.v_decay
                dec = np.sign(v[k]) * ((np.abs(v[k]) * keep) >> 12)
                vk = np.clip(dec + u + (bias << 6), -STATE_MAX, STATE_MAX)
                o = vk > (layer.v_th << 6)
                unit = 2.0 ** -(layer.scale + 6)
            else:
                vk = v[k] * (1.0 - layer.v_decay / DECAY_ONE) + a + bias
                o = vk > layer.v_th
                unit = 2.0 ** -layer.scale
            vk = np.where(o, 0, vk)
            v[k] = vk
            mems[k][t] = vk * unit
            spikes[k][t] = o
            h = o.astype(np.float64)
    y = mems[-1] if net.membrane_readout else spikes[-1]
    return y, netx_counts(net, spikes), mems
