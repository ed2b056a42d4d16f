"""Training: Adam with the paper's settings, warmup + cosine schedule, atomic per-epoch checkpoints, exact resume,
best checkpoint by validation top-1, metrics log (JSON + CSV) and PNG curves; DDP under ``torchrun``.

Determinism: the model is initialised from ``seed``; each epoch's shuffling and augmentation draw from a generator
seeded with ``(seed, epoch)``, and the global torch RNG state is saved with every checkpoint, so a run killed at any
point and resumed from its last checkpoint ends exactly where an uninterrupted run with the same seed ends.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._io import atomic_open, atomic_path
from ..errors import ConfigError, DatasetError, VideoDecodeError
from ..checkpoint import build_model_from_checkpoint, load_checkpoint, save_checkpoint
from ..recipes import Recipe, default_optimizer, default_recipe
from .distributed import DistContext, setup_distributed

__all__ = ["TrainConfig", "train", "build_model_from_checkpoint", "default_optimizer", "default_recipe", "Recipe"]


@dataclass(frozen=True)
class TrainConfig:
    """Defaults follow the paper's Sec. 4.1 (Adam, weight decay 1e-4, eps 1e-3, lr 0.02) where they train here."""

    model: str = "stm-tiny"
    epochs: int = 30
    batch_size: int = 16          # global batch (split across DDP processes)
    lr: float = 0.02
    weight_decay: float = 1e-4
    eps: float = 1e-3
    warmup_epochs: float = 1.0
    segments: int = 8
    crop: int = 112
    workers: int | None = None    # data-loader processes; None: sized to the machine with CUDA, 0 on the CPU
    seed: int = 0
    accumulate: bool = True
    fold: int = 1                 # official split of UCF-101 / HMDB-51 (1-3)
    init: str | None = None       # fine-tune: start from this checkpoint's weights (a new head if classes differ)
    amp: str = "auto"             # auto | off | bf16 | fp16 (see neurocv.training.precision)
    channels_last: bool | None = None   # None: on with CUDA
    model_overrides: tuple[tuple[str, Any], ...] = ()
    max_batches_per_epoch: int | None = None  # for smoke tests
    strict: bool = False          # stop at the first unreadable video (default: skip it with one warning)
    progress: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "segments", "crop"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


def make_optimizer(model: torch.nn.Module, lr: float, eps: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam over the model's trainable parameters."""
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay,
                            eps=eps)


def _create(name: str, classes: int, overrides: dict) -> torch.nn.Module:
    from ..models import create_model

    return create_model(name, num_classes=classes, **overrides)


def _lr_lambda(total_steps: int, warmup_steps: int):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return f


class BadVideos:
    """Videos skipped because they could not be read: one warning each (on stderr), counted; ``strict`` raises at
    the first one instead."""

    def __init__(self, strict: bool = False, warn: bool = True):
        self.strict = strict
        self.warn = warn
        self.reasons: dict[str, str] = {}

    def note(self, bad: list[tuple[str, str]]) -> None:
        import sys

        for video, reason in bad:
            if self.strict:
                raise VideoDecodeError(f"{reason} (--strict stops at the first unreadable video)")
            if video not in self.reasons:
                self.reasons[video] = reason
                if self.warn:
                    print(f"warning: skipping {reason}", file=sys.stderr, flush=True)

    def __len__(self) -> int:
        return len(self.reasons)

    def listing(self) -> list[dict]:
        return [{"video": v, "reason": r} for v, r in sorted(self.reasons.items())]


def _batches(loader, limit, bad: BadVideos | None = None):
    """The loader's batches, at most ``limit``; unreadable videos go to ``bad`` (without one, the first raises)."""
    for k, batch in enumerate(loader):
        if limit is not None and k >= limit:
            return
        if batch.get("bad"):
            (bad if bad is not None else BadVideos(strict=True)).note(batch["bad"])
        if "label" not in batch:  # every video of this batch was unreadable
            continue
        yield batch


def _forward(model, batch):
    device = next(model.parameters()).device
    return model(*(batch[k].to(device, non_blocking=True) for k in ("iframes", "mvs", "residuals")))


def _forward_views(model, batch, flip_label: list[int] | None):
    """Logits of a batch; a multi-view batch (``(B, V, T, C, H, W)``, ``eval --crops``) runs every view and
    averages the views' logits (TSN), a mirrored view's classes first mapped back through ``flip_label``."""
    if batch["iframes"].dim() == 5:
        return _forward(model, batch)
    b, v = batch["iframes"].shape[:2]
    flat = {k: batch[k].flatten(0, 1) for k in ("iframes", "mvs", "residuals")}
    logits = _forward(model, flat).float().unflatten(0, (b, v))
    if flip_label is not None and bool(batch["flipped"].any()):
        perm = torch.as_tensor(flip_label, device=logits.device)
        flipped = batch["flipped"].to(logits.device)[..., None]
        logits = torch.where(flipped, logits[..., perm], logits)
    return logits.mean(1)


@torch.no_grad()
def predict_loader(model, loader, dist: DistContext | None = None, limit: int | None = None,
                   bad: BadVideos | None = None, on_batch=None):
    """Logits and labels of every item the loader yields (gathered over DDP ranks); multi-view items are averaged
    over their views. ``on_batch(n)`` is called after each batch of ``n`` items (progress)."""
    model.eval()
    logits, labels, index = [], [], []
    flip_label = getattr(loader.dataset, "flip_label", None)
    for batch in _batches(loader, limit, bad):
        logits.append(_forward_views(model, batch, flip_label).float().cpu())
        labels.append(torch.as_tensor(batch["label"]))  # logits are moved to the CPU below
        index.append(torch.as_tensor(batch["index"]))
        if on_batch is not None:
            on_batch(int(labels[-1].numel()))
    out = [torch.cat(x) if x else torch.zeros(0) for x in (logits, labels, index)]
    if dist is not None and dist.world_size > 1:
        out = dist.gather_cat(out)
        # DistributedSampler pads the last shard by repeating items: keep each video once
        _, first = np.unique(out[2].numpy(), return_index=True)
        out = [t[torch.from_numpy(first)] for t in out]
    return out


def _topk(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    if labels.numel() == 0:
        return 0.0
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(1).float().mean().item()


def train(data: str | Path, out_dir: str | Path, cfg: TrainConfig = TrainConfig(), resume: bool = True) -> dict:
    """Train on the ``train`` split of ``data``, validate on ``test`` each epoch; returns the final metrics row."""
    from ..data import CompressedVideoDataset

    dist = setup_distributed()
    out_dir = Path(out_dir)
    train_set = CompressedVideoDataset(data, "train", cfg.segments, cfg.crop, accumulate=cfg.accumulate, fold=cfg.fold,
                                       skip_bad=True)
    val_set = CompressedVideoDataset(data, "test", cfg.segments, cfg.crop, accumulate=cfg.accumulate, fold=cfg.fold,
                                     skip_bad=True)
    bad = BadVideos(strict=cfg.strict, warn=dist.is_main)
    train_set.known_bad = val_set.known_bad = bad.reasons  # later epochs skip them without decoding again
    if len(train_set) == 0:
        raise DatasetError(f"{data}: the train split is empty")
    classes = list(train_set.classes)
    torch.manual_seed(cfg.seed)
    model = _create(cfg.model, len(classes), dict(cfg.model_overrides))
    opt = make_optimizer(model, cfg.lr, cfg.eps, cfg.weight_decay)
    from .precision import amp_dtype, autocast, backward_step, default_workers, grad_scaler, use_channels_last

    dtype = amp_dtype(cfg.amp, dist.device)
    scaler = grad_scaler(dist.device, dtype)
    workers = cfg.workers if cfg.workers is not None else default_workers(dist.device, dist.world_size)
    per_rank_batch = max(1, cfg.batch_size // dist.world_size)
    steps_per_epoch = math.ceil(len(train_set) / (per_rank_batch * dist.world_size))
    if cfg.max_batches_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_batches_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, _lr_lambda(cfg.epochs * steps_per_epoch, max(1, int(cfg.warmup_epochs * steps_per_epoch))))
    metrics: list[dict] = []
    best_top1, start_epoch = -1.0, 0
    last = out_dir / "last.pt"
    if resume and last.exists():
        ckpt = load_checkpoint(last)
        if ckpt.get("train_config", {}).get("seed") != cfg.seed or ckpt["model"] != cfg.model:
            raise ConfigError(f"{last}: holds a run of model {ckpt['model']} seed "
                              f"{ckpt.get('train_config', {}).get('seed')}; use another --out or the same settings")
        done, planned = int(ckpt["epoch"]) + 1, ckpt.get("train_config", {}).get("epochs", cfg.epochs)
        if planned != cfg.epochs:   # the learning-rate schedule spans the whole run: one run, one length
            raise ConfigError(f"{last}: a run of {planned} epochs ({done} done); resume it with --epochs {planned}, "
                              f"or start afresh with --no-resume or another --out")
        if cfg.progress and dist.is_main:
            import sys

            print(f"resuming {last}: {done} of {cfg.epochs} epochs done" +
                  (" (finished already)" if done >= cfg.epochs else ""), file=sys.stderr, flush=True)
        model.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"])
        if scaler is not None and "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        metrics, best_top1, start_epoch = list(ckpt["metrics"]), float(ckpt["best_top1"]), int(ckpt["epoch"]) + 1
    elif cfg.init:
        from .finetune import init_from_checkpoint, summary

        report = init_from_checkpoint(model, cfg.init, cfg.model, classes, dict(cfg.model_overrides))
        if dist.is_main:
            with atomic_open(out_dir / "init.json", "w") as fh:
                json.dump(report, fh, indent=1)
            if cfg.progress:
                import sys

                print(summary(report), file=sys.stderr)
    start_params = {f"{k}@start": v for k, v in neuron_params(model).items()} if not metrics else {}
    model.to(dist.device)
    if use_channels_last(cfg.channels_last, dist.device):
        model.to(memory_format=torch.channels_last)
    net = dist.wrap(model)
    val_loader = dist.loader(val_set, per_rank_batch, shuffle=False, seed=cfg.seed, epoch=0, workers=workers)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=Console(stderr=True), transient=True,   # the epoch lines stay, not the bar
                  disable=not (cfg.progress and dist.is_main)) as bar:
        task = bar.add_task("train", total=cfg.epochs * steps_per_epoch, completed=start_epoch * steps_per_epoch,
                            info="")
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            loader = dist.loader(train_set, per_rank_batch, shuffle=True, seed=cfg.seed, epoch=epoch,
                                 workers=workers)
            net.train()
            loss_sum, correct, seen = 0.0, 0, 0
            for batch in _batches(loader, steps_per_epoch, bad):
                with autocast(dist.device, dtype):
                    logits = _forward(net, batch)
                labels = torch.as_tensor(batch["label"]).to(logits.device)
                main_loss = loss = F.cross_entropy(logits.float(), labels)
                aux = getattr(model, "aux_logits", None)
                if aux:                     # per-modality probes (ModelConfig.aux_loss), training only
                    loss = loss + model.config.aux_loss * sum(F.cross_entropy(a.float(), labels)
                                                              for a in aux.values()) / len(aux)
                backward_step(loss, opt, scaler)
                sched.step()
                loss_sum += main_loss.item() * labels.numel()     # the classifier's loss, auxiliary terms apart
                correct += (logits.argmax(1) == labels).sum().item()
                seen += labels.numel()
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{cfg.epochs} loss {loss.item():.3f}")
            stats = dist.sum_tensor(torch.tensor([loss_sum, correct, seen], dtype=torch.float64))
            v_logits, v_labels, _ = predict_loader(net.module if hasattr(net, "module") else net, val_loader, dist,
                                                   bad=bad)
            row = {"epoch": epoch + 1, "train_loss": stats[0].item() / max(1, stats[2].item()),
                   "train_top1": stats[1].item() / max(1, stats[2].item()),
                   "val_loss": F.cross_entropy(v_logits, v_labels).item() if v_labels.numel() else float("nan"),
                   "val_top1": _topk(v_logits, v_labels, 1), "val_top5": _topk(v_logits, v_labels, 5),
                   "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0,
                   **neuron_params(model), **(start_params if not metrics else {})}
            metrics.append(row)
            if cfg.progress and dist.is_main:
                bar.console.print(epoch_line(row, cfg.epochs), highlight=False, soft_wrap=True)
            if dist.is_main:
                payload = {
                    "model": cfg.model, "config": model.config_dict(), "classes": classes,
                    "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "epoch": epoch, "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "rng": torch.get_rng_state(), "metrics": metrics,
                    "best_top1": max(best_top1, row["val_top1"]), "train_config": _plain(cfg),
                    "data": str(Path(data).resolve()),   # the training data, for int8 calibration at export
                }
                if scaler is not None:
                    payload["scaler"] = scaler.state_dict()
                if row["val_top1"] > best_top1:
                    save_checkpoint(out_dir / "best.pt", payload)
                save_checkpoint(last, payload)
                write_metrics(out_dir, metrics, title=f"{cfg.model}, {out_dir.name}")
            best_top1 = max(best_top1, row["val_top1"])
            dist.barrier()
    if dist.active:  # each rank saw its own shard of the videos: rank 0 reports them all
        import torch.distributed as tdist

        parts = [None] * dist.world_size
        tdist.all_gather_object(parts, dict(bad.reasons))
        for part in parts:
            bad.reasons.update(part or {})
    dist.close()
    if len(bad) and dist.is_main:
        import sys

        with atomic_open(out_dir / "skipped_videos.json", "w") as fh:
            json.dump(bad.listing(), fh, indent=1)
        print(f"warning: skipped {len(bad)} unreadable video{'s' * (len(bad) != 1)} "
              f"(listed in {out_dir / 'skipped_videos.json'})", file=sys.stderr, flush=True)
    return {**metrics[-1], "skipped_videos": len(bad)} if metrics else {"skipped_videos": len(bad)}


def neuron_params(model: torch.nn.Module) -> dict[str, float]:
    """The learned (or fixed) neuron parameters of every STM layer, flat for ``metrics.json`` / ``metrics.csv``:
    ``v_th/<layer>`` and ``lambda/<layer>`` (``<layer>`` e.g. ``temporal.mv.layers.0``; a leaky-integrator readout
    has no ``v_th``), the values the forward pass uses (``lambda`` on the power-of-two grid where the layer has it)."""
    from ..models.neuron import LINeuron, STMNeuron

    out = {}
    with torch.no_grad():
        for name, m in model.named_modules():
            layer = name[:-len(".neuron")] if name.endswith(".neuron") else name
            if isinstance(m, STMNeuron):
                p = m.params()
                out[f"v_th/{layer}"], out[f"lambda/{layer}"] = float(p.v_th), float(p.leak)
            elif isinstance(m, LINeuron):
                out[f"lambda/{layer}"] = float(m.leak())
    return out


def _plain(cfg: TrainConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d["model_overrides"] = [list(kv) for kv in cfg.model_overrides]
    return d


def epoch_line(row: dict, epochs: int) -> str:
    """One epoch in one readable line (percentages, 3 significant digits)."""
    return (f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.3f}, top-1 {100 * row['train_top1']:.1f} %;"
            f" validation loss {row['val_loss']:.3f}, top-1 {100 * row['val_top1']:.1f} %, top-5 "
            f"{100 * row['val_top5']:.1f} %; {row['seconds']:.0f} s")


def write_metrics(out_dir: Path, metrics: list[dict], title: str | None = None) -> None:
    """``metrics.json``, ``metrics.csv`` and ``curves.png`` (loss and top-1 per epoch), each written atomically."""
    with atomic_open(out_dir / "metrics.json", "w") as fh:
        json.dump(metrics, fh, indent=1)
    with atomic_open(out_dir / "metrics.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for m in metrics for k in m)))
        w.writeheader()
        w.writerows(metrics)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [m["epoch"] for m in metrics]
    layers = [k.split("/", 1)[1] for k in metrics[-1] if k.startswith("lambda/")]
    fig, axes = plt.subplots(1, 3 if layers else 2, figsize=(15 if layers else 10, 3.5))
    a, b = axes[0], axes[1]
    a.plot(ep, [m["train_loss"] for m in metrics], label="train")
    a.plot(ep, [m["val_loss"] for m in metrics], label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("cross-entropy")
    a.legend()
    b.plot(ep, [m["train_top1"] for m in metrics], label="train")
    b.plot(ep, [m["val_top1"] for m in metrics], label="validation")
    b.set_xlabel("epoch")
    b.set_ylabel("top-1")
    b.set_ylim(0, 1)
    b.legend()
    from matplotlib.ticker import MaxNLocator

    if layers:     # each STM layer's v_th (solid) and lambda (dashed), from the start (epoch 0) on
        c = axes[2]
        first = metrics[0]
        for k, layer in enumerate(layers):
            colour = f"C{k % 10}"
            for name, style in (("v_th", "-"), ("lambda", "--")):
                key = f"{name}/{layer}"
                if key in metrics[-1]:
                    # a run resumed from epochs logged before these keys existed has gaps: NaN, not a KeyError
                    ys = [first.get(f"{key}@start", first.get(key, float("nan")))] + \
                        [m.get(key, float("nan")) for m in metrics]
                    c.plot([0] + ep, ys, style, color=colour, label=f"{name} {layer.replace('temporal.', '')}")
        c.set_xlabel("epoch")
        c.set_ylabel("v_th (solid), lambda (dashed)")
        c.legend(fontsize=6)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
    best = max(metrics, key=lambda m: m["val_top1"])
    fig.suptitle(f"{title or out_dir.name}: {len(metrics)} epochs, best validation top-1 "
                 f"{100 * best['val_top1']:.1f} % (epoch {best['epoch']})", fontsize=10)
    fig.tight_layout()
    with atomic_path(out_dir / "curves.png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
