"""`neurocv` commands that make or prepare a dataset: ``synth`` (a synthetic one), ``cache`` (every video
extracted, in parallel, resumable), ``prepare`` (the official UCF-101 / HMDB-51 / Kinetics downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from ._common import check_out_dir, err, on_interrupt, parse_size


def synth(
    out_dir: Path,
    videos_per_class: Optional[int] = typer.Option(
        None, "--videos-per-class", min=2,
        help="Videos per class, split into train and test (default: 24 for --kind motion, 48 for appearance-motion)."),
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

    w, h = parse_size(size, even=True)
    check_out_dir(out_dir, "OUT_DIR")
    path = make_synthetic_dataset(out_dir, videos_per_class=videos_per_class, test_fraction=test_fraction,
                                  width=w, height=h, n_frames=frames, seed=seed, progress=True, kind=kind)
    print(path)


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


#: this stage's commands, by name, in the order ``neurocv --help`` lists them
COMMANDS = {"synth": synth, "cache": cache, "prepare": prepare}
