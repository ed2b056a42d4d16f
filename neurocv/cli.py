"""The ``neurocv`` command line: thin typer commands over library functions.

Results go to stdout, diagnostics to stderr; every :class:`~neurocv.errors.NeuroCVError` becomes one line
``error: <message>`` and a non-zero exit, without a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from .errors import ConfigError, NeuroCVError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compressed-domain video action recognition, from the bitstream to neuromorphic hardware.")
out = Console(soft_wrap=True)   # long lines (paths) stay whole when piped
err = Console(stderr=True, soft_wrap=True)


def _parse_size(text: Optional[str], what: str = "--size") -> Optional[tuple[int, int]]:
    if text is None or text.lower() == "native":
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"{what} expects WxH (e.g. 340x256), got '{text}'") from None
    if w < 2 or h < 2:
        raise ConfigError(f"{what} must be at least 2x2, got '{text}'")
    return w, h


def _gop_layout(types) -> str:
    letters = {1: "I", 2: "P", 3: "B"}
    s = "".join(letters.get(int(t), "?") for t in types)
    return " ".join(s[i:j] for i, j in zip([0] + [k for k in range(1, len(s)) if s[k] == "I"],
                                           [k for k in range(1, len(s)) if s[k] == "I"] + [len(s)]))


@app.command()
def info(video: Path, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Codec, size, frame count, GOP layout (I/P/B positions) and whether B-frames are present."""
    import numpy as np

    from .codec import scan_picture_types

    index, types = scan_picture_types(video)
    result = {
        "video": str(video), "codec": index.codec, "width": index.width, "height": index.height,
        "fps": round(index.fps, 3), "frames": index.n_frames,
        "i_frames": np.flatnonzero(types == 1).tolist(), "p_frames": int((types == 2).sum()),
        "b_frames": int((types == 3).sum()), "has_b_frames": bool((types == 3).any() or index.reordered),
        "gop_sizes": np.diff(np.r_[np.flatnonzero(types == 1), len(types)]).tolist(),
    }
    if as_json:
        print(json.dumps(result))
        return
    for key in ("codec", "width", "height", "fps", "frames", "p_frames", "b_frames", "has_b_frames"):
        out.print(f"[bold]{key:>12}[/]  {result[key]}")
    out.print(f"[bold]{'I-frames at':>12}[/]  {result['i_frames']}")
    out.print(f"[bold]{'GOP layout':>12}[/]  {_gop_layout(types)}", soft_wrap=True)


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
    from ._io import atomic_savez
    from .codec import read_clip

    wh = _parse_size(size)
    clip = read_clip(video, segments, accumulate=not no_accumulate, all_pframes=all_frames, size=wh)
    atomic_savez(output, compress=False, **clip.arrays())
    h, w = clip.iframes.shape[1:3]
    err.print(f"wrote {output}: {len(clip)} triplets at {w}x{h}, frames {clip.frame_index.tolist()}")


@app.command()
def show(video: Path, output: Path = typer.Option(..., "-o", "--output", help="Folder for the PNGs."),
         frames: int = typer.Option(4, "--frames", min=1, help="How many sampled P-frames to draw.")):
    """PNGs like the paper's Fig. 2: I-frame, raw and accumulated motion, raw and accumulated residuals."""
    from .viz import show_video

    for p in show_video(video, output, frames):
        print(p)


@app.command()
def transcode(
    src: Path, dst: Path,
    size: str = typer.Option("340x256", "--size", help="WxH, or 'native'."),
    gop: int = typer.Option(12, "--gop", min=1, help="An I-frame every N frames."),
    codec: str = typer.Option("mpeg4", "--codec", help="mpeg4 (MPEG-4 Part 2) or h264."),
    bframes: int = typer.Option(0, "--bframes", min=0, help="Maximum consecutive B-frames (0: none)."),
    qscale: int = typer.Option(2, "--qscale", min=1, max=31, help="Fixed quantiser (1 best, 31 worst)."),
):
    """Re-encode to the paper's form: MPEG-4 Part 2, GOP 12, no B-frames, 340x256."""
    from .codec.encode import transcode as _transcode

    result = _transcode(src, dst, size=_parse_size(size), gop_size=gop, codec=codec, max_b_frames=bframes,
                        qscale=qscale)
    err.print(f"wrote {dst}: {result}")


@app.command()
def synth(
    out_dir: Path,
    videos_per_class: int = typer.Option(24, "--videos-per-class", min=2),
    size: str = typer.Option("112x112", "--size", help="WxH of the videos."),
    frames: int = typer.Option(36, "--frames", min=2, help="Frames per video."),
    test_fraction: float = typer.Option(0.25, "--test-fraction", min=0.05, max=0.95),
    seed: int = typer.Option(0, "--seed"),
):
    """A synthetic action dataset (10 motion classes) as MPEG-4 files in the UCF-101 layout."""
    from .synth import make_synthetic_dataset

    w, h = _parse_size(size)
    path = make_synthetic_dataset(out_dir, videos_per_class=videos_per_class, test_fraction=test_fraction,
                                  width=w, height=h, n_frames=frames, seed=seed, progress=True)
    print(path)


@app.command()
def cache(
    data: Path,
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Default: DATA/cache."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1),
    no_accumulate: bool = typer.Option(False, "--no-accumulate"),
):
    """Extract every video of a dataset (both splits) into a cache, in parallel; resumable."""
    from .data import cache_dataset

    report = cache_dataset(data, cache_dir, workers, accumulate=not no_accumulate)
    err.print(f"extracted {report.done}, already cached {report.skipped}, failed {len(report.failed)}")
    for video, message in report.failed:
        err.print(f"error: {message}")
    if report.failed:
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
    from .models import count_macs, count_params, create_model, list_models

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
    model: str = typer.Option("stm-tiny", "--model", "-m"),
    epochs: int = typer.Option(30, "--epochs", min=1),
    batch_size: int = typer.Option(16, "--batch-size", "-b", min=1, help="Global batch (split over DDP ranks)."),
    lr: float = typer.Option(None, "--lr", help="Default: the paper's 0.02 (stm-tiny: 1e-3, see README)."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay"),
    eps: float = typer.Option(None, "--eps", help="Adam epsilon; default: the paper's 1e-3 (stm-tiny: 1e-8)."),
    warmup: float = typer.Option(1.0, "--warmup-epochs"),
    segments: int = typer.Option(8, "--segments", min=1),
    crop: int = typer.Option(None, "--crop", help="Training crop side (default: the model's input size)."),
    workers: int = typer.Option(0, "--workers", "-j", min=0),
    seed: int = typer.Option(0, "--seed"),
    no_accumulate: bool = typer.Option(False, "--no-accumulate", help="Ablation: raw, not accumulated, P-frames."),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="Model config override key=value (repeat)."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start afresh even if OUT/last.pt exists."),
):
    """Train a model; under `torchrun --nproc_per_node=N` the same command trains with DDP."""
    from .models import get_model_config
    from .training import TrainConfig, train as _train
    from .training.loop import default_optimizer

    overrides = _overrides(settings)
    mcfg = get_model_config(model, **dict(overrides))
    d_lr, d_eps = default_optimizer(model)
    cfg = TrainConfig(model=model, epochs=epochs, batch_size=batch_size, lr=d_lr if lr is None else lr,
                      weight_decay=weight_decay, eps=d_eps if eps is None else eps,
                      warmup_epochs=warmup, segments=segments, crop=crop or mcfg.input_size[0], workers=workers,
                      seed=seed, accumulate=not no_accumulate, model_overrides=overrides)
    row = _train(data, out_dir, cfg, resume=not no_resume)
    err.print(f"finished: {json.dumps(row)}")


@app.command("eval")
def eval_cmd(checkpoint: Path, data: Path,
             out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Write eval.json and confusion.png."),
             split: str = typer.Option("test", "--split"),
             segments: Optional[int] = typer.Option(None, "--segments", min=1),
             as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON object.")):
    """Evaluate a checkpoint with the paper's protocol (8 segments, centre crop): top-1, top-5, per class."""
    from .training import evaluate

    result = evaluate(checkpoint, data, out_dir, split=split, segments=segments)
    if as_json:
        print(json.dumps(result))
        return
    out.print(f"top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  on {result['n_videos']} videos "
              f"({result['views']} views)")
    for name, acc in result["per_class"].items():
        out.print(f"  {name:>20}  {'-' if acc is None else f'{acc:.3f}'}")


@app.command()
def predict(checkpoint: Path, videos: List[Path],
            as_json: bool = typer.Option(False, "--json"),
            top: int = typer.Option(5, "--top", min=1)):
    """Top-5 classes with probabilities for each video."""
    from .training import predict_videos

    results = predict_videos(checkpoint, videos, top=top)
    if as_json:
        print(json.dumps(results))
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


from . import cli_deploy, cli_energy  # noqa: E402  (their commands live in their own modules)

cli_deploy.register(app, out, err)
cli_energy.register(app, out, err)


def main(argv: Optional[List[str]] = None) -> None:
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except NeuroCVError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:  # click's own usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
