"""Exact per-layer operation counts.

Two measurements, both per layer (the torch module's qualified name):

* :func:`count_ops` - every convolution, linear layer and matmul, attention included, counted from the aten ops
  a forward pass dispatches (a ``TorchDispatchMode``, like ``torch.utils.flop_counter``), attributed to the module
  that issued them. Shapes alone decide these counts, so the pass runs on the ``meta`` device: no arithmetic.
  ``MACs`` of a convolution = ``out.numel() * C_in/groups * prod(kernel)``; of ``(n, k) @ (k, m)`` = ``n*k*m``;
  of attention (``F.scaled_dot_product_attention``, fused or decomposed) = ``B*H*L*S*(E + E_v)``: ``QK^T`` plus
  ``AV``. Bias adds, norms, activations, softmax, pooling and resampling are not counted (the paper's convention).
* :func:`measure_stm` - the Spiking Temporal Modulators run for real on sample inputs; every :class:`ConvLIF` is
  observed step by step. A layer fed analog values (the first, fed MVs / residuals) costs dense MACs,
  ``C_out * C_in * k * k * H_out * W_out`` per step; a layer fed binary spikes ``s (C_in, H, W)`` costs synaptic
  operations (ACs) ``C_out * conv2d(s, ones(1, C_in, k, k), stride, padding).sum()`` per step - each spike times
  its exact, border-aware fan-out. ``spikes`` = spikes emitted, ``neuron_updates`` = neurons x steps.

Two conventions side by side. ``macs`` / ``dense_macs`` are *dense*: every weight x every input position, zero
inputs and zero-padding positions included (the paper's Table 1 convention). ``effective_macs`` / ``effective_acs``
skip every product with a zero operand and never count padding: for a conv, ``conv(x != 0, w != 0).sum()``; for
``(n, k) @ (k, m)``, ``sum_k nnz(a[:, k]) * nnz(b[k, :])``; for attention, the same for ``QK^T`` plus
``L * nnz(V)`` for ``AV`` (softmax weights are never zero). An op is *effective MACs* when its input is analog and
*effective ACs* when it is binary (spikes). This is NeuroBench's ``SynapticOperations`` definition (Effective_MACs /
Effective_ACs); tests/energy/test_neurobench.py checks the two agree exactly on the same model and clip. Effective
counts need real values, so :func:`count_ops` computes them only with ``effective=True`` on a real device.

Counts are per video (one clip of T segments, one crop; the mean over the sample videos). ``mem_values`` /
``mem_spikes`` count the operands each counted op reads and the result it writes (weights, activations; spikes
as single bits), each once: the basis of the optional memory column of the report.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["LayerCount", "count_ops", "measure_stm", "stm_layers", "ann_counts"]

aten = torch.ops.aten


@dataclass
class LayerCount:
    """Operations of one layer for one view (``views``: how many views of it one video takes).

    ``macs``: multiply-accumulates on real-valued inputs; ``acs``: accumulates triggered by binary spikes;
    ``dense_macs``: what the layer would cost as a dense ANN layer (equal to ``macs`` unless fed spikes).
    ``effective_macs`` / ``effective_acs``: the same layer with zero operands skipped and padding not counted
    (see the module doc); ``None`` where not measured (a baseline card, a runtime's ops file).
    """

    name: str
    partition: str = "ann"            # "ann" | "spiking"
    kind: str = "conv"                # conv | linear | attention | matmul | conv-lif | onnx
    input: str = "analog"             # "analog" | "spikes"
    params: int = 0
    macs: float = 0.0
    acs: float = 0.0
    dense_macs: float = 0.0
    spikes: float = 0.0
    neurons: int = 0
    neuron_updates: float = 0.0
    mem_values: float = 0.0           # real values read + written (weights, activations)
    mem_spikes: float = 0.0           # binary values read + written
    calls: int = 0                    # op invocations per view (e.g. T for a layer run once per step)
    views: float = 1.0
    effective_macs: float | None = None   # zero operands skipped, padding not counted (NeuroBench Effective_MACs)
    effective_acs: float | None = None    # the same for spike-driven ops (NeuroBench Effective_ACs)
    precision: str = "float"          # "float" | "int8": an int8 deployment's quantized layers (priced int8)

    @property
    def firing_rate(self) -> float | None:
        """Spikes per neuron update, in [0, 1]; None for a layer without neurons."""
        return self.spikes / self.neuron_updates if self.neuron_updates else None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["firing_rate"] = self.firing_rate
        return d


# -- aten-level op counting --------------------------------------------------------------------------------------

def _numel(x) -> int:
    return x.numel() if isinstance(x, torch.Tensor) else 0


def _conv(args, out):
    x, w = args[0], args[1]
    transposed = bool(args[6]) if len(args) > 6 else False
    per = w.shape[1] * math.prod(w.shape[2:])
    return (x.numel() if transposed else out.numel()) * per, "conv"


def _mm(args, out):
    a, b = args[-2], args[-1]
    return a.shape[0] * a.shape[1] * b.shape[1], "matmul"


def _bmm(args, out):
    a, b = args[-2], args[-1]
    return a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2], "matmul"


def _sdpa(args, out):
    q, k, v = args[:3]
    lead = math.prod(q.shape[:-2])
    return lead * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1]), "attention"


def effective_conv(x: torch.Tensor, w: torch.Tensor, stride=1, padding=0, dilation=1, groups: int = 1) -> float:
    """Products of a convolution whose input and weight are both non-zero, padding positions excluded:
    ``conv(x != 0, w != 0).sum()`` (bias not counted). ``x (N, C_in, *spatial)``, ``w (C_out, C_in/g, *k)``."""
    xb = (x != 0).to(torch.float32)
    conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.dim()]
    if groups == 1 and bool((w != 0).all()):
        # every weight is non-zero: count the non-zero inputs inside each receptive field, once, times C_out
        ones = xb.new_ones(1, 1, *w.shape[2:])
        rf = conv(xb.sum(1, keepdim=True), ones, None, stride, padding, dilation)
        return float(rf.sum(dtype=torch.float64)) * w.shape[0]
    out = conv(xb, (w != 0).to(torch.float32), None, stride, padding, dilation, groups)
    return float(out.sum(dtype=torch.float64))


def _nnz_dot(a_counts: torch.Tensor, b_counts: torch.Tensor) -> float:
    return float((a_counts.to(torch.float64) * b_counts.to(torch.float64)).sum())


def _eff_conv(args, out):
    if len(args) > 6 and bool(args[6]):
        return None                                  # transposed: no effective count (never in our models)
    return effective_conv(args[0], args[1], args[3], args[4], args[5], args[8] if len(args) > 8 else 1)


def _eff_mm(args, out):
    a, b = args[-2], args[-1]
    return _nnz_dot((a != 0).sum(0), (b != 0).sum(1))


def _eff_bmm(args, out):
    a, b = args[-2], args[-1]
    return _nnz_dot((a != 0).sum(1), (b != 0).sum(2))


def _eff_sdpa(args, out):
    q, k, v = args[:3]
    qk = _nnz_dot((q != 0).sum(-2), (k != 0).sum(-2))
    return qk + float((v != 0).sum(dtype=torch.float64)) * q.shape[-2]


def _is_spikes(x: torch.Tensor) -> bool:
    """Binary (or ternary) input: every value in {-1, 0, 1}, NeuroBench's test for a spike-driven op."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


_EFFECTIVE: dict[Callable, Callable] = {}

_HANDLERS: dict[Any, Callable] = {aten.convolution: _conv, aten.mm: _mm, aten.addmm: _mm, aten.bmm: _bmm,
                                  aten.baddbmm: _bmm}
for _n in ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
           "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
           "_scaled_dot_product_fused_attention_overrideable", "_scaled_dot_product_attention_math_for_mps"):
    if hasattr(aten, _n):
        _HANDLERS[getattr(aten, _n)] = _sdpa
_EFFECTIVE.update({_conv: _eff_conv, _mm: _eff_mm, _bmm: _eff_bmm, _sdpa: _eff_sdpa})


class _InAttention(TorchFunctionMode):
    """Flags the aten ops that ``F.scaled_dot_product_attention`` decomposes into (math path: two bmm)."""

    def __init__(self):
        super().__init__()
        self.depth = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.scaled_dot_product_attention:
            self.depth += 1
            try:
                return func(*args, **(kwargs or {}))
            finally:
                self.depth -= 1
        return func(*args, **(kwargs or {}))


class _Counter(TorchDispatchMode):
    def __init__(self, stack: list[str], records: dict[str, LayerCount], kinds: dict[str, str], attn: _InAttention,
                 effective: bool = False):
        super().__init__()
        self.stack, self.records, self.kinds, self.attn = stack, records, kinds, attn
        self.effective = effective
        self.unknown: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        handler = _HANDLERS.get(func.overloadpacket)
        if handler is not None:
            macs, kind = handler(args, out)
            if self.attn.depth:
                kind = "attention"
            name = self.stack[-1]
            rec = self.records.get(name)
            if rec is None:
                module_kind = self.kinds.get(name)
                rec = self.records[name] = LayerCount(name, kind=module_kind or kind)
            elif kind == "attention":
                rec.kind = "attention"
            rec.macs += macs
            rec.dense_macs += macs
            if self.effective and name not in self.unknown:
                eff = _EFFECTIVE[handler](args, out)
                if eff is None:                          # one uncountable op: the layer's count is unknown
                    self.unknown.add(name)
                    rec.effective_macs = rec.effective_acs = None
                else:
                    x = args[-2] if handler in (_mm, _bmm) else args[0]
                    spikes = _is_spikes(x)
                    rec.effective_macs = (rec.effective_macs or 0.0) + (0.0 if spikes else eff)
                    rec.effective_acs = (rec.effective_acs or 0.0) + (eff if spikes else 0.0)
            rec.mem_values += sum(_numel(a) for a in args) + _numel(out if isinstance(out, torch.Tensor)
                                                                     else out[0])
            rec.calls += 1
        return out


def count_ops(root: nn.Module, fn: Callable[[], Any], prefix: str = "", effective: bool = False) -> list[LayerCount]:
    """Run ``fn()`` (a forward pass through ``root``, typically on the ``meta`` device) and return the MACs of
    every conv / linear / matmul / attention op per issuing module, in order of first use. With ``effective``
    (a real device, real inputs) also ``effective_macs`` / ``effective_acs`` (see the module doc).

    Ops issued by a module's own ``forward`` (not by a child) go to that module: a ``Linear`` -> kind ``linear``,
    attention inside an ``Attention`` module -> that module's name with kind ``attention``. ``params`` are the
    module's own parameters (``recurse=False``)."""
    names = {m: n for n, m in root.named_modules()}
    stack = [prefix.rstrip(".") or "<root>"]
    kinds = {}
    for m, n in names.items():
        key = f"{prefix}{n}" if n else stack[0]
        kinds[key] = ("linear" if isinstance(m, nn.Linear) else "conv" if isinstance(m, nn.modules.conv._ConvNd)
                      else "attention" if "Attention" in type(m).__name__ else "")
    records: dict[str, LayerCount] = {}
    handles = []
    for m, n in names.items():
        key = f"{prefix}{n}" if n else stack[0]
        handles.append(m.register_forward_pre_hook(lambda mod, inp, key=key: stack.append(key)))
        handles.append(m.register_forward_hook(lambda mod, inp, out: stack.pop() and None))
    try:
        attn = _InAttention()
        with torch.no_grad(), attn, _Counter(stack, records, kinds, attn, effective):
            fn()
    finally:
        for h in handles:
            h.remove()
    by_name = {(f"{prefix}{n}" if n else stack[0]): m for m, n in names.items()}
    for rec in records.values():
        mod = by_name.get(rec.name)
        if mod is not None:
            rec.params = sum(p.numel() for p in mod.parameters(recurse=False))
    return list(records.values())


# -- spiking layers, measured --------------------------------------------------------------------------------------

def stm_layers(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """``(qualified name, ConvLIF, "analog"|"spikes")`` for every Conv-LIF layer: the first layer of a
    :class:`~neurocv.models.stm.SpikingTemporalModulator` is fed analog input, the others its spikes."""
    from .stm import SpikingTemporalModulator

    out = []
    for name, m in model.named_modules():
        if isinstance(m, SpikingTemporalModulator):
            for k, layer in enumerate(m.layers):
                out.append((f"{name}.layers.{k}" if name else f"layers.{k}", layer, "analog" if k == 0 else "spikes"))
    return out


def _fan_in_counts(s: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``(N, C_in, H, W)`` binary -> ``(N,)``: sum over output positions and channels of the spikes inside each
    position's receptive field (``C_out * conv2d(s, ones)``, zero padding contributing nothing)."""
    if conv.groups == 1:
        ones = s.new_ones(1, 1, *conv.kernel_size)
        rf = F.conv2d(s.sum(1, keepdim=True), ones, None, conv.stride, conv.padding, conv.dilation)
        return rf.flatten(1).sum(1) * conv.out_channels
    ones = s.new_ones(conv.out_channels, conv.in_channels // conv.groups, *conv.kernel_size)
    return F.conv2d(s, ones, None, conv.stride, conv.padding, conv.dilation, conv.groups).flatten(1).sum(1)


def measure_stm(model: nn.Module, run: Callable[[], Any]) -> list[LayerCount]:
    """Observe every Conv-LIF layer of ``model`` while ``run()`` performs a real forward pass (e.g.
    ``lambda: model.spiking_forward(mvs, residuals)`` on a batch of B clips) and return per-video counts, the mean
    over the B clips. Raises ``ValueError`` if a layer counted as spike-driven receives a non-binary input."""
    layers = stm_layers(model)
    acc = {name: LayerCount(name, partition="spiking", kind="conv-lif", input=kind,
                            params=sum(p.numel() for p in layer.parameters()), effective_macs=0.0, effective_acs=0.0)
           for name, layer, kind in layers}
    batch = []

    def hook(name, layer, kind):
        conv = layer.conv
        w_values = conv.weight.numel() + (conv.bias.numel() if conv.bias is not None else 0)
        per_out = conv.in_channels // conv.groups * math.prod(conv.kernel_size)

        def fn(mod, inputs, output):
            x = inputs[0]
            u, state = output
            rec = acc[name]
            n = x.shape[0]
            batch.append(n)
            out_elems = u[0].numel()
            rec.neurons = out_elems
            rec.neuron_updates += out_elems * n
            rec.spikes += float(state.o.sum())
            rec.dense_macs += out_elems * per_out * n
            rec.calls += n
            eff = effective_conv(x, conv.weight, conv.stride, conv.padding, conv.dilation, conv.groups)
            if _is_spikes(x):
                rec.effective_acs += eff
            else:
                rec.effective_macs += eff
            if kind == "analog":
                rec.macs += out_elems * per_out * n
                rec.mem_values += (x.numel() + w_values * n + u.numel())
            else:
                if not bool(((x == 0) | (x == 1)).all()):
                    raise ValueError(f"{name}: expected binary spikes as input, found values outside {{0, 1}}")
                rec.acs += float(_fan_in_counts(x, conv).sum())
                rec.mem_spikes += x.numel()
                rec.mem_values += w_values * n + u.numel()
            rec.mem_spikes += state.o.numel()
        return fn

    handles = [layer.register_forward_hook(hook(n, layer, k)) for n, layer, k in layers]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    if not layers:
        return []
    clips = batch[0] if batch else 1
    for rec in acc.values():
        for f in ("macs", "acs", "dense_macs", "spikes", "neuron_updates", "mem_values", "mem_spikes",
                  "effective_macs", "effective_acs"):
            setattr(rec, f, getattr(rec, f) / clips)
        rec.calls //= clips
    return list(acc.values())


def ann_counts(model: nn.Module, segments: int, size: tuple[int, int]) -> list[LayerCount]:
    """Dense per-layer counts of one clip (``segments`` triplets at ``size``) through ``model``'s whole forward pass,
    counted on the ``meta`` device (no memory, no arithmetic): a copy of the network is built there from its config."""
    with torch.device("meta"):
        meta = type(model)(model.config)
    x = {k: torch.zeros(1, segments, c, *size, device="meta") for k, c in (("i", 3), ("mv", 2), ("r", 3))}
    meta.eval()
    return count_ops(meta, lambda: meta(x["i"], x["mv"], x["r"]))
