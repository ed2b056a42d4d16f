"""The int8 ANN partition: what is quantized and what stays float (with reasons), validation against torch and its
tolerance, the int8 MAC split, and where calibration clips come from (and the one-line errors when they cannot)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from neurocv.errors import DatasetError, EquivalenceError, ExportError
from neurocv.exporters.int8 import (Int8Tolerance, ann_int8_macs, calibration_source, dataset_feeds, int8_kinds,
                                    int8_macs, quantize_ann, random_feeds, validate_int8)
from neurocv.exporters.onnx_export import export_onnx
from neurocv.exporters.partition import partition_model
from neurocv.models import create_model


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=4, input_size=(32, 32), segments=3).eval().set_surrogate(False)
    part = partition_model(model)
    d = tmp_path_factory.mktemp("int8")
    export_onnx(part, d / "ann.onnx")
    info = quantize_ann(d / "ann.onnx", d / "ann.int8.onnx", random_feeds(part, 4, 100))
    return part, d, info


def test_every_mac_operator_is_quantized_and_the_rest_is_listed_with_reasons(int8_model):
    part, d, info = int8_model
    q = {op: dict(c) for op, c in info["quantized_ops"].items()}
    av = q["MatMul"].pop("attention_value_float")   # the attention's probabilities x V: float, one per block
    assert set(q) >= {"Conv", "MatMul"} and av == part.model.config.depth
    assert all(c["quantized"] == c["nodes"] - (av if op == "MatMul" else 0) > 0 for op, c in q.items())
    kept = {k["op"]: k for k in info["kept_float"]}
    assert "LayerNormalization" in kept and "Erf" in kept and not set(kept) & {"Conv", "Gemm"}
    assert kept["MatMul"]["nodes"] == av and "probabilities x V" in kept["MatMul"]["reason"]
    assert all(k["reason"] and k["nodes"] > 0 for k in kept.values())
    model = onnx.load(str(d / "ann.int8.onnx"))
    # the float probabilities x V matmuls read the softmax's output directly, not a DequantizeLinear
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    avs = [n for n in model.graph.node if n.name in info["settings"]["float_nodes"]]
    assert len(avs) == av and all(producer[n.input[0]] == "Softmax" for n in avs)
    types = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= types        # QDQ format
    # weights: int8, one scale per output channel (per-channel)
    inits = {i.name: i for i in model.graph.initializer}
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    w_dq = next(n for n in model.graph.node if n.output[0] == conv.input[1])
    assert inits[w_dq.input[0]].data_type == onnx.TensorProto.INT8
    assert len(onnx.numpy_helper.to_array(inits[w_dq.input[1]])) > 1
    assert (d / "ann.int8.onnx").stat().st_size < (d / "ann.onnx").stat().st_size / 2.5


def test_validation_reports_agreement_and_fails_beyond_its_tolerance_in_one_line(int8_model):
    part, d, _ = int8_model
    feeds = random_feeds(part, 3, 200)
    rep = validate_int8(d / "ann.int8.onnx", part, feeds, real_clips=False)
    assert rep["checker"] == "ok" and rep["clips"] == 3 and 0 < rep["max_abs_logit_diff"] < rep["max_abs_logit"]
    tight = Int8Tolerance("tight", min_agreement=1.0, max_rel_logit_diff=1e-9)
    with pytest.raises(EquivalenceError, match="outside tolerance tight") as e:
        validate_int8(d / "ann.int8.onnx", part, feeds, real_clips=False, tolerance=tight)
    assert "\n" not in str(e.value)


def test_mac_split_prices_a_kind_int8_only_where_its_operators_all_are():
    from neurocv.energy.counter import LayerCount

    layers = [LayerCount("a", kind="conv", macs=10), LayerCount("b", kind="linear", macs=5),
              LayerCount("c", kind="attention", macs=3), LayerCount("n", kind="norm", macs=0)]
    full = {"Conv": {"nodes": 2, "quantized": 2}, "MatMul": {"nodes": 3, "quantized": 3}}
    assert int8_kinds(full) == {"conv", "linear", "attention", "matmul"}
    assert int8_macs(layers, full) == (18.0, [])
    partial = {"Conv": {"nodes": 2, "quantized": 2}, "MatMul": {"nodes": 3, "quantized": 2}}
    assert int8_macs(layers, partial) == (10.0, ["b", "c"])
    av = {"Conv": {"nodes": 2, "quantized": 2}, "MatMul": {"nodes": 3, "quantized": 2, "attention_value_float": 1}}
    assert int8_kinds(av) == {"conv", "linear", "attention", "matmul"}
    assert int8_macs(layers, av) == (16.5, ["c (probabilities x V, float)"])


def test_int8_macs_of_the_partition_add_up_to_its_ann_macs(int8_model):
    from neurocv.models import count_macs

    part, _, info = int8_model
    m = ann_int8_macs(part, info["quantized_ops"])
    assert m["int8_macs"] + m["float_macs"] == count_macs(part.model, part.input_size, part.segments, part="ann")
    from neurocv.models.opcount import ann_counts

    attention = sum(c.macs for c in ann_counts(part.model, part.segments, part.input_size) if c.kind == "attention")
    assert attention > 0 and m["float_macs"] == pytest.approx(attention / 2, abs=1)   # probabilities x V only
    assert all(name.endswith("(probabilities x V, float)") for name in m["float_layers"])


def test_calibration_source_asks_for_data_in_one_line(tmp_path):
    with pytest.raises(ExportError, match="does not record its training data.*--calibrate DATA"):
        calibration_source("old.pt", {"data": None, "untrained": False}, None)
    with pytest.raises(ExportError, match="not there any more"):
        calibration_source("run.pt", {"data": str(tmp_path / "gone"), "untrained": False}, None)
    with pytest.raises(DatasetError, match="calibration data not found"):
        calibration_source("run.pt", {"data": None, "untrained": False}, tmp_path / "nope")
    assert calibration_source("stm-base", {"data": None, "untrained": True}, None) is None
    assert calibration_source("run.pt", {"data": str(tmp_path), "untrained": False}, None) == tmp_path


def test_a_calibration_set_without_readable_clips_is_one_line(int8_model, tmp_path):
    part, _, _ = int8_model
    for k in range(2):
        (tmp_path / "videos" / "a").mkdir(parents=True, exist_ok=True)
        (tmp_path / "videos" / "a" / f"v{k}.mp4").write_bytes(b"not a video")
    (tmp_path / "train.csv").write_text("path,label\n" + "".join(f"videos/a/v{k}.mp4,a\n" for k in range(2)))
    with pytest.raises(DatasetError, match="none of the 2 clips of the train split could be read") as e:
        dataset_feeds(part, tmp_path, "train", 8, accumulate=True)
    assert "\n" not in str(e.value)


def test_random_feeds_are_seeded():
    torch.manual_seed(0)
    part = partition_model(create_model("stm-tiny", num_classes=4, input_size=(32, 32), segments=3).eval())
    a, b = random_feeds(part, 2, 5), random_feeds(part, 2, 5)
    assert all(np.array_equal(x[k], y[k]) for x, y in zip(a, b) for k in x)
