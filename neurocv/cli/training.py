"""`neurocv` commands for models and training: ``models`` (the registered variants, their parameters and MACs),
``train``, ``eval`` (the paper's protocol, one split or three), ``predict`` (top-5 for each video)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from ..recipes import recipe_help
from ._common import check_checkpoint_arg, check_out_dir, err, on_interrupt, out, parse_size


def _overrides(items: Optional[List[str]]) -> tuple:
    """``--set key=value`` pairs for the model config (values parsed as JSON where they parse, else strings)."""
    out = []
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got '{item}'")
        key, value = item.split("=", 1)
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.append((key.strip(), tuple(parsed) if isinstance(parsed, list) else parsed))
    return tuple(out)


def _interrupt_hint(last: Path, resume: bool):
    """The Ctrl-C line of ``train``: what OUT/last.pt holds now (asked at the interrupt, not at the start)."""
    before = last.stat().st_mtime_ns if last.exists() else None

    def hint() -> str:
        now = last.stat().st_mtime_ns if last.exists() else None
        if now is None or (now == before and not resume):   # nothing of this run on disk yet
            return (f"no epoch finished, so nothing was saved to {last.parent}; run the same command again to "
                    f"start the run")
        again = "run the same command again" if resume else "run the command again without --no-resume"
        return f"{last} keeps the last finished epoch; {again} to resume from it"
    return hint


def models(as_json: bool = typer.Option(False, "--json", help="A list of objects: name, params, macs, ..."),
           segments: int = typer.Option(8, "--segments", min=1),
           size: str = typer.Option("native", "--size", help="Input WxH for the MAC count (default: each "
                                    "variant's own input size).")):
    """List the registered model variants with their parameters and MACs (8 segments, each at its input size)."""
    from ..models import count_macs, count_params, create_model, list_models

    given = parse_size(size)
    rows = []
    for name in list_models():
        model = create_model(name)
        w, h = given or model.config.input_size[::-1]
        rows.append({"name": name, "params": count_params(model),
                     "macs": count_macs(model, input_size=(h, w), segments=segments),
                     "macs_spiking": count_macs(model, input_size=(h, w), segments=segments, part="spiking"),
                     "segments": segments, "input_size": [w, h]})
    if as_json:
        print(json.dumps(rows))
        return
    from rich.table import Table

    table = Table(title=f"registered models ({segments} segments)")
    for col in ("name", "input", "params (M)", "MACs (G)", "of which STM (G)"):
        table.add_column(col, justify="right" if col != "name" else "left")
    for r in rows:
        table.add_row(r["name"], "x".join(map(str, r["input_size"])), f"{r['params'] / 1e6:.2f}", f"{r['macs'] / 1e9:.2f}", f"{r['macs_spiking'] / 1e9:.2f}")
    out.print(table)


def train(
    data: Path,
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints, metrics, curves."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A registered variant (see `neurocv models`); "
                                        "default stm-tiny, or --init's model."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Total epochs of the run (a resumed run "
                                         "ends there); default: the model's recipe "
                                         f"({recipe_help('epochs')})."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Global batch (split over DDP "
                                             "ranks); default: the model's recipe "
                                             f"({recipe_help('batch_size')})."),
    lr: float = typer.Option(None, "--lr", help="Adam learning rate; default: the "
                            f"model's recipe ({recipe_help('lr')})."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay"),
    eps: float = typer.Option(None, "--eps", help="Adam epsilon; default: the model's "
                             f"recipe ({recipe_help('eps')})."),
    warmup: float = typer.Option(1.0, "--warmup-epochs"),
    segments: int = typer.Option(8, "--segments", min=1),
    crop: int = typer.Option(None, "--crop", min=8, help="Training crop side (default: the model's input size)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=0, help="Data-loading processes (0: in "
                                          "this process; default: sized to the machine with CUDA, 0 on the CPU)."),
    amp: str = typer.Option("auto", "--amp", help="Mixed precision: auto (bf16, or fp16 with a gradient scaler, "
                            "with CUDA; off on the CPU), off, bf16, fp16."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="NHWC memory "
                                                 "format for the convolutions (default: on with CUDA)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (weights, sampling, augmentation)."),
    fold: int = typer.Option(1, "--fold", min=1, max=3, help="Official split of UCF-101 / HMDB-51 (1, 2 or 3)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Fine-tune: start from this checkpoint's weights, a "
                                        "new head where the classes differ (the tensors loaded, skipped and "
                                        "re-initialised go to stderr and OUT/init.json)."),
    no_accumulate: bool = typer.Option(False, "--no-accumulate", help="Ablation: raw, not accumulated, P-frames."),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="Model config override key=value (repeat)."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start afresh even if OUT/last.pt exists."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first video that cannot be read (default: "
                                "skip it with one warning and count it)."),
):
    """Train a model; under `torchrun --nproc_per_node=N` the same command trains with DDP."""
    from ..models import get_model_config
    from ..training import TrainConfig, train as _train
    from ..recipes import default_recipe

    check_out_dir(out_dir, "--out")
    overrides = _overrides(settings)
    if init is not None:
        from ..checkpoint import load_checkpoint

        check_checkpoint_arg(init)
        model = model or load_checkpoint(init)["model"]
    model = model or "stm-tiny"
    mcfg = get_model_config(model, **dict(overrides))
    recipe = default_recipe(model)
    d_lr, d_eps = recipe.lr, recipe.eps
    epochs = recipe.epochs if epochs is None else epochs
    batch_size = recipe.batch_size if batch_size is None else batch_size
    cfg = TrainConfig(model=model, epochs=epochs, batch_size=batch_size, lr=d_lr if lr is None else lr,
                      weight_decay=weight_decay, eps=d_eps if eps is None else eps,
                      warmup_epochs=warmup, segments=segments, crop=crop or mcfg.input_size[0], workers=workers,
                      seed=seed, accumulate=not no_accumulate, model_overrides=overrides, fold=fold,
                      init=None if init is None else str(init), strict=strict, amp=amp,
                      channels_last=channels_last)
    on_interrupt(_interrupt_hint(out_dir / "last.pt", resume=not no_resume))
    row = _train(data, out_dir, cfg, resume=not no_resume)
    if "epoch" in row:
        from ..training.loop import epoch_line

        skipped = f"; {row['skipped_videos']} unreadable videos skipped" if row.get("skipped_videos") else ""
        err.print(f"finished {epoch_line(row, epochs)}{skipped}; checkpoints in {out_dir} (best.pt, last.pt), "
                  f"metrics in {out_dir / 'metrics.json'}", highlight=False, markup=False)


def eval_cmd(checkpoint: Path, data: Path,
             out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Write eval.json and confusion.png."),
             split: str = typer.Option("test", "--split"),
             segments: Optional[int] = typer.Option(None, "--segments", min=1,
                                                    help="Segments per video (default: the training value)."),
             fold: Optional[int] = typer.Option(None, "--fold", min=1, max=3, help="Official split of UCF-101 / "
                                                "HMDB-51 (default: the checkpoint's)."),
             folds: Optional[str] = typer.Option(None, "--folds", help="Three-split protocol, e.g. 1,2,3: CHECKPOINT "
                                                 "is then a pattern with {fold} (runs/ucf-s{fold}/best.pt); prints "
                                                 "each split and the mean and spread."),
             crops: int = typer.Option(1, "--crops", help="Test views per video (TSN): 1 centre, 3 along the long "
                                       "side, 10 corners + centre, mirrored; logits averaged."),
             as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON object."),
             strict: bool = typer.Option(False, "--strict", help="Stop at the first video that cannot be read "
                                         "(default: skip it with one warning and count it).")):
    """Evaluate a checkpoint with the paper's protocol (8 segments, centre crop): top-1, top-5, per class."""
    from ..training import evaluate

    from ..data.transforms import VIEW_COUNTS

    if crops not in VIEW_COUNTS:
        raise ConfigError(f"--crops must be {', '.join(map(str, VIEW_COUNTS[:-1]))} or {VIEW_COUNTS[-1]}, got {crops}")
    if out_dir is not None:
        check_out_dir(out_dir, "--out")
    if folds is not None:
        from ..training.evaluate import evaluate_folds

        if fold is not None:
            raise ConfigError("give --fold or --folds, not both")
        try:
            fold_list = [int(f) for f in folds.split(",") if f.strip()]
        except ValueError:
            fold_list = []
        if not fold_list or any(f not in (1, 2, 3) for f in fold_list) or len(set(fold_list)) != len(fold_list):
            raise ConfigError(f"--folds expects distinct splits from 1, 2, 3 separated by commas, got {folds!r}")
        if "{fold}" not in str(checkpoint):
            raise ConfigError(f"{checkpoint}: with --folds, CHECKPOINT must contain {{fold}} (e.g. "
                              f"runs/ucf-s{{fold}}/best.pt), one run per split")
        for f in fold_list:
            check_checkpoint_arg(Path(str(checkpoint).replace("{fold}", str(f))))
        summary = evaluate_folds(str(checkpoint), data, fold_list, out_dir, split=split, segments=segments,
                                 crops=crops, strict=strict)
        if as_json:
            print(json.dumps(summary))
            return
        for r in summary["folds"]:
            out.print(f"split {r['fold']}: top-1 {r['top1']:.4f}  top-5 {r['top5']:.4f}  on {r['n_videos']} videos "
                      f"({r['checkpoint']})")
        out.print(f"mean over {len(fold_list)} splits: top-1 {summary['top1_mean']:.4f} "
                  f"(std {summary['top1_std']:.4f}, min {summary['top1_min']:.4f}, max {summary['top1_max']:.4f})  "
                  f"top-5 {summary['top5_mean']:.4f} (std {summary['top5_std']:.4f})  [{summary['views']} views]")
        return
    check_checkpoint_arg(checkpoint)
    result = evaluate(checkpoint, data, out_dir, split=split, segments=segments, fold=fold, crops=crops,
                      strict=strict, progress=True)
    if as_json:
        print(json.dumps(result))
        return
    out.print(f"top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  on {result['n_videos']} videos "
              f"({result['views']} views)" + (f", {result['n_skipped']} unreadable skipped"
                                              if result.get("n_skipped") else ""))
    for name, acc in result["per_class"].items():
        out.print(f"  {name:>20}  {'-' if acc is None else f'{acc:.3f}'}")


def predict(checkpoint: Path, videos: List[Path],
            as_json: bool = typer.Option(False, "--json", help="One JSON object per video (JSON lines)."),
            top: int = typer.Option(5, "--top", min=1, help="How many classes to list.")):
    """Top-5 classes with probabilities for each video."""
    from ..training import predict_videos

    check_checkpoint_arg(checkpoint)
    results = predict_videos(checkpoint, videos, top=top)
    if as_json:
        for r in results:
            print(json.dumps(r))
    else:
        for r in results:
            if "error" in r:
                err.print(f"error: {r['error']}", markup=False)
                continue
            out.print(f"[bold]{r['video']}[/]")
            for p in r["top"]:
                out.print(f"  {p['probability']:.3f}  {p['class']}")
    if any("error" in r for r in results):
        raise typer.Exit(1)


#: this stage's commands, by name, in the order ``neurocv --help`` lists them
COMMANDS = {"models": models, "train": train, "eval": eval_cmd, "predict": predict}
