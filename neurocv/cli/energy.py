"""`neurocv energy`: per-layer operations, spikes and energy of a model, checkpoint, deployment or baseline card;
:mod:`neurocv.cli` registers :data:`COMMANDS` in its app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from ._common import check_checkpoint_arg, check_out_file, err, out, wide


def _resolve(model: str):
    """:func:`neurocv.energy.resolve_model`, plus a deployment folder (its model config and reference weights)."""
    from ..energy import resolve_model

    path = Path(model)
    if path.is_dir() and (path / "manifest.json").is_file():
        import torch

        from ..models import model_from_config
        from ..runtime import Deployment

        dep = Deployment.load(path)
        if (dep.path / "reference.safetensors").is_file():
            net, weights = dep.reference_model(), f"deployment {path} (reference weights)"
        else:
            torch.manual_seed(0)
            net, weights = model_from_config(dep.manifest["model"]["config"]).eval(), \
                f"deployment {path} (no reference weights: random initialisation, seed 0)"
        return "deployment", net, {"weights": weights, "train_config": {"segments": dep.segments},
                                   "int8": dep.manifest["onnx"].get("int8")}
    if path.exists():
        check_checkpoint_arg(path)
    return resolve_model(model)



def energy(
    model: Optional[str] = typer.Argument(None, help="Registered variant (stm-base), baseline card (coviar, "
                                                     "cv-c3d), checkpoint file or deployment folder (an int8 "
                                                     "one is priced int8 beside float)."),
    segments: Optional[int] = typer.Option(None, "--segments", min=1, help="Segments per clip (default: the "
                                           "model's / card's)."),
    crops: Optional[int] = typer.Option(None, "--crops", min=1, help="Spatial crops per video (default 1, or "
                                        "the card's)."),
    hardware: str = typer.Option("cmos45nm-fp32", "--hardware", help="A built-in profile (cmos45nm-fp32, "
                                 "cmos45nm-int8, loihi) or a profile JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (layers, total, table1, ...)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print per-layer CSV with a TOTAL row."),
    as_md: bool = typer.Option(False, "--markdown", help="Print a Markdown report."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write the per-layer energy breakdown (PNG)."),
    source: Optional[str] = typer.Option(None, "--input", help="A video, or a dataset PATH[:split], for the "
                                         "spike measurement (default: built-in synthetic clips)."),
    max_videos: int = typer.Option(2, "--max-videos", min=1, help="Videos of --input to average over."),
    from_run: Optional[Path] = typer.Option(None, "--from-run", help="Energy from a runtime's ops JSON "
                                            "(neurocv.ops/1) instead of measuring here."),
    memory: bool = typer.Option(False, "--memory", help="Show the SRAM memory column (never in E_Total)."),
    speed: bool = typer.Option(False, "--speed", help="Also time torch inference (videos/s, this CPU)."),
    count: str = typer.Option("dense", "--count", help="Which op counts price E_Total: dense (Table 1's "
                              "convention, zero inputs and padding counted) or effective (zero inputs skipped, "
                              "padding not counted, as NeuroBench). Both are always reported."),
):
    """Per-layer MACs, ACs, spikes and energy of a model, with totals in the paper's Table 1 columns."""
    from ..energy import load_profile, report_for_card, report_for_model, report_from_run
    from ..energy import torch_speed

    if sum((as_json, as_csv, as_md)) > 1:
        raise ConfigError("choose one of --json, --csv, --markdown")
    from ..models.baselines import list_cards

    if count not in ("dense", "effective"):
        raise ConfigError(f"--count must be dense or effective, got {count!r}")
    profile = load_profile(hardware)
    if count == "effective" and (from_run is not None or model in list_cards()):
        raise ConfigError(f"{from_run or model}: only dense counts there (effective counts need a real forward "
                          f"pass of one of our models on sample clips); use --count dense")
    if plot is not None:
        check_out_file(plot, "--plot")
    if from_run is not None and model is not None:
        raise ConfigError(f"give MODEL or --from-run, not both: {from_run} names the model it measured")
    if from_run is not None:
        report = report_from_run(from_run, profile)
    elif model is None:
        raise ConfigError("give a MODEL (variant, baseline, checkpoint or deployment folder) or --from-run "
                          "OPS.json")
    else:
        kind, net, info = _resolve(model)
        if kind == "card":
            report = report_for_card(info["card"], profile, segments, crops)
        else:
            seg = segments or info.get("train_config", {}).get("segments") or net.config.segments
            report = report_for_model(model, net, profile, seg, crops or 1, source, max_videos,
                                      weights=info["weights"], count=count)
            if info.get("int8"):       # an int8 deployment: its integer MACs on cmos45nm-int8, beside float
                from ..energy.measure import apply_int8

                apply_int8(report, info["int8"])
            if speed:
                report.speed["torch_cpu_videos_per_s"] = torch_speed(net, seg)
    if plot is not None:
        report.plot(plot)
        err.print(f"wrote {plot}")
    if as_json:
        print(report.to_json())
    elif as_csv:
        print(report.to_csv(), end="")
    elif as_md:
        print(report.to_markdown(), end="")
    else:
        report.render(wide(out, 170 if report.has_int8 else 140), memory=memory)   # 12 or 14 columns
        if report.speed.get("torch_cpu_videos_per_s"):
            out.print(f"torch (CPU, batch 1): {report.speed['torch_cpu_videos_per_s']:.3f} videos/s")


#: this stage's commands, by name, in the order ``neurocv --help`` lists them
COMMANDS = {"energy": energy}
