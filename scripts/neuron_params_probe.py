"""How far the learned STM parameters move, measured against what they could do.

For each run directory (``last.pt`` and the seed / overrides it was trained with) the probe rebuilds the model as
training initialised it (same seed, same overrides) and reports, per STM layer:

- ``v_th`` and ``lambda`` at the start and the end (the values the forward pass uses);
- the RMS of the layer's convolution weights at the start and the end, and the **relative threshold**
  ``v_th / rms(W)``: with a subtractive reset, scaling a layer's ``W``, bias and ``v_th`` by the same factor scales its
  membrane by that factor and leaves every spike unchanged, so ``v_th`` alone says nothing about how readily the
  layer fires; ``v_th / rms(W)`` does;
- the spike rate on a few training clips (test-time view) at the start and the end;
- at the start and at the end, for the raw parameters (``raw_v_th``, ``raw_leak``) and the convolution weights, the
  consistency of the gradient over ``--batches`` batches, ``|mean g| / rms g`` (1: every batch pushes the same way,
  Adam then steps ``lr`` each step; about ``1/sqrt(batches)``: the pushes cancel, Adam's steps do too).

Writes a JSON report (``--out``) and prints a table. One thread: a minute or two for three runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F


def _stm_layers(model) -> dict:
    """``{name: ConvLIF-like module}`` for every STM layer (a module with ``.conv`` and ``.neuron``)."""
    return {n: m for n, m in model.named_modules() if hasattr(m, "conv") and hasattr(m, "neuron")}


def _batches(ds, order, batch_size):
    from neurocv.training.distributed import _collate     # the training loader's own batching

    for s in range(0, len(order), batch_size):
        b = _collate([ds[i] for i in order[s:s + batch_size]])
        yield b, b["label"]


def _layer_state(model, ds, order, batch_size) -> dict:
    """v_th, lambda, weight RMS, relative threshold and spike rate of every STM layer."""
    rates: dict[str, list[float]] = {}
    hooks = []
    for name, layer in _stm_layers(model).items():
        def hook(_m, _inp, out, name=name):
            rates.setdefault(name, []).append(out[1].o.detach().float().mean().item())
        hooks.append(layer.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        for b, _ in _batches(ds, order, batch_size):
            model(b["iframes"], b["mvs"], b["residuals"])
    for h in hooks:
        h.remove()
    from neurocv.training.loop import neuron_params      # what metrics.json logs: v_th/<layer>, lambda/<layer>

    params = neuron_params(model)
    out = {}
    for name, layer in _stm_layers(model).items():
        w_rms = layer.conv.weight.detach().pow(2).mean().sqrt().item()
        row = {"w_rms": w_rms, "spike_rate": sum(rates.get(name, [0.0])) / max(1, len(rates.get(name, [])))}
        if f"v_th/{name}" in params:
            v_th = params[f"v_th/{name}"]
            row.update({"v_th": v_th, "lambda": params[f"lambda/{name}"], "rel_threshold": v_th / w_rms})
        out[name] = row
    return out


def _grad_consistency(model, ds, order, batch_size) -> dict:
    """``|mean g| / rms g`` over batches for raw_v_th, raw_leak and the conv weights of every STM layer."""
    model.train()
    grads: dict[str, list[torch.Tensor]] = {}
    for b, y in _batches(ds, order, batch_size):
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(b["iframes"], b["mvs"], b["residuals"]), y)
        aux = getattr(model, "aux_logits", None)
        if aux:
            loss = loss + model.config.aux_loss * sum(F.cross_entropy(a, y) for a in aux.values()) / len(aux)
        loss.backward()
        for name, layer in _stm_layers(model).items():
            for pname in ("raw_v_th", "raw_leak"):
                t = getattr(layer.neuron, pname, None)
                if isinstance(t, torch.nn.Parameter) and t.grad is not None:
                    grads.setdefault(f"{name}.{pname}", []).append(t.grad.detach().clone())
            grads.setdefault(f"{name}.conv.weight", []).append(layer.conv.weight.grad.detach().clone())
    out = {}
    for k, gs in grads.items():
        g = torch.stack(gs)                          # (batches, ...)
        ratio = g.mean(0).abs() / g.pow(2).mean(0).sqrt().clamp_min(1e-30)
        out[k] = {"consistency": ratio.mean().item(), "grad_rms": g.pow(2).mean().sqrt().item()}
    return out


def probe(run: Path, data: Path, batches: int, batch_size: int, clips: int) -> dict:
    from neurocv.checkpoint import build_model_from_checkpoint, load_checkpoint
    from neurocv.data import CompressedVideoDataset
    from neurocv.models import create_model

    ckpt = load_checkpoint(run / "last.pt")
    tc = ckpt.get("train_config", {})
    seed = int(tc.get("seed", 0))
    overrides = dict(tuple(kv) for kv in tc.get("model_overrides", []))
    torch.manual_seed(seed)                         # as train() does before building the model
    start = create_model(ckpt["model"], num_classes=len(ckpt["classes"]), **overrides)
    end = build_model_from_checkpoint(ckpt)
    ds = CompressedVideoDataset(data, "train", tc.get("segments", 8), tc.get("crop", 112),
                                accumulate=tc.get("accumulate", True), train=False)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(ds), generator=g).tolist()
    grad_order = order[:batches * batch_size]
    state_order = order[:clips]
    report = {"run": str(run), "seed": seed, "epochs": ckpt.get("epoch", -1) + 1, "layers": {}}
    s0, s1 = _layer_state(start, ds, state_order, batch_size), _layer_state(end, ds, state_order, batch_size)
    torch.manual_seed(seed)
    g0 = _grad_consistency(start, ds, grad_order, batch_size)
    torch.manual_seed(seed)
    g1 = _grad_consistency(end, ds, grad_order, batch_size)
    for name in s0:
        report["layers"][name] = {"start": s0[name], "end": s1[name],
                                  "grad_start": {k.split(name + ".", 1)[1]: v for k, v in g0.items()
                                                 if k.startswith(name + ".")},
                                  "grad_end": {k.split(name + ".", 1)[1]: v for k, v in g1.items()
                                               if k.startswith(name + ".")}}
    return report


def _pct(a: float, b: float) -> str:
    return f"{(b - a) / a * 100:+.1f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="run directories (each with last.pt)")
    ap.add_argument("--data", type=Path, required=True, help="the dataset the runs trained on")
    ap.add_argument("--batches", type=int, default=8, help="batches for the gradient consistency (default 8)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--clips", type=int, default=16, help="training clips for the spike rates (default 16)")
    ap.add_argument("--out", type=Path, default=None, help="JSON report")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    reports = []
    for run in args.runs:
        if not (run / "last.pt").is_file():
            sys.exit(f"error: {run}: no last.pt")
        from neurocv.errors import NeuroCVError

        try:
            rep = probe(run, args.data, args.batches, args.batch_size, args.clips)
        except NeuroCVError as e:
            sys.exit(f"error: {e}")
        reports.append(rep)
        print(f"{run} (seed {rep['seed']}, {rep['epochs']} epochs)")
        print("  layer                    v_th start->end     lambda start->end   rms(W) change  v_th/rms(W) change"
              "  spike rate start->end  grad consistency v_th/leak/W (start; end)")
        for name, L in rep["layers"].items():
            a, b = L["start"], L["end"]
            gs, ge = L["grad_start"], L["grad_end"]
            cons = lambda d: "/".join(f"{d[k]['consistency']:.2f}" if k in d else "-"  # noqa: E731
                                      for k in ("raw_v_th", "raw_leak", "conv.weight"))
            if "v_th" in a:
                print(f"  {name:24s} {a['v_th']:.4f}->{b['v_th']:.4f}  {a['lambda']:.4f}->{b['lambda']:.4f}  "
                      f"{_pct(a['w_rms'], b['w_rms']):>12s}  {_pct(a['rel_threshold'], b['rel_threshold']):>12s}  "
                      f"{a['spike_rate']:.3f}->{b['spike_rate']:.3f}  {cons(gs)}; {cons(ge)}")
    if args.out:
        from neurocv._io import atomic_open

        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(args.out, "w") as fh:
            json.dump(reports, fh, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; nothing written")
