"""``neurocv export``: a trained model -> a deployment folder the runtime (:mod:`neurocv.runtime`) runs.

Folder layout::

    ann.onnx               ANN partition (patch embeddings, transformer, mixer, RRDB, head), dynamic batch
    ann.int8.onnx          the same partition quantized to int8 (QDQ; ``--int8``, see :mod:`.int8`)
    stm_mv.nir             spiking partition: the motion-vector STM     (only for modalities the model uses)
    stm_residual.nir       spiking partition: the residual STM
    stm_mv.net, stm_residual.net   the same STMs as lava-dl netx files (Loihi integers; LIF models only, see
                           :mod:`neurocv.hardware.formats.netx_format`)
    reference.safetensors  the whole torch model's weights (``neurocv run --check`` compares against it)
    validation.json        what was checked at export and the largest differences seen
    manifest.json          versions, model config, classes, clip settings, boundary shapes, dt, tolerances,
                           normalisation, ANN MACs, sha256 of every file above; written last

Validation at export (each with a named tolerance, recorded in ``validation.json``):

* ONNX: checker, names and shapes, onnxruntime vs torch at batches 1 and 3 (:func:`~.onnx_export.export_onnx`);
* NIR: ``nir.write`` / ``nir.read`` round trip (:func:`~.nir_export.write_stm_nir`), then the STM rebuilt from the
  file in torch against the model's own STM on sample clips (:data:`STM_TOLERANCE`), and the numpy reference
  simulation's difference (reported; its float32 summation order differs from torch's, so a membrane within
  ~1e-7 of the threshold can flip one spike);
* the stitched pipeline (STMs from NIR in torch, then onnxruntime) against the whole torch model
  (:data:`RUNTIME_TOLERANCE` on the logits).

The folder is assembled in a temporary sibling and moved into place at the end, so a failed export leaves a
previous deployment at ``out_dir`` untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .._io import _umask, atomic_open, atomic_path
from ..dynamics.kinds import get_kind
from ..errors import DeploymentError, NeuroCVError
from .onnx_export import ONNX_TOLERANCE, Tolerance, compare_outputs, export_onnx
from .partition import ANN_OUTPUT, Partition, partition_model

__all__ = ["FORMAT", "STM_TOLERANCE", "RUNTIME_TOLERANCE", "export_deployment", "sha256", "library_versions"]

FORMAT = "neurocv.deployment/1"
#: STM rebuilt from the NIR file (torch) vs the model's STM: the same float32 arithmetic, so exact in practice
STM_TOLERANCE = Tolerance("nir-stm-vs-torch", atol=1e-5, rtol=1e-5)
#: stitched pipeline (STMs from NIR + onnxruntime) vs the whole torch model, on the logits
RUNTIME_TOLERANCE = Tolerance("runtime-vs-torch", atol=1e-3, rtol=1e-3)
DEFAULT_DT_S = 1e-3


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a deployment depends on (recorded in the manifest)."""
    import nir
    import onnx
    import onnxruntime

    from .. import __version__

    return {"neurocv": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "nir": getattr(nir, "__version__", "unknown"),
            "numpy": np.__version__, "python": platform.python_version()}


def is_variant_name(source) -> bool:
    """``source`` names a registered model variant (and no file or folder of that name exists here)."""
    from ..models import list_models

    return isinstance(source, (str, Path)) and not Path(source).exists() and str(source) in list_models()


def _load_source(source, classes, segments, crop, name):
    """(model, name, classes, segments, crop, accumulate, info) from a checkpoint path, a registered variant name
    (random weights, seed 0) or a model; ``info``: ``{"data": training data folder or None, "untrained": bool}``."""
    from ..models import CompressedVideoTransformer, create_model

    if is_variant_name(source):
        torch.manual_seed(0)
        size = {"input_size": (crop, crop)} if crop else {}
        name = name or str(source)
        source = create_model(str(source), **size, **({"segments": segments} if segments else {})).eval()
        untrained = True
    else:
        untrained = False
    if isinstance(source, CompressedVideoTransformer):
        cfg = source.config
        if crop is None and cfg.input_size[0] != cfg.input_size[1]:
            raise DeploymentError(f"model input_size {cfg.input_size} is not square; pass crop=")
        classes = list(classes) if classes is not None else [f"class_{k}" for k in range(cfg.num_classes)]
        return (source, name or "model", classes, segments or cfg.segments, crop or cfg.input_size[0], cfg.accumulate,
                {"data": None, "untrained": untrained})
    from ..checkpoint import build_model_from_checkpoint, input_settings, load_checkpoint

    ckpt = load_checkpoint(source)
    seg, crop, acc = input_settings(ckpt, segments, crop)
    return (build_model_from_checkpoint(ckpt), name or str(ckpt["model"]), list(ckpt["classes"]), seg, crop, acc,
            {"data": ckpt.get("data"), "untrained": False})


def _validate_spiking(part: Partition, files: dict[str, Path], seed: int) -> tuple[dict, dict]:
    """Torch STMs rebuilt from the NIR files vs the model's STMs, and the numpy reference; plus the specs."""
    from ..hardware.formats.stm_spec import load_stm_spec, simulate_numpy
    from ..hardware.sims.torch_sim import TorchSimulator

    specs = {m: load_stm_spec(files[m]) for m in part.spiking}
    runner = TorchSimulator.from_specs(specs)
    inputs = part.sample_inputs(1, seed)
    ref = part.boundary_inputs(inputs)
    report = {}
    for m, sp in part.spiking.items():
        x = part.pad(inputs[sp.input.name][0].numpy())
        u = runner.run(m, x).output
        want = ref[sp.output.name][0].numpy()
        rep = compare_outputs({sp.output.name: u}, {sp.output.name: want}, STM_TOLERANCE,
                              f"{files[m].name} (torch from NIR vs model)")[sp.output.name]
        u_np, _ = simulate_numpy(specs[m], x)
        rep["numpy_reference_max_abs_diff"] = float(np.abs(u_np - want).max())
        report[m] = rep
    return report, specs


def _validate_pipeline(part: Partition, specs: dict, onnx_path: Path, seed: int) -> dict:
    """STMs from NIR (torch) + onnxruntime vs the whole torch model on two sample clips."""
    from ..hardware.onnx_backend import OnnxSession
    from ..hardware.sims.torch_sim import TorchSimulator

    sess = OnnxSession(onnx_path)
    runner = TorchSimulator.from_specs(specs)
    worst = 0.0
    for k in range(2):
        inputs = part.sample_inputs(1, seed + 10 + k)
        with torch.no_grad():
            want = part.model(*[inputs.get(n) for n in ("iframes", "mvs", "residuals")]).numpy()
        feeds = {}
        for s in part.boundary:
            m = next((m for m, p in part.spiking.items() if p.output.name == s.name), None)
            if m is None:
                feeds[s.name] = inputs[s.name].numpy()
            else:
                x = part.pad(inputs[part.spiking[m].input.name][0].numpy())
                feeds[s.name] = runner.run(m, x).output[None]
        got = sess.run(feeds)
        rep = compare_outputs(got, {ANN_OUTPUT: want}, RUNTIME_TOLERANCE, f"stitched pipeline on sample clip {k}")
        worst = max(worst, rep[ANN_OUTPUT]["max_abs_diff"])
    return {ANN_OUTPUT: {"max_abs_diff": worst, "ok": True}, "clips": 2}


def _write_netx(part: Partition, specs: dict, tmp_dir: Path, seed: int, netx: bool | None) -> dict | None:
    """lava-dl netx files for LIF models (``netx=None``: when every STM is LIF; ``True``: required, ExportError in
    one line for the paper's STM; ``False``: none). Validated by reading each file back and running the numpy model
    of what Lava computes from it (fixed and float) against the model's STM on a sample clip: spikes per layer and
    the largest readout difference are recorded (quantisation may flip spikes near threshold; not a failure)."""
    from ..hardware.formats.netx_format import check_netx_compatible, read_netx, simulate_netx_numpy, write_netx
    from ..hardware.sims.torch_sim import TorchSimulator

    if netx is False or (netx is None and any(not get_kind(spec.neuron).portable for spec in specs.values())):
        return None
    for m, spec in specs.items():
        check_netx_compatible(spec, f"{part.spiking[m].file_stem}.net")
    report = {}
    torch_sim = TorchSimulator.from_specs(specs)
    inputs = part.sample_inputs(1, seed)
    for m, sp in part.spiking.items():
        path = tmp_dir / f"{sp.file_stem}.net"
        written = write_netx(specs[m], path)
        back = read_netx(path)
        if any(not np.array_equal(a.weight, b.weight) or a.v_th != b.v_th for a, b in zip(written.layers,
                                                                                         back.layers)):
            raise DeploymentError(f"{path.name}: netx file does not read back as written")
        x = part.pad(inputs[sp.input.name][0].numpy())
        ref = torch_sim.run(m, x)
        rep = {"file": path.name, "input_bits": back.input_bits, "readout": back.readout,
               "layers": [{"name": l.name, "scale": l.scale, "weight_exp": l.weight_exp, "vThMant": l.v_th,
                           "vDecay": l.v_decay, "bias_saturated": l.bias_saturated} for l in back.layers]}
        for mode in ("float", "fixed"):
            y, counts, _ = simulate_netx_numpy(back, x, mode)
            rep[mode] = {"spikes": [c["spikes"] for c in counts["layers"]],
                         "max_abs_diff": float(np.abs(y - ref.output).max())}
        rep["torch_spikes"] = [c["spikes"] for c in ref.counts["layers"]]
        report[m] = rep
    return report


def _with_netx(partition: dict, netx_report: dict | None) -> dict:
    for m, rep in (netx_report or {}).items():
        partition["spiking"][m]["netx_file"] = rep["file"]
    return partition


def _fit_check(specs: dict) -> dict | None:
    """Loihi fit check of both STMs together (:func:`neurocv.hardware.fit.fit_check`), per built-in chip; informs,
    never blocks an export. ``None`` if that module is absent."""
    try:
        from ..hardware.fit import fit_check
    except ImportError:
        return None
    out = {}
    for chip in ("loihi2", "loihi1"):
        try:
            out[chip] = fit_check(list(specs.values()), chip).to_dict()
        except NeuroCVError as e:
            out[chip] = {"ok": None, "message": f"fit check failed: {e}"}
    return out


def _placement(specs: dict) -> dict | None:
    """The STMs placed on the fewest Loihi 2 chips (:func:`neurocv.hardware.placement.place`), all-spiking bound
    for the traffic; informs, never blocks an export."""
    from ..hardware.placement import place

    try:
        return place(list(specs.values()), "loihi2").to_dict()
    except NeuroCVError as e:
        return {"ok": False, "message": f"no placement: {e}"}


def _prepare_target(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DeploymentError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / "manifest.json").exists():
            raise DeploymentError(f"{out_dir}: folder is not empty and holds no deployment (no manifest.json); "
                                  f"choose an empty or new folder")


def _publish(tmp_dir: Path, out_dir: Path) -> None:
    """Move the finished folder into place; an older deployment there is replaced."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{time.time_ns()}")
        out_dir.rename(old)
    tmp_dir.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_deployment(source, out_dir: str | Path, *, classes: list[str] | None = None, segments: int | None = None,
                      crop: int | None = None, dt_s: float = DEFAULT_DT_S, reference: bool = True,
                      seed: int = 0, name: str | None = None, netx: bool | None = None, int8: bool = False,
                      calibrate: str | Path | None = None, calibration_clips: int | None = None,
                      progress=None) -> dict:
    """Export a checkpoint (path), a registered variant name (random weights, seed 0: for sizing) or a
    :class:`~neurocv.models.CompressedVideoTransformer` to ``out_dir``.

    ``int8``: also write ``ann.int8.onnx`` (:mod:`.int8`), calibrated on ``calibration_clips`` clips of the train
    split of ``calibrate`` (default: the data the checkpoint was trained on; random inputs for a variant name) and
    validated on up to :data:`~.int8.VALIDATION_CLIPS` clips of its test split. ``progress``: called with a line
    of text as each long step starts.

    ``segments`` / ``crop`` default to the checkpoint's training settings (as ``neurocv eval`` uses them), for a
    model to its config. ``dt_s``: seconds per STM time step, stated in the NIR files. ``name``: the model's name
    in the manifest and the ops JSON (default: the checkpoint's variant name, or "model"). A model passed in is
    switched to eval mode with the plain Heaviside (no effect on its forward values). Returns the manifest.
    Raises ConfigError (model not partitionable), ExportError / EquivalenceError (validation), DeploymentError.
    """
    from ..data.transforms import Normalization
    from ..models import count_macs
    from .nir_export import write_stm_nir

    out_dir = Path(out_dir)
    _prepare_target(out_dir)
    model, name, classes, segments, crop, accumulate, info = _load_source(source, classes, segments, crop, name)
    calib_data = None
    if int8:
        from .int8 import calibration_source

        calib_data = calibration_source(source, info, calibrate)
    say = progress or (lambda text: None)
    if len(classes) != model.config.num_classes:
        raise DeploymentError(f"{len(classes)} class names for a model with {model.config.num_classes} classes")
    model.eval().set_surrogate(False)
    part = partition_model(model, segments, (crop, crop))
    calib = None
    if int8:                 # the clips first: a calibration set without readable clips fails before any work
        from .int8 import prepare_calibration

        calib = prepare_calibration(part, calib_data, calibration_clips, accumulate, seed, say,
                                    trained=not info["untrained"])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    os.chmod(tmp_dir, 0o777 & ~_umask())   # mkdtemp makes 0700: give the folder the permissions mkdir would
    try:
        t0 = time.perf_counter()
        say("exporting the ANN partition to ONNX")
        onnx_report = export_onnx(part, tmp_dir / "ann.onnx", seed=seed)
        nir_files, nir_reports = {}, {}
        for m, sp in part.spiking.items():
            nir_files[m] = tmp_dir / f"{sp.file_stem}.nir"
            write_stm_nir(sp.stm, nir_files[m], sp.input.shape[1:], dt_s=dt_s, names=list(sp.layer_names),
                          report=nir_reports.setdefault(m, {}))     # portable (lif) files: run in the SNN libraries
        t1 = time.perf_counter()
        stm_report, specs = _validate_spiking(part, nir_files, seed)
        netx_report = _write_netx(part, specs, tmp_dir, seed, netx)
        pipeline = _validate_pipeline(part, specs, tmp_dir / "ann.onnx", seed)
        int8_report = None
        if int8:
            from .int8 import export_int8

            int8_report = export_int8(part, tmp_dir, calib, say, label=str(out_dir / "ann.int8.onnx"))
        if reference:
            from safetensors.torch import save_file

            state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
            with atomic_path(tmp_dir / "reference.safetensors") as tmp:
                save_file(state, str(tmp))
        validation = {"passed": True, "onnx": onnx_report, "stm": stm_report, "pipeline": pipeline,
                      **({"netx": netx_report} if netx_report else {}),
                      **({"int8": int8_report["validation"]} if int8_report else {}),
                      "nir_round_trip": "ok", "nir": nir_reports, "export_s": round(t1 - t0, 3),
                      "validate_s": round(time.perf_counter() - t1 + onnx_report["validate_s"], 3)}
        with atomic_open(tmp_dir / "validation.json", "w") as fh:
            json.dump(validation, fh, indent=1)
        files = {}
        for path in sorted(tmp_dir.iterdir()):
            role = {"ann.onnx": "ann", "ann.int8.onnx": "ann-int8", "reference.safetensors": "reference",
                    "validation.json": "report"}.get(path.name, "stm")
            files[path.name] = {"role": role, "bytes": path.stat().st_size, "sha256": sha256(path)}
        h, w = part.input_size
        manifest = {
            "format": FORMAT,
            "versions": library_versions(),
            "model": {"name": name, "config": model.config_dict(), "classes": classes},
            "input": {"segments": segments, "crop": crop, "size": [h, w], "padded_size": list(part.padded_size),
                      "accumulate": bool(accumulate), "normalization": asdict(Normalization()),
                      "transform": "test: resize short side to crop*256/224, centre crop (neurocv eval)"},
            "partition": _with_netx(part.to_dict(), netx_report),
            "onnx": {"file": "ann.onnx", "opset": onnx_report["opset"], "batch_axis": "batch",
                     **({"int8": int8_report["manifest"]} if int8_report else {})},
            "weights": "random initialisation (seed 0), untrained" if info["untrained"] else "trained",
            "dt_s": next((s.dt_s for s in specs.values()), dt_s),     # a portable (lif) file fixes its own
            "tolerances": {"onnx": ONNX_TOLERANCE.to_dict(), "stm": STM_TOLERANCE.to_dict(),
                           "runtime": RUNTIME_TOLERANCE.to_dict()},
            "ops": {"ann_macs": count_macs(model, (h, w), segments, part="ann"),
                    "stm_dense_macs": count_macs(model, (h, w), segments, part="spiking")},
            "fit": _fit_check(specs),
            "placement": _placement(specs),
            "files": files,
        }
        with atomic_open(tmp_dir / "manifest.json", "w") as fh:
            json.dump(manifest, fh, indent=1)
        _publish(tmp_dir, out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return manifest
