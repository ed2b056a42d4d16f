"""`neurocv` commands for the deploy stage; :mod:`neurocv.cli` registers :data:`COMMANDS` in its app.

* ``neurocv export CKPT -o DEPLOY/`` - ONNX + NIR + manifest, validated
  (:func:`neurocv.exporters.deploy.export_deployment`)
* ``neurocv fit DEPLOY [--chips N] [--system kapoho-point|FILE] [--from-run OPS.json] [--json]`` - the STM layers
  placed on a multi-chip Loihi 2 system (:mod:`neurocv.hardware.placement`)
* ``neurocv run DEPLOY VIDEO... --backend lava-float|lava-fixed|torch [--ann float|int8] [--check] [--json]
  [--ops FILE]`` - the stitched runtime (:mod:`neurocv.runtime`). A video that fails is reported on stderr (one
  line) and the others still run; the exit status is 1 if any video failed. A deployment or backend that cannot
  start is fatal (exit 2).
* ``neurocv crosscheck DEPLOY VIDEO... [--simulators A,B] [--float64] [--json]`` - the same STM files in every
  simulator against the torch model (:mod:`neurocv.crosscheck`)
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import List, Optional

import typer

from .._io import atomic_open
from ..errors import NeuroCVError
from ..runtime import BACKENDS
from ._common import check_checkpoint_arg, check_out_dir, check_out_file, err, on_interrupt, out, wide

#: the float operators named on the console after an int8 export (every one, with its reason, is in the manifest)
FLOAT_SHOWN = ("MatMul", "Softmax", "LayerNormalization", "BatchNormalization", "Erf", "Gelu", "ReduceMean", "Div")



def export_cmd(checkpoint: Path,
               out_dir: Path = typer.Option(..., "--out", "-o", help="Deployment folder to write."),
               segments: Optional[int] = typer.Option(None, "--segments", min=1,
                                                      help="Segments per clip (default: the training value)."),
               crop: Optional[int] = typer.Option(None, "--crop", min=8, help="Clip size (default: training)."),
               dt_s: float = typer.Option(1e-3, "--dt", help="Seconds per STM time step (stated in the NIR)."),
               reference: bool = typer.Option(True, "--reference/--no-reference",
                                              help="Ship the torch weights that `run --check` compares with."),
               netx: Optional[bool] = typer.Option(None, "--netx/--no-netx",
                                                   help="Also write lava-dl netx files (stm_*.net; default: "
                                                        "for neuron=lif models; --netx fails for the paper's "
                                                        "STM)."),
               int8: bool = typer.Option(False, "--int8", help="Also write ann.int8.onnx: the ANN partition "
                                         "quantized to int8 (QDQ), calibrated and validated against torch."),
               calibrate: Optional[Path] = typer.Option(None, "--calibrate", help="Dataset whose train split "
                                                        "calibrates --int8 (default: the checkpoint's "
                                                        "training data)."),
               calibration_clips: Optional[int] = typer.Option(None, "--calibration-clips", min=1,
                                                               help="Calibration clips (default 64; 8 random "
                                                                    "ones for a variant name)."),
               as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON.")):
    """Export a checkpoint for deployment: ann.onnx, stm_mv.nir, stm_residual.nir, manifest.json. CHECKPOINT
    may be a registered variant (stm-base): random weights, for sizing, placement and speed."""
    from ..exporters.deploy import export_deployment, is_variant_name

    if dt_s <= 0:
        raise typer.BadParameter(f"must be > 0 seconds, got {dt_s:g}", param_hint="'--dt'")
    if (calibrate is not None or calibration_clips is not None) and not int8:
        raise typer.BadParameter("only with --int8", param_hint="'--calibrate' / '--calibration-clips'")
    if is_variant_name(checkpoint):
        err.print(f"note: {checkpoint} is a registered variant: its weights are random (seed 0), untrained; "
                  f"the deployment is for sizing, placement and speed, not for accuracy", highlight=False)
    else:
        check_checkpoint_arg(checkpoint)
    check_out_dir(out_dir, "--out")
    on_interrupt(f"nothing was written ({out_dir} is as it was); run the same command again to export")
    with err.status("exporting") as status:
        manifest = export_deployment(checkpoint, out_dir, segments=segments, crop=crop, dt_s=dt_s,
                                     reference=reference, netx=netx, int8=int8, calibrate=calibrate,
                                     calibration_clips=calibration_clips,
                                     progress=lambda text: status.update(text))
    report = json.loads((out_dir / "validation.json").read_text())
    if as_json:
        print(json.dumps(manifest))
        return
    inp = manifest["input"]
    out.print(f"wrote {out_dir}: {', '.join(manifest['files'])}")
    out.print(f"  model {manifest['model']['name']}, {len(manifest['model']['classes'])} classes, "
              f"{inp['segments']} segments at {inp['crop']}x{inp['crop']}, ONNX opset {manifest['onnx']['opset']}")
    out.print(f"  onnxruntime vs torch: max |diff| {report['onnx']['outputs']['logits']['max_abs_diff']:.3g} "
              f"(atol {manifest['tolerances']['onnx']['atol']:g})")
    for m, r in report["stm"].items():
        out.print(f"  STM {m} from NIR vs torch: max |diff| {r['max_abs_diff']:.3g}; numpy reference "
                  f"{r['numpy_reference_max_abs_diff']:.3g}")
    out.print(f"  stitched pipeline vs torch (logits): max |diff| "
              f"{report['pipeline']['logits']['max_abs_diff']:.3g}")
    for m, r in (report.get("netx") or {}).items():
        out.print(f"  netx {r['file']}: spikes per layer fixed {r['fixed']['spikes']}, float {r['float']['spikes']}"
                  f", torch {r['torch_spikes']} (sample clip)", highlight=False)
    for r in (report.get("nir") or {}).values():
        libs = [f"{x['library']} {'same spikes' if x['spikes_equal'] else x['reason'] or 'spikes differ'}"
                for x in r.get("libraries", [])]
        prec = next((x.get("precision") for x in r.get("libraries", [])), None)
        out.print(f"  {r['portability']}" + (f" ({', '.join(libs)}; sample clip"
                                             + (f", {prec}" if prec else "") + ")" if libs else ""),
                  highlight=False)
    for fit in (manifest.get("fit") or {}).values():
        out.print(f"  STMs {fit['message']}", highlight=False)
    if manifest.get("placement"):
        out.print(f"  STMs {manifest['placement']['message']}", highlight=False)
    q = manifest["onnx"].get("int8")
    if q:
        v, files = report["int8"], manifest["files"]
        ratio = files["ann.onnx"]["bytes"] / files[q["file"]]["bytes"]
        out.print(f"  int8 {q['file']}: {ratio:.1f}x smaller than ann.onnx; calibrated on "
                  f"{q['calibration']['source']}", highlight=False)
        out.print(f"  int8 vs torch on {v['clips_desc']}: {v['same_top1']}/{v['clips']} same top-1, max |logit "
                  f"diff| {v['max_abs_logit_diff']:.3g} (largest |logit| {v['max_abs_logit']:.3g})",
                  highlight=False)
        out.print("  int8: kept float: " + ", ".join(
            k["op"] + (" (attention probabilities x V)" if k["op"] == "MatMul" else "")
            for k in q["kept_float"] if k["op"] in FLOAT_SHOWN) + " (reasons in manifest.json)", highlight=False)

def run_cmd(deploy: Path, videos: List[Path],
            backend: str = typer.Option("lava-float", "--backend", "-b",
                                        help=f"Spiking backend: {', '.join(BACKENDS)}."),
            check: bool = typer.Option(False, "--check", help="Also run the torch model; report differences."),
            as_json: bool = typer.Option(False, "--json", help="One JSON object per video (JSON lines)."),
            ops: Optional[Path] = typer.Option(None, "--ops", help="Write the operation counts (JSON) here."),
            top: int = typer.Option(5, "--top", min=1, max=5),
            ann: str = typer.Option("float", "--ann", help="ANN partition: float (ann.onnx) or int8 "
                                    "(ann.int8.onnx, from `export --int8`).")):
    """Classify videos with a deployment: reader -> STMs (Lava or torch) -> onnxruntime -> top-5."""
    from ..runtime import ANN_PRECISIONS, Deployment

    if backend not in BACKENDS:
        raise typer.BadParameter(f"{backend!r} is not one of {', '.join(BACKENDS)}", param_hint="'--backend'")
    if ann not in ANN_PRECISIONS:
        raise typer.BadParameter(f"{ann!r} is not one of {', '.join(ANN_PRECISIONS)}", param_hint="'--ann'")
    if ops is not None:
        check_out_file(ops, "--ops")
    dep = Deployment.load(deploy, ann=ann)
    on_interrupt("the results printed so far stand" + (f"; {ops} was not written" if ops else "") +
                 "; run again with the videos not yet listed")
    failed = 0
    results: list[dict] = []

    def one(video: Path) -> None:
        nonlocal failed
        try:
            r = session.run_video(video)
            results.append(r)
        except NeuroCVError as exc:
            failed += 1
            err.print(f"error: {video}: {exc}" if str(video) not in str(exc) else f"error: {exc}",
                      markup=False, highlight=False, soft_wrap=True)
            if as_json:
                print(json.dumps({"video": str(video), "error": str(exc)}), flush=True)
            return
        if as_json:       # streamed: one line as each video finishes
            print(json.dumps({k: v for k, v in r.items() if k != "logits"}), flush=True)
            return
        out.print(f"[bold]{r['video']}[/]  top-1 {r['top1']}"
                  + (f"  (torch {r['torch_top1']})" if check else ""), highlight=False)
        for p in r["top5"][:top]:
            out.print(f"  {p['probability']:.3f}  {p['class']}", highlight=False)
        if check:
            out.print("  max |diff| " + ", ".join(f"{k} {v:.3g}" for k, v in r["max_abs_diff"].items()),
                      highlight=False)

    session = dep.session(backend, check=check)
    # the first video decodes while the backend starts (the Lava worker: a second or more)
    with _decode_ahead(session, videos), session, _video_progress(err, backend, len(videos)) as advance:
        for video in videos:
            one(video)
            advance()
        report = session.ops_report()
    if check and len(results) > 1 and not as_json:
        _print_check_summary(out, results, dep)
    if ops is not None:
        with atomic_open(ops, "w") as fh:
            json.dump(report, fh, indent=1)
        err.print(f"wrote {ops}: operation counts of {report['n_videos']} video(s)", highlight=False)
    if failed:
        err.print(f"{failed} of {len(videos)} video(s) failed", highlight=False)
        raise typer.Exit(1)

def fit_cmd(deploy: Path,
            chips: Optional[int] = typer.Option(None, "--chips", help="Place on exactly N chips (default: "
                                                "the fewest that hold the STMs)."),
            system: str = typer.Option("loihi2", "--system", help="loihi2 (any number of chips), "
                                       "kapoho-point (8 Loihi 2 chips), or a chip / system JSON file."),
            from_run: Optional[Path] = typer.Option(None, "--from-run", help="Spike counts of a run "
                                                    "(`neurocv run ... --ops OPS.json`) for the cross-chip "
                                                    "traffic (default: the all-spiking bound)."),
            as_json: bool = typer.Option(False, "--json", help="Print the placement as one JSON object.")):
    """Place a deployment's STM layers on the cores of a multi-chip Loihi 2 system: cores per chip, layers
    split across chips, and the spikes that cross chips per time step."""
    from ..hardware.placement import load_system, place, spikes_from_run
    from ..runtime import Deployment

    sysm = load_system(system)                 # an unknown system: one line, before reading anything else
    dep = Deployment.load(deploy, ann=None)
    spikes, source = spikes_from_run(from_run) if from_run is not None else (None, None)
    placement = place(list(dep.specs.values()), sysm, chips=chips, spikes_per_step=spikes,
                      spikes_source=source)
    report = {"deployment": str(deploy), "model": dep.manifest["model"]["name"],
              "input": {"segments": dep.segments, "crop": dep.crop}, **placement.to_dict()}
    if as_json:
        print(json.dumps(report))
        return
    _print_placement(out, report)

def crosscheck_cmd(deploy: Path, videos: List[Path],
                   simulators: Optional[str] = typer.Option(
                       None, "--simulators", "-s", help="Comma-separated simulators (default: every one)."),
                   as_json: bool = typer.Option(False, "--json", help="One JSON object, a row per simulator."),
                   float64: bool = typer.Option(False, "--float64", help="Run the torch model and every "
                                                "simulator that can (torch, numpy, norse, snnTorch, nirtorch) "
                                                "in float64 from the files' float32 parameters: rounding "
                                                "that depends on each library's order of operations drops "
                                                "from 2^-24 to 2^-53.")):
    """The same STM files in every simulator (torch, numpy, Lava, netx, norse, snnTorch, nirtorch) against the
    torch model: loaded?, spike counts, largest membrane difference, top-1 after the ANN partition."""
    from ..crosscheck import crosscheck

    names = [s.strip() for s in simulators.split(",") if s.strip()] if simulators else None
    try:
        report = crosscheck(deploy, videos, names, progress=lambda m: err.print(m, highlight=False),
                            float64=float64)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--simulators'") from None
    if as_json:
        print(json.dumps(report))
        return
    _print_crosscheck(out, report)


def _print_placement(out, r: dict) -> None:
    """The placement as two tables (cores per chip and layer; chip-to-chip spikes per step) and its assumptions."""
    from rich.table import Table

    out.print(f"{r['model']} ({r['input']['segments']} time steps, {r['input']['crop']}x{r['input']['crop']}): "
              f"{r['message']}", highlight=False)
    chips = Table(title="cores per chip and layer", title_justify="left")
    chips.add_column("layer")
    chips.add_column("neurons", justify="right")
    for k in range(r["chips"]):
        chips.add_column(f"chip {k}", justify="right")
    for layer in r["layers"]:
        chips.add_row(layer["name"], f"{layer['neurons']:,}",
                      *[str(layer["chips"].get(str(k), "")) for k in range(r["chips"])])
    chips.add_row("cores", "", *[f"{c} / {r['chip_limits']['cores_per_chip']}" for c in r["cores_per_chip"]])
    console = wide(out, 120)
    console.print(chips)
    if r["traffic"]:
        traffic = Table(title=f"spikes per time step ({r['spikes_source']})", title_justify="left")
        for col in ("from", "to", "spikes", "cross chips"):
            traffic.add_column(col, justify="left" if col in ("from", "to") else "right")
        for t in r["traffic"]:
            traffic.add_row(t["layer"], t["to"], f"{t['spikes_per_step']:,.0f}",
                            f"{t['cross_chip_spikes_per_step']:,.0f}")
        console.print(traffic)
    for a in r["assumptions"]:
        out.print(f"[dim]assumption: {a}[/]", highlight=False, soft_wrap=True)


def _print_check_summary(out, results: list[dict], dep) -> None:
    """After ``run --check`` on several videos: how many kept torch's top-1, the largest logit difference, and,
    where each video sits in a folder named after its class (a dataset's layout), the accuracy of both."""
    n = len(results)
    same = sum(r["top1"] == r["torch_top1"] for r in results)
    worst = max(r["max_abs_diff"]["logits"] for r in results)
    out.print(f"{dep.precision} ANN: {same}/{n} videos same top-1 as torch; largest logit difference {worst:.3g}",
              highlight=False)
    labels = [Path(r["video"]).parent.name for r in results]
    if all(label in dep.classes for label in labels):
        acc = sum(r["top1"] == lb for r, lb in zip(results, labels)) / n
        ref = sum(r["torch_top1"] == lb for r, lb in zip(results, labels)) / n
        out.print(f"accuracy (each video's folder names its class): {100 * acc:.1f} % ({dep.precision} ANN), "
                  f"{100 * ref:.1f} % (torch), {100 * (acc - ref):+.1f} points", highlight=False)


@contextlib.contextmanager
def _decode_ahead(session, videos: list):
    """While one video runs, decode the next in a thread (the first as soon as this is entered, before the
    backend starts): the STMs run in the Lava worker's processes and onnxruntime releases the GIL, so decoding
    overlaps them. ``session.read`` is wrapped for the duration; a video
    that fails to decode raises from ``read`` as it would have (its error is reported as before). The JSON's
    ``timing_s.decode`` is then the wait for the decoded clip."""
    from concurrent.futures import ThreadPoolExecutor

    read = session.read
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode-ahead")
    pending: list = []          # (video, future), in the order run_video will ask for them
    queue = list(videos)

    def ahead():
        if queue:
            video = queue.pop(0)
            pending.append((video, pool.submit(read, video)))

    def read_ahead(video):
        if not pending:
            ahead()
        got, fut = pending.pop(0) if pending else (None, None)
        ahead()                                        # the next one decodes while this one runs
        if got is None or str(got) != str(video):    # asked out of order: decode it here
            return read(video)
        return fut.result()

    session.read = read_ahead
    ahead()
    try:
        yield
    finally:
        session.read = read
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _video_progress(err, label: str, total: int):
    """A progress bar on stderr (``err``) over ``total`` videos, gone when done; none for a single video. Yields
    ``advance()``. Results keep going to stdout as they come (stdout is not redirected through the bar)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err, transient=True, redirect_stdout=False, redirect_stderr=False,
                  disable=total < 2) as bar:
        task = bar.add_task(f"running videos ({label})", total=total)
        yield lambda: bar.advance(task)


def _print_crosscheck(out, report: dict) -> None:
    """The crosscheck table (one row per simulator and STM layer); why a simulator did not load is a note below."""
    from rich.table import Table

    n = len(report["videos"])
    table = Table(title=f"crosscheck: {report['model']} ({', '.join(f'{m}: {k}' for m, k in report['neuron'].items())}"
                        f"), {n} video(s), against the torch model"
                        + (" (float64 where the simulator can)" if report.get("precision") == "float64" else ""),
                  title_justify="left")
    for col, just in (("simulator", "left"), ("loaded", "left"), ("layer", "left"), ("spikes", "right"),
                      ("torch", "right"), ("equal", "left"), ("max |dv|", "right"), ("top-1 = torch", "right")):
        table.add_column(col, justify=just, no_wrap=True)
    notes = []
    for row in report["simulators"]:
        if not row["loaded"]:
            why = row["reason"] if row["reason"].startswith(row["simulator"]) else f"{row['simulator']}: {row['reason']}"
            notes.append(f"({len(notes) + 1}) {why}")
            table.add_row(row["simulator"], f"no ({len(notes)})", "", "", "", "", "", "")
            continue
        for k, layer in enumerate(row["layers"]):
            dv = layer["max_membrane_diff"]
            table.add_row(row["simulator"] if k == 0 else "", "yes" if k == 0 else "",
                          layer["layer"].replace("temporal.", "").replace("layers.", ""),
                          f"{layer['spikes']:.0f}", f"{layer['torch_spikes']:.0f}",
                          "yes" if layer["spikes_equal"] else "no", "-" if dv is None else f"{dv:.2g}",
                          f"{row['same_top1']}/{n}" if k == 0 else "")
    wide(out, 100).print(table)
    for note in notes:
        out.print(note, highlight=False, markup=False, soft_wrap=True)


#: this stage's commands, by name, in the order ``neurocv --help`` lists them
COMMANDS = {"export": export_cmd, "run": run_cmd, "fit": fit_cmd, "crosscheck": crosscheck_cmd}
