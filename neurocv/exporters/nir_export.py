"""Spiking Temporal Modulator (STM) -> NIR graph (nir 1.0.8), written with ``nir.write`` and read back.

Encoding of one Conv-LIF layer ``name`` (an STM is a chain of them, ``Input -> ... -> Output``)::

    <prev> --> name.conv (Conv2d: W, b, stride, padding) --> name.li (LI) --+--> name.threshold (Threshold v_th)
                                                              ^            |          |
                                                              |   (u: the last layer's LI feeds Output)
                                                              +-- name.reset (Scale -v_th) <--+
                                                                                   name.threshold --> next conv

* **Leak.** NIR's LI is ``tau dv/dt = (v_leak - v) + r I``. Forward Euler with step ``dt`` gives
  ``v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r I[t]``; with ``tau = dt / (1 - lambda)``, ``r = tau / dt`` and
  ``v_leak = 0`` this is ``v[t] = lambda v[t-1] + I[t]``. ``tau`` and ``r`` are float64 arrays so that
  ``float32(1 - dt/tau)`` gives back the torch model's float32 lambda bit for bit.
* **Subtractive reset.** NIR only knows a hard reset to ``v_reset``. The STM's ``- v_th * o[t-1]`` is a recurrent
  edge: ``Threshold`` (``o = v > v_th``, strictly greater, as in torch) feeds ``Scale(-v_th)`` back into the LI's
  input, which sums it with the conv current. The loop carries the *previous* step's spike: in a NIR graph a
  cycle can only be evaluated with one step of delay, and nirtorch's interpreter does exactly that (it reads the
  recurrent input from the state of the previous call). So ``LI input = I[t] - v_th o[t-1]``, eq. (3) exactly.
* **Analog output.** The STM's output is the last layer's membrane: the last ``LI`` feeds ``Output`` directly.
* **dt** (not representable in NIR) is in ``graph.metadata["dt_s"]`` with the ``format`` tag and a JSON ``layout``
  (STM name, input shape, layer names in order) that :func:`neurocv.hardware.formats.stm_spec.load_stm_spec` reads.
* Parameters are full arrays of the neuron shape ``(C, H, W)`` (NIR's type check demands it), gzip-compressed.

Other readers: nirtorch's ``nir_to_torch`` reads every node given a map for LI/Threshold/Scale (nirtorch has no
defaults for neuron nodes; see tests/exporters/test_nir.py, exact to float32 rounding). norse 1.1.0's
``norse.torch.from_nir`` maps only Affine, Conv2d, Flatten, Linear, IF, LIF, CubaLIF and SumPool2d: it cannot read
``LI``, ``Threshold`` or ``Scale`` (its node map returns ``None`` for them), so it cannot run these graphs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .._io import atomic_path
from ..dynamics.kinds import KIND_NAMES, get_kind
from ..errors import ExportError
from ..hardware.formats.stm_spec import FORMAT, FORMAT_LIF, LIF_DT_S, STMLayerSpec, STMSpec, layer_shapes, load_stm_spec

__all__ = ["stm_to_spec", "spec_to_nir", "lif_spec_to_nir", "lif_tau_gain", "stm_to_nir", "write_stm_nir",
           "compare_graphs", "portability_note"]


def stm_to_spec(stm, input_shape: Sequence[int], dt_s: float = 1e-3, names: Sequence[str] | None = None,
                name: str = "stm") -> STMSpec:
    """The torch-free :class:`STMSpec` of a ``SpikingTemporalModulator`` (float32 weights and parameters)."""
    from ..models.stm import SpikingTemporalModulator

    if not isinstance(stm, SpikingTemporalModulator):
        raise ExportError(f"expected a SpikingTemporalModulator, got {type(stm).__name__} (only STMs go to NIR)")
    layers = list(stm.layers)
    names = list(names) if names is not None else [f"layers.{k}" for k in range(len(layers))]
    if len(names) != len(layers) or len(set(names)) != len(names):
        raise ExportError(f"need {len(layers)} distinct layer names, got {names}")
    specs = []
    for k, (lname, layer) in enumerate(zip(names, layers)):
        conv = layer.conv
        if conv.groups != 1 or tuple(conv.dilation) != (1, 1) or conv.stride[0] != conv.stride[1] \
                or conv.padding[0] != conv.padding[1] or isinstance(conv.padding, str):
            raise ExportError(f"layer {lname}: only square, ungrouped, undilated convs export "
                              f"(stride {conv.stride}, padding {conv.padding}, groups {conv.groups})")
        kind = getattr(layer, "kind", KIND_NAMES[0])
        if not get_kind(kind).fires:
            v_th, leak = math.inf, float(layer.neuron.leak().detach().float())
        else:
            p = layer.neuron.params()
            v_th, leak = float(p.v_th.detach().float()), float(p.leak.detach().float())
        bias = conv.bias.detach() if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
        specs.append(STMLayerSpec(name=lname, weight=conv.weight.detach().float().cpu().numpy().copy(),
                                  bias=bias.float().cpu().numpy().copy(), stride=int(conv.stride[0]),
                                  padding=int(conv.padding[0]), v_th=v_th, leak=leak,
                                  input="analog" if k == 0 else "spikes", neuron=kind))
    if get_kind(specs[0].neuron).portable:
        dt_s = LIF_DT_S      # the portable graphs are written for snnTorch's fixed dt (docs/nir.md)
    return STMSpec(name=name, input_shape=tuple(int(v) for v in input_shape), dt_s=float(dt_s), layers=tuple(specs))


def lif_tau_gain(leak: float, dt_s: float) -> tuple[float, float]:
    """``(tau_s, gain)`` of a NIR LIF/LI node with ``r = 1`` for the per-step leak ``lambda``: ``tau = dt / (1 -
    lambda)`` (float64, so that ``float32(1 - dt/tau)`` is ``lambda`` again) and the input gain ``dt/tau * r =
    1 - lambda`` that the folded weights ``W / (1 - lambda)`` undo."""
    lam = np.float64(np.float32(leak))
    tau = dt_s / (1.0 - lam)
    return float(tau), float(dt_s / tau)


def _conv_layers(nir, spec: STMSpec):
    """Per layer ``(layer, its neuron shape (C, H, W), conv)``, where ``conv(weight, bias)`` makes the layer's
    ``nir.Conv2d`` node (its input size, stride and padding): the part both graph formats share."""
    h, w = spec.input_shape[1:]
    for layer, shape in zip(spec.layers, layer_shapes(spec)):
        def conv(weight, bias, layer=layer, hw=(h, w)):
            return nir.Conv2d(input_shape=hw, weight=weight, stride=layer.stride, padding=layer.padding,
                              dilation=1, groups=1, bias=bias)
        yield layer, shape, conv
        h, w = shape[1:]


def lif_spec_to_nir(spec: STMSpec):
    """The portable NIR graph of a hardware-native STM (``spec.neuron == "lif"``): standard nodes only.

    ``Input -> name.conv (Conv2d) -> name.lif (LIF) -> ... -> last.conv -> last.lif (or last.li, LI) -> Output``;
    ``r = 1``, ``v_leak = v_reset = 0``, ``tau = dt / (1 - lambda)`` with ``dt`` = :data:`LIF_DT_S` and the conv
    weights and bias divided by ``1 - lambda`` (r folded into the weights: norse ignores ``r``). See docs/nir.md.
    """
    import nir

    nodes = {"input": nir.Input(input_type={"input": np.array(spec.input_shape)})}
    edges = []
    prev = "input"
    for layer, shape, conv in _conv_layers(nir, spec):
        n = layer.name
        tau, gain = lif_tau_gain(layer.leak, spec.dt_s)
        nodes[f"{n}.conv"] = conv((layer.weight.astype(np.float64) / gain).astype(np.float32),
                                  (layer.bias.astype(np.float64) / gain).astype(np.float32))
        common = dict(tau=np.full(shape, tau), r=np.ones(shape), v_leak=np.zeros(shape))
        kind = get_kind(layer.neuron)       # its NIR node: nir.LIF (fires, resets to 0) or nir.LI
        key = f"{n}.{kind.nir_suffix}"
        if kind.fires:
            common.update(v_threshold=np.full(shape, np.float64(np.float32(layer.v_th))), v_reset=np.zeros(shape))
        nodes[key] = getattr(nir, kind.nir_node)(**common)
        edges += [(prev, f"{n}.conv"), (f"{n}.conv", key)]
        prev = key
    nodes["output"] = nir.Output(output_type={"output": np.array(spec.output_shape)})
    edges.append((prev, "output"))
    layout = {"name": spec.name, "input_shape": list(spec.input_shape), "layers": [l.name for l in spec.layers],
              "neuron": "v' = lambda*v + I; o = v' > v_th; v = 0 if o else v' (lambda = 1 - dt/tau)",
              "output": spec.readout, "weights": "conv weight and bias divided by dt/tau (r = 1 folded in)",
              "delay": "none: the graph is evaluated once per time step, input to output"}
    meta = {"format": FORMAT_LIF, "dt_s": float(spec.dt_s), "reset": "zero", "layout": json.dumps(layout)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def spec_to_nir(spec: STMSpec):
    """The NIR graph of an :class:`STMSpec`: the paper's STM as the LI + Threshold + Scale loop (module docstring),
    a hardware-native one (``neuron="lif"``) as the portable Conv2d -> LIF chain of :func:`lif_spec_to_nir`."""
    import nir

    if not spec.dt_s > 0:
        raise ExportError(f"dt_s must be > 0, got {spec.dt_s}")
    if get_kind(spec.neuron).portable:
        return lif_spec_to_nir(spec)
    nodes = {"input": nir.Input(input_type={"input": np.array(spec.input_shape)})}
    edges = []
    prev = "input"
    for layer, shape, conv in _conv_layers(nir, spec):
        n = layer.name
        lam = np.float64(np.float32(layer.leak))
        tau = spec.dt_s / (1.0 - lam)
        v_th = np.float32(layer.v_th)
        nodes[f"{n}.conv"] = conv(layer.weight.astype(np.float32), layer.bias.astype(np.float32))
        nodes[f"{n}.li"] = nir.LI(tau=np.full(shape, tau), r=np.full(shape, tau / spec.dt_s),
                                  v_leak=np.zeros(shape))
        nodes[f"{n}.threshold"] = nir.Threshold(threshold=np.full(shape, v_th, np.float32))
        nodes[f"{n}.reset"] = nir.Scale(scale=np.full(shape, -v_th, np.float32))
        edges += [(prev, f"{n}.conv"), (f"{n}.conv", f"{n}.li"), (f"{n}.li", f"{n}.threshold"),
                  (f"{n}.threshold", f"{n}.reset"), (f"{n}.reset", f"{n}.li")]
        prev = f"{n}.threshold"
    last = spec.layers[-1].name
    nodes["output"] = nir.Output(output_type={"output": np.array(spec.output_shape)})
    edges.append((f"{last}.li", "output"))
    layout = {"name": spec.name, "input_shape": list(spec.input_shape), "layers": [l.name for l in spec.layers],
              "neuron": "u[t] = I[t] + lambda*u[t-1] - v_th*o[t-1]; o[t] = u[t] > v_th", "output": "membrane"}
    meta = {"format": FORMAT, "dt_s": float(spec.dt_s), "reset": "subtractive", "layout": json.dumps(layout)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def stm_to_nir(stm, input_shape: Sequence[int], dt_s: float = 1e-3, names: list[str] | None = None):
    """``SpikingTemporalModulator`` -> ``nir.NIRGraph`` for inputs ``(C, H, W)`` = ``input_shape``."""
    name = names[0].rsplit(".layers.", 1)[0].rsplit(".", 1)[-1] if names else "stm"
    return spec_to_nir(stm_to_spec(stm, input_shape, dt_s, names, name=name))


def compare_graphs(a, b) -> list[str]:
    """Differences between two NIR graphs (node names, types, every array parameter, edges, metadata); [] if equal."""
    problems = []
    if set(a.nodes) != set(b.nodes):
        problems.append(f"nodes differ: {sorted(set(a.nodes) ^ set(b.nodes))}")
    if {tuple(e) for e in a.edges} != {tuple(e) for e in b.edges}:
        problems.append("edges differ")
    for key in set(a.nodes) & set(b.nodes):
        na, nb = a.nodes[key], b.nodes[key]
        if type(na) is not type(nb):
            problems.append(f"{key}: {type(na).__name__} vs {type(nb).__name__}")
            continue
        da, db = na.to_dict(), nb.to_dict()
        for field in sorted(set(da) | set(db)):
            if field in ("metadata", "type"):
                continue
            va, vb = da.get(field), db.get(field)
            if va is None or vb is None:
                if (va is None) != (vb is None):
                    problems.append(f"{key}.{field}: present in one graph only")
                continue
            va, vb = np.asarray(va), np.asarray(vb)
            if va.shape != vb.shape or not np.array_equal(va, vb):
                problems.append(f"{key}.{field}: arrays differ")
    for k in ("format", "dt_s", "layout", "reset"):
        if str(a.metadata.get(k)) != str(b.metadata.get(k)):
            problems.append(f"metadata {k}: {a.metadata.get(k)!r} vs {b.metadata.get(k)!r}")
    return problems


def portability_note(spec: STMSpec, file_name: str) -> str:
    """One line: which tools read the NIR file of ``spec``, and for the paper's STM how to get a portable one."""
    if not get_kind(spec.neuron).portable:
        return (f"{file_name}: the paper's STM (subtractive reset, analog membrane) as LI + Threshold + Scale: only "
                f"nirtorch reads it (node map neurocv.exporters.nir_check.nirtorch_node_map); for a file norse, "
                f"snnTorch and Loihi (netx) read, train with --set neuron=lif")
    if spec.readout == "li":
        return (f"{file_name}: Conv2d -> LIF with an LI readout, dt {spec.dt_s:g} s: nirtorch reads it; norse and "
                f"snnTorch have no LI node (train with lif_readout=spikes for them)")
    note = (f"{file_name}: standard Conv2d -> LIF graph, dt {spec.dt_s:g} s (docs/nir.md): norse, snnTorch and "
            f"nirtorch read it unmodified")
    if not all(_pow2_gain(layer.leak) for layer in spec.layers):
        note += ("; a free leak (lif_leak=free): the folded weights round in float32, so a membrane at the threshold "
                 "can differ by a spike (the default lif_leak=pow2 folds exactly)")
    return note


def _pow2_gain(leak: float) -> bool:
    """Whether ``1 - leak`` (float32) is a power of two: NIR's gain ``dt/tau`` then folds into weights exactly."""
    gain = 1.0 - float(np.float32(leak))
    return gain > 0 and math.frexp(gain)[0] == 0.5


def write_stm_nir(stm, path: str | Path, input_shape: Sequence[int], dt_s: float = 1e-3,
                  names: list[str] | None = None, report: dict | None = None, check_steps: int = 8):
    """Export ``stm`` to ``path`` (atomically), read it back with ``nir.read`` and check every array and edge
    against the graph in memory, then rebuild its :class:`STMSpec` with ``load_stm_spec``. Returns the graph;
    raises :class:`ExportError` on any mismatch.

    For a hardware-native STM (``neuron="lif"``) the file is also loaded, unmodified, in norse, snnTorch and
    nirtorch (:func:`~.nir_check.check_libraries`) and run on a seeded random clip of ``check_steps`` steps: every
    layer's spikes must equal the model's (:class:`ExportError` otherwise). ``report``, if given, receives
    ``"portability"`` (:func:`portability_note`) and ``"libraries"`` (one row per library, or ``[]``)."""
    import nir

    graph = stm_to_nir(stm, input_shape, dt_s, names)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
        try:
            back = nir.read(tmp)
        except Exception as e:
            raise ExportError(f"{path}: written NIR graph does not read back ({type(e).__name__}: {e})") from e
        problems = compare_graphs(graph, back)
        if problems:
            raise ExportError(f"{path}: NIR round trip differs: {'; '.join(problems[:5])}")
        rows = []
        spec = stm_to_spec(stm, input_shape, dt_s, names, name=json.loads(graph.metadata["layout"])["name"])
        if get_kind(spec.neuron).portable:
            from .nir_check import check_libraries

            x = np.random.default_rng(0).standard_normal((check_steps, *spec.input_shape)).astype(np.float32)
            rows = check_libraries(tmp, spec, x, require=True)
    load_stm_spec(path)   # the spec the Lava worker will build from must parse too
    if report is not None:
        report["portability"] = portability_note(spec, path.name)
        report["libraries"] = rows
    return graph
