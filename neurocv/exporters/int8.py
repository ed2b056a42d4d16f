"""The ANN partition as an int8 ONNX model (``ann.int8.onnx``), calibrated and validated at export.

:func:`quantize_ann` runs onnxruntime's static quantization on the float ``ann.onnx``:

* QDQ format (QuantizeLinear / DequantizeLinear pairs around every quantized operator: the form integer runtimes,
  TensorRT and edge NPU toolchains read), opset of the float model;
* weights int8, symmetric, per output channel; activations uint8, asymmetric, per tensor (U8S8, the combination
  onnxruntime recommends for x86 CPUs: its VNNI kernels take unsigned activations);
* min/max calibration on real clips (the STM maps the torch model produces for them, and the I-frames);
* quantized operator types :data:`QUANTIZED_OPS` (convolutions, linear layers, the attention's ``Q K^T``): every
  MAC of the ANN partition but one kind. The attention's probabilities-times-values product stays float32
  (:func:`attention_value_matmuls`, :data:`ATTENTION_VALUE_REASON`): quantizing its input, the softmax's output, to
  uint8 zeroes most of the attention weights (over 1,176 keys, 93-96 % of them, 44-46 % of each row's probability
  mass, on the demo's stm-tiny; docs/int8.md), and that alone moved one of its 60 test clips off torch's top-1.
  Every other operator stays float32, each type with its reason (:data:`FLOAT_REASONS`), listed in the manifest.

:func:`validate_int8` then checks the file: ``onnx.checker``, and onnxruntime on the int8 model against torch on
clips of the test split (top-1 agreement, largest logit difference), held to :data:`INT8_TOLERANCE`; beyond it the
export fails with one line (:class:`~neurocv.errors.EquivalenceError`) and writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_path
from ..errors import EquivalenceError, ExportError
from .partition import ANN_OUTPUT, Partition

__all__ = ["INT8_FILE", "QUANTIZED_OPS", "FLOAT_REASONS", "Int8Tolerance", "INT8_TOLERANCE", "quantize_ann",
           "export_int8", "prepare_calibration", "Calibration", "validate_int8", "quantized_op_types", "kept_float",
           "int8_macs", "int8_kinds", "ann_int8_macs", "calibration_source", "dataset_feeds", "random_feeds",
           "arithmetic_float_ops", "attention_value_matmuls", "attention_int8_share", "ATTENTION_VALUE_REASON",
           "ATTENTION_SPLIT"]

INT8_FILE = "ann.int8.onnx"
#: the operator types quantized (weights int8 per channel, activations uint8)
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")
#: why an operator type stays float32 in the int8 model
FLOAT_REASONS = {
    "Softmax": "exponential and normalisation over a row: int8 outputs lose the small attention weights",
    "LayerNormalization": "mean / variance statistics need more than 8 bits; no MACs",
    "BatchNormalization": "a per-channel affine step; no MACs",
    "Erf": "GELU's error function: a transcendental, no MACs",
    "Gelu": "transcendental activation, no MACs",
    "Tanh": "transcendental activation, no MACs",
    "Sigmoid": "transcendental activation, no MACs",
    "Exp": "transcendental, no MACs",
    "Sqrt": "part of a normalisation, no MACs",
    "Div": "element-wise division (normalisation, scaling), no MACs",
    "Pow": "element-wise power (normalisation), no MACs",
    "ReduceMean": "a reduction for normalisation or pooling, no MACs",
    "AveragePool": "pooling: additions only, kept float for accuracy",
    "GlobalAveragePool": "pooling: additions only, kept float for accuracy",
    "Resize": "nearest upsampling: data movement",
}
_DATA_MOVEMENT = {"Reshape", "Transpose", "Concat", "Slice", "Gather", "Split", "Squeeze", "Unsqueeze", "Flatten",
                  "Expand", "Shape", "Constant", "ConstantOfShape", "Cast", "Identity", "Range", "Where", "Tile",
                  "Pad"}
#: why the attention's probabilities x V matmuls stay float (measured in docs/int8.md)
ATTENTION_VALUE_REASON = ("attention probabilities x V: the softmax's outputs (about 1/N each over N keys) fall under "
                          "half a uint8 step, so int8 would zero most attention weights")
_ELEMENTWISE = {"Add", "Sub", "Mul", "Relu", "LeakyRelu", "Max", "Min", "Neg", "Abs", "Clip", "Equal", "Not",
                "Less", "Greater", "And", "Or"}


def attention_value_matmuls(model) -> list[str]:
    """Names of the ``MatMul`` nodes of ``model`` (an ONNX ModelProto) that multiply a softmax's output (through data
    movement only: reshapes, transposes, casts) by the values: the attention's probabilities x V."""
    producer = {o: n for n in model.graph.node for o in n.output}

    def from_softmax(name: str) -> bool:
        node = producer.get(name)
        while node is not None and node.op_type in _DATA_MOVEMENT and node.input:
            node = producer.get(node.input[0])
        return node is not None and node.op_type == "Softmax"

    return [n.name for n in model.graph.node if n.op_type == "MatMul" and any(from_softmax(i) for i in n.input[:2])]


def arithmetic_float_ops(kept: list[dict]) -> list[str]:
    """The operator types of a ``kept_float`` list that compute without MACs (data movement and the MAC operators
    left float, which the energy report names as layers, left out)."""
    return [k["op"] for k in kept if k["op"] not in _DATA_MOVEMENT and k["op"] not in QUANTIZED_OPS]


def _float_reason(op: str) -> str:
    if op in FLOAT_REASONS:
        return FLOAT_REASONS[op]
    if op in _DATA_MOVEMENT:
        return "data movement, no arithmetic"
    if op in _ELEMENTWISE:
        return "element-wise, no MACs (residual additions, scales, activations)"
    return "not a MAC operator; onnxruntime's static quantization leaves it float"


@dataclass(frozen=True)
class Int8Tolerance:
    """The int8 model against torch on the validation clips: at least ``min_agreement`` of the clips keep torch's
    top-1 class (only where the clips are real: random inputs of an untrained model have no meaningful top-1),
    and no logit moves by more than ``max_rel_logit_diff`` times the largest |logit| torch produced."""

    name: str
    min_agreement: float
    max_rel_logit_diff: float

    def to_dict(self) -> dict:
        return asdict(self)


#: top-1 agreement is the accuracy criterion (issue 19: >= 59/60); the logit bound only catches a broken
#: quantization (wrong scales, saturated ranges). The demo's stm-tiny moved its logits by 26 % of the largest: 0.25
#: failed a model whose int8 partition is usable, hence 0.5
INT8_TOLERANCE = Int8Tolerance("int8-vs-torch", min_agreement=0.95, max_rel_logit_diff=0.5)


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feed dicts."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # noqa: D401  (protocol method; one pass is all MinMax needs)
        pass


@contextlib.contextmanager
def _quiet():
    loggers = [logging.getLogger(n) for n in ("root", "onnxruntime", "onnxruntime.quantization")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def quantize_ann(float_path: str | Path, out_path: str | Path, calibration: list[dict[str, np.ndarray]]) -> dict:
    """Write the int8 QDQ model of ``float_path`` to ``out_path`` (atomically), calibrated on ``calibration``
    (ANN-partition feeds, batch 1 each). Returns ``{"quantized_ops", "kept_float", "settings", "quantize_s"}``."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not calibration:
        raise ExportError(f"{out_path}: no calibration clips")
    import onnx

    out_path = Path(out_path)
    t0 = time.perf_counter()
    keep = attention_value_matmuls(onnx.load(str(float_path)))
    with atomic_path(out_path, suffix=".onnx") as tmp, _quiet():
        try:
            quantize_static(str(float_path), str(tmp), _Reader(calibration), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax,
                            nodes_to_exclude=keep,
                            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExportError(f"{out_path}: onnxruntime static quantization failed: {first[:300]}") from None
    model = onnx.load(str(out_path))
    return {"quantized_ops": quantized_op_types(model), "kept_float": kept_float(model),
            "settings": {"format": "QDQ", "weights": "int8, symmetric, per channel",
                         "activations": "uint8, asymmetric, per tensor", "calibration": "min/max",
                         "op_types": list(QUANTIZED_OPS), "float_nodes": keep},
            "quantize_s": round(time.perf_counter() - t0, 3)}


def _quantized(node, producer: dict[str, str]) -> bool:
    """Whether ``node`` reads only dequantized tensors: every data input (weights / activations; a bias may stay
    float32) comes out of a DequantizeLinear. ``producer``: ``{tensor: op type of the node that writes it}``."""
    data_inputs = [i for i in node.input[:2] if i]
    return bool(data_inputs) and all(producer.get(i) == "DequantizeLinear" for i in data_inputs)


def _producers(model) -> dict[str, str]:
    return {o: n.op_type for n in model.graph.node for o in n.output}


def _node_counts(model) -> tuple[dict[str, int], dict[str, int]]:
    """``({op_type: nodes}, {op_type: quantized nodes})`` of the compute graph (QDQ nodes themselves excluded; a
    node is quantized as :func:`_quantized` says)."""
    producer = _producers(model)
    total, quant = {}, {}
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        total[n.op_type] = total.get(n.op_type, 0) + 1
        if _quantized(n, producer):
            quant[n.op_type] = quant.get(n.op_type, 0) + 1
    return total, quant


def quantized_op_types(model) -> dict[str, dict[str, int]]:
    """``{op_type: {"nodes", "quantized"}}`` for the MAC operator types (:data:`QUANTIZED_OPS`) in ``model``."""
    total, quant = _node_counts(model)
    out = {op: {"nodes": total[op], "quantized": quant.get(op, 0)} for op in QUANTIZED_OPS if op in total}
    if "MatMul" in out:
        out["MatMul"]["attention_value_float"] = len(_float_attention_values(model))
    return out


def _float_attention_values(model) -> list[str]:
    """The attention's probabilities x V matmuls of ``model`` that were left float."""
    producer, nodes = _producers(model), {n.name: n for n in model.graph.node}
    return [k for k in attention_value_matmuls(model) if not _quantized(nodes[k], producer)]


def kept_float(model) -> list[dict]:
    """Every operator type left float32 in ``model``: ``[{"op", "nodes", "reason"}]`` (MAC operator types appear
    only if some of their nodes were not quantized; every other type computes in float32 on dequantized inputs)."""
    total, quant = _node_counts(model)
    rows = []
    for op in sorted(total):
        n = total[op] - quant.get(op, 0) if op in QUANTIZED_OPS else total[op]
        if op == "MatMul" and n:
            av = len(_float_attention_values(model))
            if av:
                rows.append({"op": "MatMul", "nodes": av, "reason": ATTENTION_VALUE_REASON})
            n -= av
        if n:
            reason = ("not quantized by onnxruntime at this node (no calibrated range or unsupported input)"
                      if op in QUANTIZED_OPS else _float_reason(op))
            rows.append({"op": op, "nodes": n, "reason": reason})
    return rows


#: the torch op-count kinds (:mod:`neurocv.energy.counter`) and the ONNX operator types they export as
KIND_OPS = {"conv": ("Conv",), "linear": ("MatMul", "Gemm"), "attention": ("MatMul",), "matmul": ("MatMul",)}


def int8_kinds(quantized_ops: dict) -> set[str]:
    """The op-count kinds whose ONNX operator types stayed int8 everywhere in the model (every node quantized but
    the attention's probabilities x V, which :func:`attention_int8_share` prices apart)."""
    full = {op for op, c in quantized_ops.items()
            if c["nodes"] and c["quantized"] + c.get("attention_value_float", 0) == c["nodes"]}
    return {k for k, ops in KIND_OPS.items() if all(op in full or op not in quantized_ops for op in ops)
            and any(op in quantized_ops for op in ops)}


def attention_int8_share(quantized_ops: dict) -> float:
    """The share of an ``attention`` op count (``Q K^T`` plus probabilities x V, ``L*S*(E + E_v)`` MACs) that is
    int8: 1, or 1/2 where the probabilities x V matmuls stayed float (``E = E_v``: every variant has one head size)."""
    return 0.5 if quantized_ops.get("MatMul", {}).get("attention_value_float", 0) else 1.0


#: the name suffixes of an attention op count split into its int8 and float halves
ATTENTION_SPLIT = (" (QK^T, int8)", " (probabilities x V, float)")


def int8_macs(layers, quantized_ops: dict) -> tuple[float, list[str]]:
    """``(MACs priced int8, names of the MAC layers left float)`` over ANN-partition op counts ``layers`` (an
    attention count whose probabilities x V stayed float: half each, its float half named with
    :data:`ATTENTION_SPLIT`)."""
    kinds, share = int8_kinds(quantized_ops), attention_int8_share(quantized_ops)
    macs, left = 0.0, []
    for c in layers:
        if c.kind in kinds:
            part = share if c.kind == "attention" else 1.0
            macs += c.macs * part
            if part < 1 and c.macs:
                left.append(c.name + ATTENTION_SPLIT[1])
        elif c.macs:
            left.append(c.name)
    return macs, left


def validate_int8(path: str | Path, partition: Partition, feeds: list[dict[str, np.ndarray]], real_clips: bool,
                  tolerance: Int8Tolerance = INT8_TOLERANCE, label: str | None = None) -> dict:
    """onnx.checker, then the int8 model at ``path`` against torch (``partition.ann``) on ``feeds`` (ANN-partition
    inputs, batch 1 each). Returns the report; raises ExportError (checker) or EquivalenceError (tolerance), each
    one line."""
    from ..hardware.onnx_backend import OnnxSession
    from .onnx_export import check_onnx_file

    path = Path(path)
    label = label or str(path)
    check_onnx_file(path, label, "int8 model")
    t0 = time.perf_counter()
    sess = OnnxSession(path)
    ann = partition.ann.eval()
    same, worst, scale = 0, 0.0, 0.0
    for f in feeds:
        with torch.no_grad():
            ref = ann(*[torch.from_numpy(f[n]) for n in ann.input_names]).numpy()
        got = sess.run(f)[ANN_OUTPUT]
        if not np.isfinite(got).all():
            raise EquivalenceError(f"{label}: the int8 model gives non-finite logits")
        same += int((got.argmax(-1) == ref.argmax(-1)).sum())
        worst = max(worst, float(np.abs(got - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
    n = sum(int(f[partition.ann.input_names[0]].shape[0]) for f in feeds)
    agreement = same / n if n else 0.0
    rel = worst / scale if scale else 0.0
    report = {"checker": "ok", "clips": n, "real_clips": real_clips, "same_top1": same, "agreement": agreement,
              "max_abs_logit_diff": worst, "max_abs_logit": scale, "rel_logit_diff": rel,
              "tolerance": tolerance.to_dict(), "validate_s": round(time.perf_counter() - t0, 3)}
    problems = []
    if real_clips and agreement < tolerance.min_agreement:
        problems.append(f"{same}/{n} clips keep torch's top-1 ({100 * agreement:.1f} % < "
                        f"{100 * tolerance.min_agreement:g} %)")
    if rel > tolerance.max_rel_logit_diff:
        problems.append(f"logits differ by up to {worst:.3g} ({100 * rel:.1f} % of the largest, > "
                        f"{100 * tolerance.max_rel_logit_diff:g} %)")
    if problems:
        if real_clips and agreement >= tolerance.min_agreement:
            problems.append(f"{same}/{n} clips keep torch's top-1")
        raise EquivalenceError(f"{label}: int8 model outside tolerance {tolerance.name}: " + "; ".join(problems)
                               + "; more or more representative calibration clips (--calibration-clips) may help")
    return report


#: the most test clips the int8 model is validated on at export
VALIDATION_CLIPS = 200
#: calibration clips by default: of the training data / random inputs (a variant name, untrained)
CALIBRATION_CLIPS = 64
RANDOM_CALIBRATION_CLIPS = 8


def calibration_source(source, info: dict, calibrate: str | Path | None) -> Path | None:
    """The dataset folder the int8 calibration reads (``None``: random inputs, for an untrained variant). Checked
    before any work: an older checkpoint that does not record its data, or data that has moved, asks for
    ``--calibrate DATA`` in one line."""
    from ..errors import DatasetError

    if calibrate is not None:
        path = Path(calibrate)
        if not path.exists():
            raise DatasetError(f"{path}: calibration data not found (--calibrate takes a dataset folder or .csv "
                               f"list, as `neurocv train` does)")
        return path
    if info.get("untrained") or not isinstance(source, (str, Path)):   # a variant name, or a model object
        return None
    data = info.get("data")
    if not data:
        raise ExportError(f"{source}: this checkpoint does not record its training data (trained by an older "
                          f"neurocv); give the int8 calibration clips with --calibrate DATA")
    if not Path(data).exists():
        raise ExportError(f"{source}: its training data {data} is not there any more; give the int8 calibration "
                          f"clips with --calibrate DATA")
    return Path(data)


def dataset_feeds(part: Partition, data: Path, split: str, n: int, accumulate: bool) -> tuple[list[dict], int]:
    """ANN-partition feeds (batch 1) for up to ``n`` clips of ``split``, spread evenly over the split (its
    classes), with the test-time transform; unreadable clips are skipped. Returns ``(feeds, skipped)``; no readable
    clip at all raises DatasetError naming the data."""
    from ..data import CompressedVideoDataset
    from ..errors import DatasetError

    ds = CompressedVideoDataset(data, split, part.segments, part.input_size[0], train=False, accumulate=accumulate,
                                skip_bad=True)
    if len(ds) == 0:
        raise DatasetError(f"{data}: the {split} split holds no clips")
    idx = sorted({int(round(x)) for x in np.linspace(0, len(ds) - 1, min(n, len(ds)))})
    feeds, skipped, first_error = [], 0, None
    for i in idx:
        item = ds[i]
        if "error" in item:
            skipped += 1
            first_error = first_error or item["error"]
            continue
        inputs = {"iframes": item["iframes"][None], "mvs": item["mvs"][None], "residuals": item["residuals"][None]}
        feeds.append({k: v.numpy() for k, v in part.boundary_inputs(inputs).items()})
    if not feeds:
        raise DatasetError(f"{data}: none of the {len(idx)} clips of the {split} split could be read "
                           f"(first: {first_error})")
    return feeds, skipped


def random_feeds(part: Partition, n: int, seed: int) -> list[dict]:
    """ANN-partition feeds (batch 1) of ``n`` random clips (standard normal, the scale of normalised clips)."""
    return [{k: v.numpy() for k, v in part.boundary_inputs(part.sample_inputs(1, seed + k)).items()}
            for k in range(n)]


@dataclass
class Calibration:
    """The clips an int8 export calibrates on and validates with (ANN-partition feeds, batch 1 each)."""

    feeds: list
    source: str
    skipped: int
    check: list
    check_source: str
    real: bool


def prepare_calibration(part: Partition, data: Path | None, n_clips: int | None, accumulate: bool, seed: int,
                        say=lambda text: None, trained: bool = True) -> Calibration:
    """Read the calibration and validation clips (before anything is exported, so that a calibration set without
    readable clips fails at once): ``n_clips`` of the train split of ``data`` spread over it and up to
    :data:`VALIDATION_CLIPS` of its test split (the calibration clips where it has none), or, for ``data=None``
    (an untrained variant), random clips. Top-1 agreement is held to the tolerance only for a trained model on real
    clips (``trained``): an untrained model's near-uniform logits have no meaningful top-1."""
    from ..errors import DatasetError

    if data is None:
        n = n_clips or RANDOM_CALIBRATION_CLIPS
        return Calibration(random_feeds(part, n, seed + 1000), f"{n} random clips (seed {seed + 1000})", 0,
                           random_feeds(part, 4, seed + 2000), f"4 random clips (seed {seed + 2000})", False)
    n = n_clips or CALIBRATION_CLIPS
    say(f"int8: reading {n} calibration clips of {data} (train split)")
    feeds, skipped = dataset_feeds(part, data, "train", n, accumulate)
    source = f"{len(feeds)} clips of {data} (train split, spread over it; test-time transform)"
    try:
        say(f"int8: reading up to {VALIDATION_CLIPS} validation clips of {data} (test split)")
        check, _ = dataset_feeds(part, data, "test", VALIDATION_CLIPS, accumulate)
        check_source = f"{len(check)} clips of {data} (test split)"
    except DatasetError:          # no (readable) test split there: the calibration clips themselves
        check, check_source = feeds, f"the {len(feeds)} calibration clips ({data} has no readable test split)"
    return Calibration(feeds, source, skipped, check, check_source, trained)


def export_int8(part: Partition, folder: Path, calib: Calibration, say, label: str) -> dict:
    """Quantize ``folder/ann.onnx`` into ``folder/ann.int8.onnx`` on ``calib`` and validate it. Returns
    ``{"manifest": ..., "validation": ...}`` (the manifest's ``onnx.int8`` entry and the validation report)."""
    say(f"int8: quantizing, calibrated on {calib.source}")
    info = quantize_ann(folder / "ann.onnx", folder / INT8_FILE, calib.feeds)
    say(f"int8: validating against torch on {calib.check_source}")
    validation = validate_int8(folder / INT8_FILE, part, calib.check, calib.real, label=label)
    validation["clips_desc"] = calib.check_source
    manifest = {"file": INT8_FILE, **info["settings"],
                "calibration": {"clips": len(calib.feeds), "skipped": calib.skipped, "source": calib.source},
                "quantized_ops": info["quantized_ops"], "kept_float": info["kept_float"],
                "macs": ann_int8_macs(part, info["quantized_ops"]),
                "validation": {k: validation[k] for k in ("clips", "same_top1", "agreement", "max_abs_logit_diff")},
                "tolerance": INT8_TOLERANCE.to_dict()}
    return {"manifest": manifest, "validation": validation}


def ann_int8_macs(part: Partition, quantized_ops: dict) -> dict:
    """MACs per video of the ANN partition, split into those on int8 operators and those left float (by op-count
    kind, :func:`int8_macs`), counted on the ``meta`` device. ``{"int8_macs", "float_macs", "float_layers"}``."""
    from ..models.opcount import ann_counts as _ann_counts

    model = part.model
    spiking = tuple(sp.layer_names[0].rsplit(".", 2)[0] + "." for sp in part.spiking.values())   # temporal.mv.
    layers = [c for c in _ann_counts(model, part.segments, part.input_size) if not c.name.startswith(spiking)]
    macs, left = int8_macs(layers, quantized_ops)
    total = sum(c.macs for c in layers)
    return {"int8_macs": int(macs), "float_macs": int(total - macs), "float_layers": left}
