"""Why a model under-learns: fit a small training subset and record what each block does (docs/learning.md).

Trains one configuration on the first ``--clips`` training clips of DATA (balanced over classes) with the same
dataset, augmentation, optimizer and schedule as ``neurocv train`` (or the ones given here), and writes one JSON
report with, per epoch:

* ``fit_top1``: top-1 on the fitted clips in test mode (centre crop, no augmentation): can the model fit them?
* ``train_top1`` (the augmented batches), ``val_top1`` on the test split (``--val N`` clips, 0 to skip);
* per block (encoder blocks, embeddings, STMs, mixer, head): mean gradient norm and mean update size
  ``|delta w| / |w|`` per optimizer step;
* per modality: RMS of its patch tokens (before the position encodings) and of the position encodings; per STM
  layer: spike rate and RMS of the membrane handed on.

    .venv/bin/python scripts/diagnose_learning.py DATA --modalities i --clips 48 --epochs 30 --out run.json \
        [--set KEY=VALUE ...] [--lr 1e-3] [--no-augment] [--seed 0]

Runs on one thread (``OMP_NUM_THREADS=1``) so two can share the machine's two cores.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parse_sets(items: list[str]) -> dict:
    out = {}
    for kv in items:
        k, _, v = kv.partition("=")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def _block_of(name: str) -> str:
    parts = name.split(".")
    if parts[0] in ("encoder", "mixer") and len(parts) > 2 and parts[1] in ("blocks", "folds"):
        return ".".join(parts[:3])
    if parts[0] in ("temporal", "embed") and len(parts) > 1:
        if parts[0] == "temporal" and len(parts) > 3 and parts[2] == "layers":
            return ".".join(parts[:4])
        return ".".join(parts[:2])
    if parts[0] == "mixer":
        return ".".join(parts[:2])
    return parts[0]


def _balanced(videos, n: int, seed: int) -> list[int]:
    by_class = defaultdict(list)
    for i, (_, label) in enumerate(videos.items):
        by_class[label].append(i)
    g = torch.Generator().manual_seed(seed)
    per = max(1, n // len(by_class))
    picked = []
    for label in sorted(by_class):
        idx = by_class[label]
        order = torch.randperm(len(idx), generator=g).tolist()
        picked += [idx[k] for k in order[:per]]
    return sorted(picked)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--model", default="stm-tiny")
    ap.add_argument("--modalities", default="i,mv,r")
    ap.add_argument("--clips", type=int, default=48, help="training clips fitted (balanced over classes); 0: all")
    ap.add_argument("--val", type=int, default=0, help="test-split clips scored each epoch (0: none, -1: all)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--eps", type=float, default=None)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--warmup", type=float, default=None, help="warm-up epochs")
    ap.add_argument("--no-augment", action="store_true", help="train on centre crops (the test transform)")
    ap.add_argument("--set", action="append", default=[], help="model override KEY=VALUE (repeatable)")
    ap.add_argument("--factor", choices=("class", "what", "how"), default="class",
                    help="labels: the class (default), or only its texture (what) or its motion (how) on the "
                    "appearance-and-motion set (classes <what>_<how>)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    from neurocv.data import CompressedVideoDataset
    from neurocv.models import create_model
    from neurocv.training.loop import TrainConfig, _lr_lambda, default_optimizer, make_optimizer

    tc = TrainConfig(model=args.model)
    lr0, eps0 = default_optimizer(args.model)
    lr = args.lr if args.lr is not None else lr0
    eps = args.eps if args.eps is not None else eps0
    wd = args.weight_decay if args.weight_decay is not None else tc.weight_decay
    warm = args.warmup if args.warmup is not None else tc.warmup_epochs
    train_aug = CompressedVideoDataset(args.data, "train", tc.segments, tc.crop, train=not args.no_augment)
    train_eval = CompressedVideoDataset(args.data, "train", tc.segments, tc.crop, train=False)
    test = CompressedVideoDataset(args.data, "test", tc.segments, tc.crop, train=False)
    idx = _balanced(train_aug.videos, args.clips, args.seed) if args.clips else list(range(len(train_aug)))
    val_idx = [] if args.val == 0 else (list(range(len(test))) if args.val < 0 else
                                        _balanced(test.videos, args.val, args.seed))
    relabel, n_classes = None, len(train_aug.classes)
    if args.factor != "class":
        part = 0 if args.factor == "what" else 1
        values = sorted({c.split("_")[part] for c in train_aug.classes})
        relabel = [values.index(c.split("_")[part]) for c in train_aug.classes]
        n_classes = len(values)
    overrides = {"modalities": args.modalities, **_parse_sets(args.set)}
    torch.manual_seed(args.seed)
    model = create_model(args.model, num_classes=n_classes, **overrides)
    opt = make_optimizer(model, lr=lr, eps=eps, weight_decay=wd)
    steps_per_epoch = math.ceil(len(idx) / args.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(args.epochs * steps_per_epoch,
                                                              max(1, int(warm * steps_per_epoch))))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = dict(model.named_parameters())
    blocks = sorted({_block_of(n) for n in names})

    # token / STM statistics through hooks, collected on the fitted clips in test mode
    stats: dict[str, list[float]] = defaultdict(list)

    def embed_hook(k):
        def f(_m, _inp, out):
            stats[f"tokens_rms.{k}"].append(out.detach().pow(2).mean().sqrt().item())
        return f

    for k, m in model.embed.items():
        m.register_forward_hook(embed_hook(k))

    def stm_hook(key, li):
        def f(_m, _inp, out):
            y, st = out
            stats[f"stm.{key}.{li}.spike_rate"].append(st.o.detach().float().mean().item())
            stats[f"stm.{key}.{li}.out_rms"].append(y.detach().float().pow(2).mean().sqrt().item())
        return f

    for key, tm in model.temporal.items():
        for li, layer in enumerate(getattr(tm, "layers", [])):
            layer.register_forward_hook(stm_hook(key, li))

    def batches(ds, order):
        for s in range(0, len(order), args.batch_size):
            items = [ds[i] for i in order[s:s + args.batch_size]]
            yield ({k: torch.stack([it[k] for it in items]) for k in ("iframes", "mvs", "residuals")},
                   torch.tensor([it["label"] if relabel is None else relabel[it["label"]] for it in items]))

    @torch.no_grad()
    def score(ds, order):
        model.eval()
        correct = 0
        for b, y in batches(ds, order):
            correct += (model(b["iframes"], b["mvs"], b["residuals"]).argmax(1) == y).sum().item()
        return correct / max(1, len(order))

    def snapshot_stats():
        stats.clear()
        model.eval()
        with torch.no_grad():
            for b, _ in batches(train_eval, idx[:16]):
                model(b["iframes"], b["mvs"], b["residuals"])
        out = {k: sum(v) / len(v) for k, v in stats.items()}
        out["pos_rms.spatial"] = model.pos.spatial.detach().pow(2).mean().sqrt().item()
        out["pos_rms.modality"] = model.pos.modality.detach().pow(2).mean().sqrt().item()
        for key, tm in model.temporal.items():
            for li, layer in enumerate(getattr(tm, "layers", [])):
                n = layer.neuron
                if hasattr(n, "params"):
                    p = n.params()
                    out[f"stm.{key}.{li}.v_th"] = float(p.v_th)
                    out[f"stm.{key}.{li}.leak"] = float(p.leak)
        stats.clear()
        return out

    report = {"args": {k: str(v) for k, v in vars(args).items()}, "lr": lr, "eps": eps, "weight_decay": wd,
              "warmup_epochs": warm, "overrides": overrides, "clips": len(idx), "params": sum(p.numel() for p in
              model.parameters()), "init_stats": snapshot_stats(), "epochs": []}
    report["init_fit_top1"] = score(train_eval, idx)
    t_start = time.perf_counter()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        order = [idx[k] for k in torch.randperm(len(idx), generator=g).tolist()]
        torch.manual_seed(args.seed * 1000 + epoch)
        gnorm, upd = defaultdict(float), defaultdict(float)
        n_steps, loss_sum, correct = 0, 0.0, 0
        model.train()
        for b, y in batches(train_aug, order):
            logits = model(b["iframes"], b["mvs"], b["residuals"])
            loss = F.cross_entropy(logits, y)
            aux = getattr(model, "aux_logits", None)
            if aux:                         # the probes' loss, as the training loop adds it (ModelConfig.aux_loss)
                loss = loss + model.config.aux_loss * sum(F.cross_entropy(a, y) for a in aux.values()) / len(aux)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            before = {n: params[n].detach().clone() for n in names}
            sq = defaultdict(float)
            for n in names:
                if params[n].grad is not None:
                    sq[_block_of(n)] += params[n].grad.pow(2).sum().item()
            opt.step()
            sched.step()
            dsq, wsq = defaultdict(float), defaultdict(float)
            for n in names:
                bl = _block_of(n)
                dsq[bl] += (params[n].detach() - before[n]).pow(2).sum().item()
                wsq[bl] += before[n].pow(2).sum().item()
            for bl in blocks:
                gnorm[bl] += math.sqrt(sq[bl])
                upd[bl] += math.sqrt(dsq[bl]) / max(1e-12, math.sqrt(wsq[bl]))
            n_steps += 1
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
        row = {"epoch": epoch + 1, "train_loss": loss_sum / len(idx), "train_top1": correct / len(idx),
               "fit_top1": score(train_eval, idx), "lr": opt.param_groups[0]["lr"],
               "grad_norm": {bl: gnorm[bl] / n_steps for bl in blocks},
               "update_ratio": {bl: upd[bl] / n_steps for bl in blocks}}
        if val_idx:
            row["val_top1"] = score(test, val_idx)
        if epoch in (0, args.epochs // 2, args.epochs - 1):
            row["stats"] = snapshot_stats()
        row["seconds"] = time.perf_counter() - t0
        report["epochs"].append(row)
        print(f"epoch {epoch + 1}: loss {row['train_loss']:.3f} train {row['train_top1']:.2f} fit "
              f"{row['fit_top1']:.2f}" + (f" val {row['val_top1']:.2f}" if val_idx else "") +
              f" ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report["seconds"] = time.perf_counter() - t_start
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
