"""Torch-free description of one Spiking Temporal Modulator (STM) and its numpy reference simulation.

Importable in both environments (``.venv`` with numpy 2 and torch, ``.venv-lava`` with numpy < 2 and no torch): it
imports only numpy, and ``nir`` lazily inside :func:`load_stm_spec`.

An STM is a stack of Conv-LIF layers (see :mod:`neurocv.models.stm`). Layer l at time step t::

    I_l[t] = conv_l(s_{l-1}[t]) + b_l            s_0 = x (analog input), s_l = o_l (binary spikes)
    u_l[t] = I_l[t] + lambda_l * u_l[t-1] - v_th_l * o_l[t-1]
    o_l[t] = 1 if u_l[t] > v_th_l else 0         (strictly greater)

with ``u_l[-1] = o_l[-1] = 0`` at the start of every clip. The STM's output is the last layer's analog membrane
``u_L[t]``.

A hardware-native STM (``neuron="lif"``, :func:`neurocv.dynamics.lif_update`) has ``neuron="lif"`` layers::

    v'_l[t] = lambda_l * v_l[t-1] + I_l[t];   o_l[t] = 1 if v'_l[t] > v_th_l else 0;   v_l[t] = v'_l[t] (1 - o_l[t])

and hands on the last layer's spikes ``o_L[t]`` (``readout="spikes"``) or, when its last layer is a leaky
integrator (``neuron="li"``: ``v_L[t] = lambda_L v_L[t-1] + I_L[t]``, no threshold), that membrane
(``readout="li"``). Every update is the one in :mod:`neurocv.dynamics` (the torch model uses the same functions).

Shapes: input ``(T, C, H, W)``, output ``(T, C_L, H_L, W_L)``; one time step is one sampled segment and
lasts ``dt_s`` seconds on the NIR side (the dynamics do not depend on it: lambda is a per-step factor).

Operation counts (``counts["layers"]``, one dict per layer, totals over the T steps of one clip):

* ``neurons`` = C_out * H_out * W_out; ``neuron_updates`` = neurons * T; ``spikes`` = spikes the layer emitted.
* a layer fed analog input counts ``macs`` = C_out * C_in * k * k * H_out * W_out per step and ``acs`` = 0;
* a layer fed spikes counts ``acs`` = C_out * sum over input spikes of each spike's border-aware fan-out (the number
  of output positions whose receptive field holds it; zero padding contributes nothing) and ``macs`` = 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...dynamics import heaviside_numpy
from ...dynamics.kinds import KIND_NAMES, KINDS, check_layer_kinds, get_kind, layer_output
from ...errors import ExportError

__all__ = ["STMLayerSpec", "STMSpec", "FORMAT", "FORMAT_LIF", "LIF_DT_S", "load_stm_spec", "simulate_numpy",
           "conv2d_numpy", "fanout_map", "ac_count", "drive_clip", "layer_shapes", "empty_counts", "LAYER_NEURONS"]

FORMAT = "neurocv.stm-nir/1"   # graph.metadata["format"] of the paper's STM (LI + Threshold + Scale loop)
FORMAT_LIF = "neurocv.lif-nir/1"   # graph.metadata["format"] of a portable Conv2d -> LIF graph (neuron="lif")
#: dt of the portable LIF graphs: snnTorch's importer assumes 1e-4 s, so tau is written for it (docs/nir.md)
LIF_DT_S = 1e-4
#: a layer's neuron: the paper's STM, the hardware LIF (hard reset), or a leaky-integrator readout (no threshold)
LAYER_NEURONS = KIND_NAMES       # the registry's kinds (neurocv.dynamics.kinds)


class ConvGeometry:
    """The shape arithmetic of a square conv layer with ``weight`` ``(C_out, C_in, k, k)``, ``stride`` and
    ``padding``: shared by :class:`STMLayerSpec` and the quantised ``NetxLayer``."""

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        """Output (H, W) for an input of (h, w) pixels."""
        k, s, p = self.kernel, self.stride, self.padding
        return (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1


@dataclass(frozen=True)
class STMLayerSpec(ConvGeometry):
    """One Conv-neuron layer. ``weight`` float32 ``(C_out, C_in, k, k)`` in torch layout (cross-correlation),
    ``bias`` float32 ``(C_out,)``; ``v_th`` > 0 and ``leak`` = lambda in [0, 1) are the float32 values of the
    torch model; ``input`` is ``"analog"`` (first layer) or ``"spikes"``; ``neuron`` is ``"stm"`` (subtractive
    reset), ``"lif"`` (hard reset to 0) or ``"li"`` (no threshold: ``v_th`` is ``inf``)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int
    v_th: float
    leak: float
    input: str = "spikes"
    neuron: str = "stm"

    def __post_init__(self):
        w = np.asarray(self.weight)
        if w.ndim != 4 or w.shape[2] != w.shape[3]:
            raise ValueError(f"layer {self.name}: weight must be (C_out, C_in, k, k), got {w.shape}")
        if np.asarray(self.bias).shape != (w.shape[0],):
            raise ValueError(f"layer {self.name}: bias must be ({w.shape[0]},), got {np.asarray(self.bias).shape}")
        if self.input not in ("analog", "spikes"):
            raise ValueError(f"layer {self.name}: input must be 'analog' or 'spikes', got {self.input!r}")
        if self.neuron not in LAYER_NEURONS:
            raise ValueError(f"layer {self.name}: neuron must be one of {LAYER_NEURONS}, got {self.neuron!r}")
        if not KINDS[self.neuron].fires and self.v_th != math.inf:
            raise ValueError(f"layer {self.name}: an {self.neuron!r} layer has no threshold (v_th = inf), got "
                             f"{self.v_th}")
        if not self.v_th > 0 or not 0 <= self.leak < 1 or self.stride < 1 or self.padding < 0:
            raise ValueError(f"layer {self.name}: need v_th > 0, 0 <= leak < 1, stride >= 1, padding >= 0; got "
                             f"v_th={self.v_th}, leak={self.leak}, stride={self.stride}, padding={self.padding}")


@dataclass(frozen=True)
class STMSpec:
    """An STM: ``name`` (e.g. ``"mv"``), ``input_shape`` ``(C, H, W)``, ``dt_s`` (seconds per time step, NIR
    metadata only) and its layers, first to last. Either every layer is ``"stm"``, or every layer is ``"lif"``
    except perhaps the last, an ``"li"`` readout (see :attr:`neuron`, :attr:`readout`)."""

    name: str
    input_shape: tuple[int, int, int]
    dt_s: float
    layers: tuple[STMLayerSpec, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not self.layers:
            raise ValueError(f"STM {self.name}: no layers")
        kinds = [layer.neuron for layer in self.layers]
        problem = check_layer_kinds(kinds)
        if problem:
            raise ValueError(f"STM {self.name}: layers must be all 'stm', or all 'lif' with perhaps a last 'li' "
                             f"readout ({problem}); got {kinds}")
        shapes = layer_shapes(self)   # validates channel chaining
        if min(min(s) for s in shapes) < 1:
            raise ValueError(f"STM {self.name}: input {self.input_shape} too small for its layers ({shapes})")

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """``(C_L, H_L, W_L)`` of the last layer's output (membrane or spikes)."""
        return layer_shapes(self)[-1]

    @property
    def neuron(self) -> str:
        """``"stm"`` (the paper's neuron) or ``"lif"`` (hardware-native, hard reset)."""
        return self.layers[0].neuron

    @property
    def readout(self) -> str:
        """What the STM hands on: ``"membrane"`` (STM: last layer's ``u``), ``"spikes"`` (LIF: last layer's
        spikes) or ``"li"`` (LIF with a last leaky-integrator layer: its membrane)."""
        return KINDS[self.layers[-1].neuron].readout


def layer_shapes(spec: STMSpec) -> list[tuple[int, int, int]]:
    """Each layer's neuron shape ``(C_out, H_out, W_out)`` at ``spec.input_shape``."""
    c, h, w = spec.input_shape
    out = []
    for layer in spec.layers:
        if layer.in_channels != c:
            raise ValueError(f"layer {layer.name} expects {layer.in_channels} input channels, gets {c}")
        h, w = layer.out_hw(h, w)
        c = layer.out_channels
        out.append((c, h, w))
    return out


def conv2d_numpy(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int
                 ) -> np.ndarray:
    """Cross-correlation like ``torch.nn.functional.conv2d``: ``x (C_in, H, W)`` -> ``(C_out, H_out, W_out)``,
    computed in ``weight``'s dtype."""
    k = weight.shape[2]
    xp = np.pad(x.astype(weight.dtype, copy=False), ((0, 0), (padding, padding), (padding, padding)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    out = np.tensordot(weight, win, axes=([1, 2, 3], [0, 3, 4]))          # (C_out, H_out, W_out)
    if bias is not None:
        out += bias.astype(weight.dtype)[:, None, None]
    return out


def fanout_map(layer: STMLayerSpec, h: int, w: int) -> np.ndarray:
    """``(h, w)`` int64: for each input position, how many of ``layer``'s output positions have it in their
    receptive field (border-aware; the sum over spikes of this map times C_out is the layer's AC count)."""
    k, s, p = layer.kernel, layer.stride, layer.padding
    ho, wo = layer.out_hw(h, w)
    f = np.zeros((h + 2 * p, w + 2 * p), np.int64)
    for di in range(k):
        for dj in range(k):
            f[di:di + s * ho:s, dj:dj + s * wo:s] += 1
    return f[p:p + h, p:p + w]


def ac_count(out_channels, spike_map, fan) -> float:
    """The accumulate operations (ACs) that spikes cause in a layer with ``out_channels`` output channels:
    ``C_out * sum(spike_map * fan)``, ``spike_map`` the number of spikes at each input position (summed over
    channels, and over time steps for a whole clip) and ``fan`` its :func:`fanout_map` (any layout, numpy or torch,
    as long as the two match). The one AC formula of every counter (references, simulators, Lava models)."""
    return float(out_channels * (spike_map * fan).sum())


def empty_counts(spec: STMSpec) -> dict:
    """The counts dict with every number at zero (``neurons`` filled in)."""
    layers = []
    for layer, (c, h, w) in zip(spec.layers, layer_shapes(spec)):
        layers.append({"name": layer.name, "input": layer.input, "neurons": c * h * w, "macs": 0, "acs": 0.0,
                       "spikes": 0.0, "neuron_updates": 0.0})
    return {"layers": layers}


def analog_macs(spec: STMSpec, steps: int) -> list[int]:
    """MACs per layer over ``steps`` time steps (non-zero only for layers fed analog input)."""
    out = []
    for layer, (c, h, w) in zip(spec.layers, layer_shapes(spec)):
        per_step = c * layer.in_channels * layer.kernel ** 2 * h * w
        out.append(per_step * steps if layer.input == "analog" else 0)
    return out


def check_input(spec: STMSpec, x: np.ndarray) -> np.ndarray:
    """``x`` as float32 ``(T, C, H, W)`` matching ``spec.input_shape``, else ValueError naming both shapes."""
    x = np.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(spec.input_shape) or x.shape[0] < 1:
        raise ValueError(f"STM {spec.name}: expected a clip (T, {', '.join(map(str, spec.input_shape))}), "
                         f"got {tuple(x.shape)}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"STM {spec.name}: expected float32 input, got {x.dtype}")
    return x.astype(np.float32, copy=False)


def simulate_numpy(spec: STMSpec, x: np.ndarray, trace: dict | None = None, dtype=np.float32
                   ) -> tuple[np.ndarray, dict]:
    """Run one clip from rest in float32: ``x (T, C, H, W)`` -> ``(y (T, C_L, H_L, W_L) float32, counts)``.
    ``dtype=np.float64`` computes (and returns) in float64 from the same float32 parameters instead.

    ``y`` is the STM's output (:attr:`STMSpec.readout`). The updates are the functions of :mod:`neurocv.dynamics`
    on float32 arrays, in the order torch evaluates them. If ``trace`` is a dict it receives ``"membrane"`` and
    ``"spikes"``: one float32 array ``(T, C_l, H_l, W_l)`` per layer (``u`` for STM layers, ``v`` after the reset
    for LIF layers, ``v`` for an LI layer; an LI layer's spikes are all zero).
    """
    dtype = np.dtype(dtype)
    x = check_input(spec, x).astype(dtype, copy=False)
    kinds = [get_kind(layer.neuron) for layer in spec.layers]
    params = [(layer.weight.astype(dtype, copy=False), dtype.type(np.float32(layer.leak)),
               dtype.type(np.float32(layer.v_th))) for layer in spec.layers]

    def step(k, h, v, o):
        w, leak, v_th = params[k]
        layer = spec.layers[k]
        cur = conv2d_numpy(h, w, layer.bias, layer.stride, layer.padding)
        return kinds[k].step(cur, v, o, leak, v_th, heaviside_numpy)

    return drive_clip(spec, x, step, lambda v, o: layer_output(kinds[-1], v, o), dtype, dtype, trace=trace)


def drive_clip(spec: STMSpec, x: np.ndarray, step, readout, state_dtype, out_dtype, encode=None,
               trace: dict | None = None) -> tuple[np.ndarray, dict]:
    """The clip loop every numpy simulator of a spec shares: from rest, for each time step t, ``h = encode(x[t])``,
    then for each layer k ``(v, o) = step(k, h, v_k, o_k)`` (its state, from ``(0, 0)`` of ``state_dtype``) and
    ``h = o``; ``y[t] = readout(v_L, o_L)``. Counts the layers' spikes and ACs (:func:`ac_count` of the spikes fed
    in), MACs and neuron updates. ``trace`` (a dict) receives ``"membrane"`` and ``"spikes"``, one ``(T, C_l,
    H_l, W_l)`` array of ``state_dtype`` per layer. Returns ``(y (T, C_L, H_L, W_L) of out_dtype, counts)``."""
    steps = x.shape[0]
    counts = empty_counts(spec)
    shapes = layer_shapes(spec)
    in_hw = [spec.input_shape[1:]] + [s[1:] for s in shapes[:-1]]
    fan = [fanout_map(layer, *hw) for layer, hw in zip(spec.layers, in_hw)]
    state = [(np.zeros(s, state_dtype), np.zeros(s, state_dtype)) for s in shapes]
    out = np.empty((steps, *shapes[-1]), out_dtype)
    if trace is not None:
        trace["membrane"] = [np.empty((steps, *s), state_dtype) for s in shapes]
        trace["spikes"] = [np.empty((steps, *s), state_dtype) for s in shapes]
    for t in range(steps):
        h = x[t] if encode is None else encode(x[t])
        for k, layer in enumerate(spec.layers):
            entry = counts["layers"][k]
            if layer.input == "spikes":
                entry["acs"] += ac_count(layer.out_channels, h.sum(0), fan[k])
            v, o = state[k] = step(k, h, *state[k])
            entry["spikes"] += float(o.sum())
            if trace is not None:
                trace["membrane"][k][t] = v
                trace["spikes"][k][t] = o
            h = o
        out[t] = readout(*state[-1])
    for entry, macs in zip(counts["layers"], analog_macs(spec, steps)):
        entry["macs"] = macs
        entry["neuron_updates"] = float(entry["neurons"] * steps)
    return out, counts

# ----------------------------------------------------------------------------------------------------------------
# Reading the NIR file written by neurocv.exporters.nir_export


def _fail(path, problem: str):
    raise ExportError(f"{path}: {problem}")


def _uniform(arr, what: str, path) -> float:
    a = np.asarray(arr, np.float64)
    if a.size == 0 or not np.all(a == a.flat[0]):
        _fail(path, f"{what} is not one value per layer (min {a.min() if a.size else 'n/a'}, "
                    f"max {a.max() if a.size else 'n/a'}); neurocv STMs have one per layer")
    return float(a.flat[0])


def _conv_and_neuron(conv, node, name: str, dt_s: float, path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Checks shared by both graph formats: square ``conv`` stride/padding, and a neuron ``node`` (nir LI or LIF)
    with one ``tau`` >= ``dt_s``, one ``r`` and ``v_leak`` 0. Returns ``(stride, padding, tau, r)``, stride and
    padding as 1-d arrays."""
    stride, padding = np.atleast_1d(conv.stride), np.atleast_1d(conv.padding)
    if isinstance(conv.padding, str) or len(set(stride.tolist())) != 1 or len(set(padding.tolist())) != 1:
        _fail(path, f"layer {name}: only square stride/padding supported, got {conv.stride}, {conv.padding}")
    tau = _uniform(node.tau, f"layer {name}: tau", path)
    r = _uniform(node.r, f"layer {name}: r", path)
    if _uniform(node.v_leak, f"layer {name}: v_leak", path) != 0.0:
        _fail(path, f"layer {name}: v_leak must be 0")
    if not tau >= dt_s:
        _fail(path, f"layer {name}: tau {tau} s is shorter than dt {dt_s} s (forward Euler needs tau >= dt)")
    return stride, padding, tau, r


def _read_layout(meta: dict, path) -> tuple[float, list[str], tuple[int, ...], str, dict]:
    try:
        info = json.loads(meta["layout"])
        return (float(meta["dt_s"]), list(info["layers"]), tuple(int(v) for v in info["input_shape"]),
                str(info["name"]), info)
    except (KeyError, ValueError, TypeError) as e:
        _fail(path, f"metadata is incomplete ({e})")


def _load_lif(graph, meta: dict, path) -> STMSpec:
    """The :class:`STMSpec` of a portable Conv2d -> LIF (-> LI) graph (``FORMAT_LIF``): the weights are unfolded
    (``W = W_nir * r * dt / tau``, float64 then float32), so the spec reproduces the file's dynamics to float32
    rounding, not necessarily bit for bit the torch model it was exported from."""
    import nir

    dt_s, names, input_shape, spec_name, _ = _read_layout(meta, path)
    edges = {tuple(e) for e in graph.edges}
    layers = []
    prev = "input"
    for k, name in enumerate(names):
        conv = graph.nodes.get(f"{name}.conv")
        last = k == len(names) - 1
        # the portable kinds' NIR forms (neurocv.dynamics.kinds): node key suffix and class, readouts only last
        forms = [k for k in KINDS.values() if k.portable and (last or not k.last_only)]
        kind = next((k for k in forms if isinstance(graph.nodes.get(f"{name}.{k.nir_suffix}"),
                                                     getattr(nir, k.nir_node))), None)
        if not isinstance(conv, nir.Conv2d):
            _fail(path, f"layer {name}: node {name}.conv missing or not nir.Conv2d")
        if kind is None:
            _fail(path, f"layer {name}: node {name}.lif missing or not nir.LIF (nir.LI only as the last layer)")
        neuron_key = f"{name}.{kind.nir_suffix}"
        node = graph.nodes[neuron_key]
        for edge in ((prev, f"{name}.conv"), (f"{name}.conv", neuron_key)):
            if edge not in edges:
                _fail(path, f"layer {name}: edge {edge} missing (expected a Conv2d -> LIF chain)")
        prev = neuron_key
        stride, padding, tau, r = _conv_and_neuron(conv, node, name, dt_s, path)
        if kind.fires:
            if _uniform(node.v_reset, f"layer {name}: v_reset", path) != 0.0:
                _fail(path, f"layer {name}: v_reset must be 0 (hard reset to 0)")
            v_th = float(np.float32(_uniform(node.v_threshold, f"layer {name}: v_threshold", path)))
        else:
            v_th = math.inf
        gain = r * dt_s / tau
        leak = float(np.float32(1.0 - dt_s / tau))
        bias = conv.bias if conv.bias is not None else np.zeros(np.asarray(conv.weight).shape[0])
        try:
            weight = (np.asarray(conv.weight, np.float64) * gain).astype(np.float32)
            layers.append(STMLayerSpec(name=name, weight=weight,
                                       bias=(np.asarray(bias, np.float64) * gain).astype(np.float32),
                                       stride=int(stride[0]), padding=int(padding[0]), v_th=v_th, leak=leak,
                                       input="analog" if k == 0 else "spikes", neuron=kind.name))
        except ValueError as e:
            _fail(path, str(e))
    if (prev, "output") not in edges:
        _fail(path, f"edge ({prev!r}, 'output') missing")
    try:
        return STMSpec(name=spec_name, input_shape=input_shape, dt_s=dt_s, layers=tuple(layers))
    except ValueError as e:
        _fail(path, str(e))


def load_stm_spec(nir_path: str | Path) -> STMSpec:
    """Rebuild an :class:`STMSpec` from a ``.nir`` file written by ``write_stm_nir``: the paper's STM
    (``FORMAT``, LI + Threshold + Scale loop) or a portable hardware-native one (``FORMAT_LIF``, Conv2d -> LIF).

    Raises :class:`~neurocv.errors.ExportError` naming the file for a missing, corrupt or truncated file, or a graph
    that is not a neurocv STM (wrong node types, non-uniform threshold, reset that is not ``-v_th``, ...).
    """
    import nir

    path = Path(nir_path)
    if not path.is_file():
        _fail(path, "no such NIR file")
    try:
        graph = nir.read(path)
    except Exception as e:  # h5py raises OSError/KeyError/ValueError on corrupt or truncated files
        _fail(path, f"not a readable NIR file ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                    f"re-export it with `neurocv export`")
    meta = graph.metadata or {}
    if meta.get("format") == FORMAT_LIF:
        return _load_lif(graph, meta, path)
    if meta.get("format") != FORMAT:
        _fail(path, f"not a neurocv STM graph (metadata format {meta.get('format')!r}, expected {FORMAT!r} or "
                    f"{FORMAT_LIF!r})")
    dt_s, names, input_shape, spec_name, _ = _read_layout(meta, path)
    layers = []
    for k, name in enumerate(names):
        nodes = {part: graph.nodes.get(f"{name}.{part}") for part in ("conv", "li", "threshold", "reset")}
        kinds = {"conv": nir.Conv2d, "li": nir.LI, "threshold": nir.Threshold, "reset": nir.Scale}
        for part, node in nodes.items():
            if not isinstance(node, kinds[part]):
                _fail(path, f"layer {name}: node {name}.{part} missing or not nir.{kinds[part].__name__}")
        conv, li, thr, reset = (nodes[p] for p in ("conv", "li", "threshold", "reset"))
        for edge in [(f"{name}.conv", f"{name}.li"), (f"{name}.li", f"{name}.threshold"),
                     (f"{name}.threshold", f"{name}.reset"), (f"{name}.reset", f"{name}.li")]:
            if tuple(edge) not in {tuple(e) for e in graph.edges}:
                _fail(path, f"layer {name}: edge {edge} missing (subtractive reset loop)")
        stride, padding, tau, r = _conv_and_neuron(conv, li, name, dt_s, path)
        if abs(r * dt_s / tau - 1.0) > 1e-9:
            _fail(path, f"layer {name}: input gain r*dt/tau = {r * dt_s / tau} != 1")
        v_th = _uniform(thr.threshold, f"layer {name}: threshold", path)
        if _uniform(reset.scale, f"layer {name}: reset scale", path) != -v_th:
            _fail(path, f"layer {name}: reset scale must be -threshold (subtractive reset)")
        leak = float(np.float32(1.0 - dt_s / tau))
        try:
            layers.append(STMLayerSpec(name=name, weight=np.asarray(conv.weight, np.float32),
                                       bias=np.asarray(conv.bias, np.float32), stride=int(stride[0]),
                                       padding=int(padding[0]), v_th=float(np.float32(v_th)), leak=leak,
                                       input="analog" if k == 0 else "spikes"))
        except ValueError as e:
            _fail(path, str(e))
    try:
        return STMSpec(name=spec_name, input_shape=input_shape, dt_s=dt_s, layers=tuple(layers))
    except ValueError as e:
        _fail(path, str(e))
