"""Evaluation with the paper's protocol (``segments`` centre P-frames, centre crop, one view per video) and
prediction of single videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_open, atomic_path
from ..checkpoint import build_model_from_checkpoint, input_settings, load_checkpoint
from .distributed import DistContext
from .loop import _topk, predict_loader

__all__ = ["evaluate", "evaluate_folds", "predict_videos"]


_input_settings = input_settings   # old name


def evaluate(checkpoint: str | Path, data: str | Path, out_dir: str | Path | None = None, split: str = "test",
             segments: int | None = None, crop: int | None = None, batch_size: int = 8, workers: int = 0,
             fold: int | None = None, crops: int = 1, strict: bool = False, progress: bool = False) -> dict:
    """Top-1, top-5, per-class accuracy and confusion matrix of a checkpoint on a split (fractions in [0, 1]).

    ``fold``: the official split (1-3) of UCF-101 / HMDB-51 (default: the one the checkpoint was trained on).
    ``crops``: TSN test views per video, 1 (centre), 3 or 10; their logits are averaged.

    ``wrong``: each misclassified video (its path, true and predicted class).

    Videos that cannot be read are skipped with one warning each (``strict``: the first one raises);
    ``n_videos`` counts the videos scored, ``n_skipped`` and ``skipped`` (video, reason) the others.

    With ``out_dir``: writes ``eval.json`` and ``confusion.png`` there.
    """
    from ..data import CompressedVideoDataset

    ckpt = load_checkpoint(checkpoint)
    seg, crop, acc = _input_settings(ckpt, segments, crop)
    fold = int(fold or ckpt.get("train_config", {}).get("fold") or 1)
    ds = CompressedVideoDataset(data, split, seg, crop, train=False, accumulate=acc, fold=fold, crops=crops,
                                skip_bad=True)
    if list(ds.classes) != list(ckpt["classes"]):
        from ..errors import DatasetError

        raise DatasetError(f"{data}: classes {list(ds.classes)[:5]}... differ from the checkpoint's "
                           f"{list(ckpt['classes'])[:5]}...")
    model = build_model_from_checkpoint(ckpt)
    loader = DistContext().loader(ds, max(1, batch_size // crops), shuffle=False, seed=0, epoch=0, workers=workers)
    from .loop import BadVideos

    bad = BadVideos(strict=strict)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True, disable=not progress) as bar:
        task = bar.add_task("eval", total=len(ds))
        logits, labels, index = predict_loader(model, loader, bad=bad, on_batch=lambda n: bar.advance(task, n))
    n = len(ds.classes)
    pred = logits.argmax(1)
    wrong = [{"video": str(ds.videos.items[int(i)][0]), "label": ds.classes[int(t)], "predicted": ds.classes[int(p)]}
             for i, t, p in zip(index.tolist(), labels.tolist(), pred.tolist()) if t != p]
    conf = np.zeros((n, n), dtype=np.int64)
    np.add.at(conf, (labels.numpy(), pred.numpy()), 1)
    per_class = {c: (float(conf[k, k] / conf[k].sum()) if conf[k].sum() else None) for k, c in enumerate(ds.classes)}
    result = {"top1": _topk(logits, labels, 1), "top5": _topk(logits, labels, 5), "n_videos": int(labels.numel()),
              "n_skipped": len(bad), "skipped": bad.listing(),
              "split": split, "fold": fold, "segments": seg, "crop": crop, "crops": crops, "views": f"{seg}x{crops}",
              "per_class": per_class, "wrong": wrong,
              "confusion": conf.tolist(), "classes": list(ds.classes), "checkpoint": str(checkpoint)}
    if out_dir is not None:
        out_dir = Path(out_dir)
        with atomic_open(out_dir / "eval.json", "w") as fh:
            json.dump(result, fh, indent=1)
        plot_confusion(conf, list(ds.classes), out_dir / "confusion.png",
                       title=f"{Path(checkpoint).name} on {Path(data).name}, {split} split (fold {fold})\n"
                             f"{result['n_videos']} videos, {result['views']} views: top-1 "
                             f"{100 * result['top1']:.1f} %, top-5 {100 * result['top5']:.1f} %")
    return result


def evaluate_folds(pattern: str, data: str | Path, folds: list[int], out_dir: str | Path | None = None,
                   **kwargs) -> dict:
    """The three-split protocol of UCF-101 / HMDB-51: ``evaluate`` the checkpoint ``pattern.format(fold=k)`` on
    split ``k`` for every ``k`` in ``folds``; returns each split's result and the mean, sample standard deviation
    (n - 1; 0 for one split), min and max of top-1 and top-5. With ``out_dir``: ``fold<k>/`` per split and
    ``folds.json``."""
    results = []
    for k in folds:
        sub = None if out_dir is None else Path(out_dir) / f"fold{k}"
        r = evaluate(pattern.replace("{fold}", str(k)), data, sub, fold=k, **kwargs)
        results.append({key: r[key] for key in ("fold", "top1", "top5", "n_videos", "checkpoint", "views")})
    summary = {"folds": results, "views": results[0]["views"], "data": str(data)}
    for key in ("top1", "top5"):
        v = np.array([r[key] for r in results], dtype=np.float64)
        summary[f"{key}_mean"] = float(v.mean())
        summary[f"{key}_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        summary[f"{key}_min"], summary[f"{key}_max"] = float(v.min()), float(v.max())
    if out_dir is not None:
        with atomic_open(Path(out_dir) / "folds.json", "w") as fh:
            json.dump(summary, fh, indent=1)
    return summary


def plot_confusion(conf: np.ndarray, classes: list[str], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * n, 0.8 + 0.45 * n))
    norm = conf / np.maximum(conf.sum(1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), classes, fontsize=7)
    for i in range(n):
        for j in range(n):
            if conf[i, j]:
                ax.text(j, i, str(conf[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


@torch.no_grad()
def predict_videos(checkpoint: str | Path, videos: list[str | Path], segments: int | None = None,
                   crop: int | None = None, top: int = 5) -> list[dict]:
    """Top-``top`` classes with probabilities for each video; a video that fails gets ``{"video", "error"}``."""
    from ..codec import read_clip
    from ..data.transforms import ClipTransform, to_tensors
    from ..errors import NeuroCVError

    ckpt = load_checkpoint(checkpoint)
    seg, crop, acc = _input_settings(ckpt, segments, crop)
    model = build_model_from_checkpoint(ckpt)
    transform = ClipTransform(crop=crop, train=False)
    results = []
    for video in videos:
        try:
            clip = read_clip(video, seg, accumulate=acc)
        except NeuroCVError as exc:
            results.append({"video": str(video), "error": str(exc)})
            continue
        i, m, r = transform(*to_tensors(clip.iframes, clip.mvs, clip.residuals))
        probs = torch.softmax(model(i[None], m[None], r[None])[0], 0)
        p, k = probs.topk(min(top, probs.numel()))
        results.append({"video": str(video), "top": [{"class": ckpt["classes"][c], "probability": float(q)}
                                                     for q, c in zip(p.tolist(), k.tolist())]})
    return results
