"""ANN partition -> ONNX, validated at export.

:func:`export_onnx` traces the :class:`~neurocv.exporters.partition.ANNPartition` with torch's dynamo exporter
(opset :data:`OPSET`; the legacy TorchScript exporter bakes the batch size into a Reshape of this model), with a
dynamic batch axis named ``batch``. It traces with a batch of 2: an example batch of 1 would freeze the axis.
The file is written through a temporary path and published only after it passes :func:`validate_onnx`:

1. ``onnx.checker.check_model(full_check=True)`` (structure and shape inference);
2. inputs and outputs carry the partition's names and shapes (``batch`` symbolic on axis 0);
3. onnxruntime against torch on sample inputs at batch sizes other than the traced one, every output within a
   named :class:`Tolerance`; all failures are collected into ONE :class:`~neurocv.errors.EquivalenceError` that
   lists each output's largest absolute difference.

Attention goes through ``scaled_dot_product_attention`` and exports as MatMul/Softmax; GELU, LayerNorm, the
mixer's nearest upsampling and average pooling all have opset-18 ops.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_path
from ..errors import EquivalenceError, ExportError
from .partition import Partition

__all__ = ["OPSET", "Tolerance", "ONNX_TOLERANCE", "export_onnx", "validate_onnx", "compare_outputs"]

OPSET = 18
BATCH_AXIS = "batch"


@dataclass(frozen=True)
class Tolerance:
    """Named tolerance: ``|a - b| <= atol + rtol * |b|`` element-wise (``b`` the reference)."""

    name: str
    atol: float
    rtol: float

    def to_dict(self) -> dict:
        return asdict(self)


#: onnxruntime vs torch on the logits (float32; measured differences are ~1e-6 on stm-tiny)
ONNX_TOLERANCE = Tolerance("onnxruntime-vs-torch", atol=1e-4, rtol=1e-4)


def compare_outputs(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray], tol: Tolerance,
                    what: str) -> dict:
    """Compare every expected output; returns ``{name: {max_abs_diff, ok}}``. Raises one EquivalenceError listing
    every output that is missing, misshapen or out of tolerance (with its largest difference)."""
    report, problems = {}, []
    for name, ref in expected.items():
        got = actual.get(name)
        if got is None:
            problems.append(f"{name}: missing")
            continue
        if got.shape != ref.shape:
            problems.append(f"{name}: shape {got.shape} != {ref.shape}")
            continue
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        finite = bool(np.isfinite(got).all())
        ok = finite and bool(np.all(diff <= tol.atol + tol.rtol * np.abs(ref)))
        report[name] = {"max_abs_diff": float(diff.max()) if diff.size else 0.0, "ok": ok}
        if not ok:
            problems.append(f"{name}: max |diff| {report[name]['max_abs_diff']:.3g}"
                            + ("" if finite else " (non-finite values)"))
    if problems:
        raise EquivalenceError(f"{what}: outputs differ beyond tolerance {tol.name} (atol {tol.atol:g}, rtol "
                               f"{tol.rtol:g}): " + "; ".join(problems))
    return report


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's progress lines and warnings about packages this model does not use."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def check_onnx_file(path: str | Path, label: str, what: str = "model") -> None:
    """``onnx.checker`` (full check) on the file at ``path``; a rejection is one :class:`ExportError` line naming
    ``label`` and the checker's first line."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:
        raise ExportError(f"{label}: onnx.checker rejects the {what}: {str(e).strip().splitlines()[0]}") from None


def validate_onnx(path: str | Path, partition: Partition, batches: tuple[int, ...] = (1, 3),
                  tolerance: Tolerance = ONNX_TOLERANCE, seed: int = 0, label: str | None = None) -> dict:
    """Check the ONNX file at ``path`` against ``partition.ann`` in torch (see the module docstring).

    Returns ``{"checker": "ok", "batches": [...], "outputs": {name: {max_abs_diff, ok}}, "tolerance": {...}}``
    with the largest difference over all batches. Raises ExportError (checker, names, shapes) or EquivalenceError;
    messages name ``label`` (default: ``path``).
    """
    path = Path(path)
    label = label or str(path)
    check_onnx_file(path, label)
    sess = _session(path)
    expect_in = {s.name: s for s in partition.boundary}
    got_in = {i.name: i.shape for i in sess.get_inputs()}
    got_out = {o.name: o.shape for o in sess.get_outputs()}
    problems = []
    for specs, got, kind in ((partition.boundary, got_in, "input"), (partition.outputs, got_out, "output")):
        if set(got) != {s.name for s in specs}:
            problems.append(f"{kind}s {sorted(got)} != expected {sorted(s.name for s in specs)}")
            continue
        for s in specs:
            shape = [d if isinstance(d, int) else "B" for d in got[s.name]]
            if shape != list(s.shape):
                problems.append(f"{kind} {s.name}: shape {got[s.name]} != expected {list(s.shape)}")
    if problems:
        raise ExportError(f"{label}: " + "; ".join(problems))
    worst: dict[str, dict] = {}
    ann = partition.ann.eval()
    for k, batch in enumerate(batches):
        feeds = partition.boundary_inputs(partition.sample_inputs(batch, seed + k))
        with torch.no_grad():
            ref = {partition.outputs[0].name: ann(*[feeds[n] for n in ann.input_names]).numpy()}
        out = sess.run(None, {n: t.numpy() for n, t in feeds.items()})
        actual = {o.name: v for o, v in zip(sess.get_outputs(), out)}
        rep = compare_outputs(actual, ref, tolerance, f"{label} at batch {batch}")
        for name, r in rep.items():
            if name not in worst or r["max_abs_diff"] > worst[name]["max_abs_diff"]:
                worst[name] = r
    return {"checker": "ok", "batches": list(batches), "outputs": worst, "tolerance": tolerance.to_dict()}


def export_onnx(partition: Partition, path: str | Path, tolerance: Tolerance = ONNX_TOLERANCE,
                opset: int = OPSET, seed: int = 0) -> dict:
    """Export ``partition.ann`` to ``path`` and validate it (module docstring); the file appears only if valid.

    Returns the validation report plus ``opset``, ``export_s`` and ``validate_s`` (seconds).
    """
    path = Path(path)
    ann = partition.ann.eval()
    example = partition.boundary_inputs(partition.sample_inputs(2, seed))
    args = tuple(example[n] for n in ann.input_names)
    batch = torch.export.Dim(BATCH_AXIS, min=1)
    t0 = time.perf_counter()
    with atomic_path(path) as tmp:
        try:
            with _quiet_exporter(), torch.no_grad():
                program = torch.onnx.export(ann, args, None, dynamo=True, opset_version=opset,
                                            input_names=list(ann.input_names),
                                            output_names=[s.name for s in partition.outputs],
                                            dynamic_shapes=(tuple({0: batch} for _ in args),), verbose=False)
                program.save(str(tmp), external_data=False)
        except Exception as e:
            root = e.__cause__ or e
            msg = re.sub(r"\x1b\[[0-9;]*m", "", str(root)).strip().splitlines()
            msg = f"{type(root).__name__}: {msg[0]}" if msg else type(root).__name__
            raise ExportError(f"{path}: torch.onnx.export of the ANN partition failed: {msg}") from e
        t1 = time.perf_counter()
        report = validate_onnx(tmp, partition, tolerance=tolerance, seed=seed + 1, label=str(path))
    report.update(opset=opset, export_s=round(t1 - t0, 3), validate_s=round(time.perf_counter() - t1, 3))
    return report
