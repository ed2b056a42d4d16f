"""The ``neurocv`` command line: thin typer commands over library functions.

Results go to stdout, diagnostics to stderr; every :class:`~neurocv.errors.NeuroCVError` becomes one line
``error: <message>`` and a non-zero exit, without a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Literal, Optional

import typer
from rich.console import Console

from ..errors import ConfigError, NeuroCVError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compressed-domain video action recognition, from the bitstream to neuromorphic hardware.")
out = Console(soft_wrap=True)   # long lines (paths) stay whole when piped
err = Console(stderr=True, soft_wrap=True)


def wide(console: Console, width: int) -> Console:
    """``console``, or one ``width`` columns wide where it is narrower (a pipe is 80): tables of many columns stay
    readable in a file instead of being cut to ellipses."""
    return console if console.width >= width else Console(width=width, force_terminal=console.is_terminal)

# What Ctrl-C leaves behind and how to go on: a command sets it when it starts (see on_interrupt), `main` prints it.
_INTERRUPT_HINT = ["every output already finished was kept (each is written whole or not at all); run the same "
                   "command again"]


def on_interrupt(text: str) -> None:
    """Set the line ``main`` prints after Ctrl-C (``interrupted: <text>``): what was kept, how to resume."""
    _INTERRUPT_HINT[0] = text


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"neurocv {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Compressed-domain video action recognition, from the bitstream to neuromorphic hardware."""


def _parse_size(text: Optional[str], what: str = "--size", even: bool = False) -> Optional[tuple[int, int]]:
    if text is None or text.lower() == "native":
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"{what} expects WxH (e.g. 340x256), got '{text}'") from None
    if w < 2 or h < 2:
        raise ConfigError(f"{what} must be at least 2x2, got '{text}'")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ConfigError(f"{what} {w}x{h} is larger than {MAX_SIDE}x{MAX_SIDE} (arrays that size do not fit in "
                          f"memory); choose a smaller size")
    if even and (w % 2 or h % 2):
        raise ConfigError(f"{what} {w}x{h}: width and height must be even for the encoder (its colour planes are "
                          f"half size); e.g. {w - w % 2}x{h - h % 2}")
    return w, h


MAX_SIDE = 4096


def check_out_file(path: Path, option: str) -> Path:
    """Check an output file path before any work: not an existing folder, no file where a parent folder goes."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; {option} expects a file name (e.g. {path / ('out' + _ext(option))})")
    _parents_are_folders(path)
    return path


def check_out_dir(path: Path, option: str) -> Path:
    """Check an output folder path before any work: not an existing file (nor a file where a parent goes)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file; {option} expects a folder (a new or existing one)")
    _parents_are_folders(path)
    return path


_NOT_CHECKPOINTS = {
    ".onnx": "an ONNX model (the ANN partition of a deployment)",
    ".nir": "a NIR graph (a spiking partition of a deployment)",
    ".safetensors": "bare weights without a model config (a deployment's reference weights)",
    ".npz": "an array file (from `neurocv extract` or the cache)",
    ".json": "a JSON file",
}


def check_checkpoint_arg(path: Path) -> None:
    """Name what a file given as CHECKPOINT really is when it is something else neurocv writes (a deployment, an
    ONNX / NIR / safetensors file, a TorchScript archive), instead of calling it corrupt."""
    import zipfile

    from ..errors import CheckpointError

    what = ("a checkpoint (.pt from `neurocv train`, or its run folder)")
    if path.is_dir() and (path / "manifest.json").is_file():
        raise CheckpointError(f"{path}: a deployment folder, not a checkpoint; `neurocv run {path} VIDEO` runs it "
                              f"(this command needs {what})")
    if not path.is_file():
        return
    kind = _NOT_CHECKPOINTS.get(path.suffix.lower())
    if kind:
        raise CheckpointError(f"{path}: {kind}, not a neurocv checkpoint; this command needs {what}")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            return
        if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
            raise CheckpointError(f"{path}: a TorchScript archive (torch.jit.save), not a neurocv checkpoint; this "
                                  f"command needs {what}")


def _ext(option: str) -> str:
    return {"--plot": ".png", "--ops": ".json"}.get(option, ".npz")


def _parents_are_folders(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{parent}: is a file, not a folder (in {path})")
            return


def _frame_count(video: Path) -> int:
    """The video's frame count for a warning, or 0 where it cannot be read (the reader reports that itself)."""
    from ..codec import probe

    try:
        return int(probe(video).n_frames)
    except Exception:  # noqa: BLE001
        return 0


def _gop_layout(types) -> str:
    letters = {1: "I", 2: "P", 3: "B"}
    s = "".join(letters.get(int(t), "?") for t in types)
    return " ".join(s[i:j] for i, j in zip([0] + [k for k in range(1, len(s)) if s[k] == "I"],
                                           [k for k in range(1, len(s)) if s[k] == "I"] + [len(s)]))


@app.command()
def info(video: Path, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Codec, size, frame count, GOP layout (I/P/B positions), B-frames and H.264's reference frame count."""
    import numpy as np

    from ..codec import scan_picture_types

    index, types = scan_picture_types(video)
    result = {
        "video": str(video), "codec": index.codec, "width": index.width, "height": index.height,
        "fps": round(index.fps, 3), "frames": index.n_frames,
        "i_frames": np.flatnonzero(types == 1).tolist(), "p_frames": int((types == 2).sum()),
        "b_frames": int((types == 3).sum()), "has_b_frames": bool((types == 3).any() or index.reordered),
        "gop_sizes": np.diff(np.r_[np.flatnonzero(types == 1), len(types)]).tolist(),
        "ref_frames": index.ref_frames,  # H.264: the SPS's max_num_ref_frames (neurocv traces only 1); else null
    }
    from ..codec.reader import traceable_reason

    why = traceable_reason(index)
    result.update(traceable=why is None, not_traceable_because=why)
    if as_json:
        print(json.dumps(result))
        return
    for key in ("codec", "width", "height", "fps", "frames", "p_frames", "b_frames", "has_b_frames"):
        out.print(f"[bold]{key:>12}[/]  {result[key]}")
    if index.ref_frames is not None:
        out.print(f"[bold]{'ref_frames':>12}[/]  {index.ref_frames}")
    out.print(f"[bold]{'I-frames at':>12}[/]  {result['i_frames']}")
    out.print(f"[bold]{'GOP layout':>12}[/]  {_gop_layout(types)}", soft_wrap=True)
    from rich.markup import escape

    out.print(f"[bold]{'traceable':>12}[/]  " + ("yes" if why is None else "no: " + escape(why)), highlight=False)


@app.command()
def extract(
    video: Path,
    output: Path = typer.Option(..., "-o", "--output", help="Output .npz file."),
    segments: int = typer.Option(8, "--segments", "-n", min=1, help="Number of segments (one P-frame each)."),
    all_frames: bool = typer.Option(False, "--all", help="Every P-frame instead of N segments."),
    no_accumulate: bool = typer.Option(False, "--no-accumulate", help="Frame-to-frame MV/residual, not traced."),
    size: Optional[str] = typer.Option(None, "--size", help="Resize to WxH (default: native size)."),
):
    """Write iframes, mvs, residuals, frame_index and gop_index of a video to an .npz file."""
    from .._io import atomic_savez
    from ..codec import read_clip

    wh = _parse_size(size)
    check_out_file(output, "-o")
    n_frames = _frame_count(video)
    if not all_frames and n_frames and segments > n_frames:
        err.print(f"warning: {segments} segments from a {n_frames}-frame video: P-frames will repeat",
                  highlight=False)
    clip = read_clip(video, segments, accumulate=not no_accumulate, all_pframes=all_frames, size=wh)
    atomic_savez(output, compress=False, **clip.arrays())
    h, w = clip.iframes.shape[1:3]
    err.print(f"wrote {output}: {len(clip)} triplets at {w}x{h}, frames {clip.frame_index.tolist()}")


@app.command()
def show(video: Path, output: Path = typer.Option(..., "-o", "--output", help="Folder for the PNGs."),
         frames: int = typer.Option(4, "--frames", min=1, help="How many sampled P-frames to draw.")):
    """PNGs like the paper's Fig. 2: I-frame, raw and accumulated motion, raw and accumulated residuals."""
    from ..viz import show_video

    check_out_dir(output, "-o")
    for p in show_video(video, output, frames):
        print(p)


@app.command()
def transcode(
    src: Path, dst: Path,
    size: str = typer.Option("340x256", "--size", help="WxH, or 'native'."),
    gop: int = typer.Option(12, "--gop", min=1, help="An I-frame every N frames."),
    codec: Literal["mpeg4", "h264"] = typer.Option("mpeg4", "--codec", help="mpeg4 (MPEG-4 Part 2) or h264."),
    bframes: int = typer.Option(0, "--bframes", min=0, help="Maximum consecutive B-frames (0: none)."),
    qscale: int = typer.Option(2, "--qscale", min=1, max=31, help="Fixed quantiser (1 best, 31 worst)."),
):
    """Re-encode to the paper's form: MPEG-4 Part 2, GOP 12, no B-frames, 340x256."""
    from ..codec.encode import transcode as _transcode

    wh = _parse_size(size, even=True)
    check_out_file(dst, "OUT")
    if src.exists() and dst.exists() and src.resolve() == dst.resolve():
        raise ConfigError(f"{dst}: is the input itself; write to another file (the input is read while writing)")
    result = _transcode(src, dst, size=wh, gop_size=gop, codec=codec, max_b_frames=bframes,
                        qscale=qscale)
    err.print(f"wrote {dst}: {result}")


@app.command()
def synth(
    out_dir: Path,
    videos_per_class: int = typer.Option(24, "--videos-per-class", min=2,
                                         help="Videos per class (10 classes), split into train and test."),
    size: str = typer.Option("112x112", "--size", help="WxH of the videos (even numbers)."),
    frames: int = typer.Option(36, "--frames", min=2, help="Frames per video."),
    test_fraction: float = typer.Option(0.25, "--test-fraction", min=0.05, max=0.95,
                                        help="Share of each class's videos in the test split."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed renders the same videos."),
    kind: str = typer.Option("motion", "--kind", help="motion (10 classes that differ only by motion, the quick "
                             "default) or appearance-motion (12 classes: texture x motion, which differ by what "
                             "moves, how, or both)."),
):
    """A synthetic action dataset (10 motion classes, or 12 appearance-and-motion classes) as MPEG-4 files in the
    UCF-101 layout."""
    from ..synth import make_synthetic_dataset

    w, h = _parse_size(size, even=True)
    check_out_dir(out_dir, "OUT_DIR")
    path = make_synthetic_dataset(out_dir, videos_per_class=videos_per_class, test_fraction=test_fraction,
                                  width=w, height=h, n_frames=frames, seed=seed, progress=True, kind=kind)
    print(path)


@app.command()
def cache(
    data: Path,
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Default: DATA/cache."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1,
                                          help="Parallel extraction processes (default: one per CPU core)."),
    no_accumulate: bool = typer.Option(False, "--no-accumulate", help="Cache raw P-frames (the ablation)."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N",
                                        help="Only shard I of N (0-based), e.g. one array job of N; the shards "
                                             "together fill the same cache as one run."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first video that cannot be read."),
):
    """Extract every video of a dataset (both splits) into a cache, in parallel; resumable. Videos that cannot be
    read are listed with their reasons in CACHE/failed-acc.json (and skipped by train and eval)."""
    from ..data import cache_dataset
    from ..data.cache import parse_shard

    if cache_dir is not None:
        check_out_dir(cache_dir, "--cache-dir")
    where = cache_dir or (data.parent if data.is_file() else data) / "cache"
    on_interrupt(f"the videos extracted so far are kept in {where}; run the same command again to extract the "
                 f"rest (finished videos are skipped)")
    report = cache_dataset(data, cache_dir, workers, accumulate=not no_accumulate, shard=parse_shard(shard),
                           strict=strict)
    for video, message in report.failed:
        err.print(f"warning: {message}", markup=False, highlight=False)
    listed = f" (reasons in {where / ('failed-raw.json' if no_accumulate else 'failed-acc.json')})" \
        if report.failed else ""
    err.print(f"extracted {report.done}, already cached {report.skipped}, failed {len(report.failed)}{listed}"
              + (f", shard {shard}" if shard else ""), markup=False, highlight=False)


@app.command()
def prepare(
    dataset: str = typer.Argument(..., help="ucf101, hmdb51 or kinetics."),
    src: Path = typer.Argument(..., help="The official downloads: archives (.rar/.zip/.tar) or the folders they "
                               "unpack to, with the split files / annotation CSVs."),
    out: Path = typer.Option(..., "-o", "--out", help="The dataset folder to write (videos/, splits/ or CSVs)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Parallel transcoding processes "
                                          "(default: one per CPU core)."),
    qscale: int = typer.Option(2, "--qscale", min=1, max=31, help="MPEG-4 fixed quantiser (1 best, 31 worst)."),
):
    """Official UCF-101 / HMDB-51 / Kinetics downloads -> neurocv's layout, every video re-encoded to the paper's
    form (MPEG-4 Part 2, 340x256, GOP 12, no B-frames); parallel, resumable, failures reported."""
    from ..data.prepare import DATASETS, prepare_dataset

    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    check_out_dir(out, "-o")
    on_interrupt(f"the videos finished so far are kept in {out}; run the same command again to do the rest")
    r = prepare_dataset(dataset, src, out, workers, qscale)
    for video, message in r.failed:
        err.print(f"error: {message}", markup=False, highlight=False)
    if r.missing:
        err.print(f"warning: {len(r.missing)} video(s) listed but not in the download (listed in "
                  f"{out / 'prepare_failures.json'})", highlight=False)
    per = r.bytes / max(1, r.videos - len(r.failed))
    print(f"{dataset}: {r.videos} videos in {out} (transcoded {r.done}, already there {r.skipped}, failed "
          f"{len(r.failed)}, missing {len(r.missing)}); {r.bytes / 1e6:.1f} MB, {per / 1e3:.0f} kB per video; "
          f"{r.seconds:.1f} s")
    if r.failed:
        raise typer.Exit(1)


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


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="A list of objects: name, params, macs, ..."),
           segments: int = typer.Option(8, "--segments", min=1),
           size: str = typer.Option("native", "--size", help="Input WxH for the MAC count (default: each "
                                    "variant's own input size).")):
    """List the registered model variants with their parameters and MACs (8 segments, each at its input size)."""
    from ..models import count_macs, count_params, create_model, list_models

    given = _parse_size(size)
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


@app.command()
def train(
    data: Path,
    out_dir: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints, metrics, curves."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A registered variant (see `neurocv models`); "
                                        "default stm-tiny, or --init's model."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Total epochs of the run (a resumed run "
                                         "ends there); default: the model's recipe (stm-tiny 60, others 30)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Global batch (split over DDP "
                                             "ranks); default: the model's recipe (stm-tiny 8, others 16)."),
    lr: float = typer.Option(None, "--lr", help="Default: the paper's 0.02 (stm-tiny: 1e-3, see README)."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay"),
    eps: float = typer.Option(None, "--eps", help="Adam epsilon; default: the paper's 1e-3 (stm-tiny: 1e-8)."),
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
    from ..training.loop import default_recipe

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
    on_interrupt(f"{out_dir / 'last.pt'} keeps the last finished epoch; run the same command again to resume "
                 f"from it")
    row = _train(data, out_dir, cfg, resume=not no_resume)
    if "epoch" in row:
        from ..training.loop import epoch_line

        skipped = f"; {row['skipped_videos']} unreadable videos skipped" if row.get("skipped_videos") else ""
        err.print(f"finished {epoch_line(row, epochs)}{skipped}; checkpoints in {out_dir} (best.pt, last.pt), "
                  f"metrics in {out_dir / 'metrics.json'}", highlight=False, markup=False)


@app.command("eval")
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


@app.command()
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


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="Print the checks as one JSON list."),
           lava_python: Optional[Path] = typer.Option(None, "--lava-python", help="The Lava environment's Python "
                                                      "(default: $NEUROCV_LAVA_PYTHON, else .venv-lava)."),
           no_worker: bool = typer.Option(False, "--no-worker", help="Do not start the Lava worker.")):
    """Check both environments, their versions and the Lava worker; one line each, with the command that fixes
    what is missing. Exit 1 if anything is."""
    from ..doctor import as_json as checks_json, run_checks

    checks = run_checks(lava_python, worker=not no_worker)
    if as_json:
        print(checks_json(checks))
    else:
        for c in checks:
            out.print(c.line(), markup=False, highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


from . import deploy as cli_deploy, energy as cli_energy  # noqa: E402  (their commands live in their own modules)

cli_deploy.register(app, out, err)
cli_energy.register(app, out, err)


def _usage_error(exc) -> int:
    """Print a typer/click usage error the way typer does (usage line, help hint, error panel); its exit code."""
    from typer import rich_utils

    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()                          # the help text, as typer's own entry point prints it
        return exc.exit_code
    try:
        rich_utils.rich_format_error(exc)
    except Exception:  # noqa: BLE001  (plain text if rich formatting is unavailable)
        exc.show()
    return exc.exit_code


def main(argv: Optional[List[str]] = None) -> None:
    from typer._click.exceptions import ClickException
    from typer.exceptions import Abort, Exit

    try:
        rc = app(args=argv, standalone_mode=False)
    except NeuroCVError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except ClickException as exc:   # usage errors: typer's usage message, exit 2
        sys.exit(_usage_error(exc))
    except Exit as exc:
        rc = exc.exit_code
    except (KeyboardInterrupt, Abort):
        rc = 130
    except (IsADirectoryError, NotADirectoryError, FileExistsError, FileNotFoundError, PermissionError) as exc:
        # a path of the wrong kind that a command did not check first: still one line, naming the file
        what = exc.filename if exc.filename is not None else ""
        err.print(f"error: {what}: {exc.strerror or type(exc).__name__}", markup=False, highlight=False)
        sys.exit(2)
    except MemoryError:
        err.print("error: out of memory (a smaller --size, fewer --segments or a smaller batch may fit)",
                  markup=False, highlight=False)
        sys.exit(2)
    if rc == 130:                   # typer turns Ctrl-C into exit code 130
        err.print(f"interrupted: {_INTERRUPT_HINT[0]}", markup=False, highlight=False, soft_wrap=True)
        if argv is None:            # the console script: leave now, without waiting on (or finalising under)
            import os               # helper threads still inside C code (decoder prefetch, pipes). First run the
            from multiprocessing import util   # finalisers that a normal exit runs for multiprocessing (a stopped
            try:                    # pool's queue locks), or its resource tracker warns of "leaked semaphores"
                util._run_finalizers(0)        # after our line
            except Exception:       # noqa: BLE001 - best effort on the way out
                pass

            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(130)
        sys.exit(130)
    if isinstance(rc, int) and rc:
        sys.exit(rc)


if __name__ == "__main__":
    main()
