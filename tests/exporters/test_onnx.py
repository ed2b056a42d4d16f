"""ANN partition -> ONNX: checker, names, dynamic batch, onnxruntime vs torch, one EquivalenceError, bad files."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
import torch

from neurocv.errors import DeploymentError, EquivalenceError, ExportError
from neurocv.exporters.onnx_export import ONNX_TOLERANCE, OPSET, Tolerance, compare_outputs, export_onnx, validate_onnx
from neurocv.exporters.partition import partition_model
from neurocv.hardware.onnx_backend import OnnxSession
from neurocv.models import create_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=6, input_size=(32, 32), segments=3).eval()
    part = partition_model(model, input_size=(40, 40))       # padded inside the graph
    path = tmp_path_factory.mktemp("onnx") / "ann.onnx"
    report = export_onnx(part, path)
    return part, path, report


def test_export_validates_and_records_the_largest_difference(exported):
    part, path, report = exported
    assert report["checker"] == "ok" and report["opset"] == OPSET >= 17 and report["batches"] == [1, 3]
    diff = report["outputs"]["logits"]["max_abs_diff"]
    assert 0 <= diff < ONNX_TOLERANCE.atol and report["outputs"]["logits"]["ok"]
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input}
    assert dims == {"iframes": ["batch", 3, 3, 40, 40], "mv_maps": ["batch", 3, 16, 12, 12],
                    "r_maps": ["batch", 3, 16, 12, 12]}
    assert [o.name for o in m.graph.output] == ["logits"]
    ops = {n.op_type for n in m.graph.node}
    assert {"MatMul", "Softmax", "Conv"} <= ops        # attention exported as plain ops


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_onnxruntime_matches_torch_at_any_batch(exported, batch):
    part, path, _ = exported
    sess = OnnxSession(path)
    feeds = part.boundary_inputs(part.sample_inputs(batch, seed=40 + batch))
    with torch.no_grad():
        want = part.ann(*[feeds[n] for n in part.ann.input_names]).numpy()
    got = sess.run({k: v.numpy() for k, v in feeds.items()})["logits"]
    assert got.shape == (batch, 6)
    np.testing.assert_allclose(got, want, atol=ONNX_TOLERANCE.atol, rtol=ONNX_TOLERANCE.rtol)


def test_a_model_that_differs_raises_one_error_listing_each_output(exported):
    part, path, _ = exported
    other = copy.deepcopy(part.model)
    with torch.no_grad():
        other.head.fc.bias += 0.5
    with pytest.raises(EquivalenceError) as info:
        validate_onnx(path, partition_model(other, input_size=(40, 40)))
    msg = str(info.value)
    assert "logits: max |diff| 0.5" in msg and "onnxruntime-vs-torch" in msg and "\n" not in msg


def test_compare_outputs_collects_every_failure():
    ref = {"a": np.zeros(3, np.float32), "b": np.ones(2, np.float32), "c": np.ones(1, np.float32)}
    got = {"a": np.array([0, 0.2, 0], np.float32), "b": np.ones(3, np.float32)}
    with pytest.raises(EquivalenceError) as info:
        compare_outputs(got, ref, Tolerance("t", 1e-3, 0), "x")
    msg = str(info.value)
    assert "a: max |diff| 0.2" in msg and "b: shape (3,) != (2,)" in msg and "c: missing" in msg
    ok = compare_outputs({"a": ref["a"] + 1e-4}, {"a": ref["a"]}, Tolerance("t", 1e-3, 0), "x")
    assert ok["a"]["ok"] and ok["a"]["max_abs_diff"] == pytest.approx(1e-4)


def test_truncated_or_corrupt_onnx_is_a_clear_error(exported, tmp_path):
    part, path, _ = exported
    data = path.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 3])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf" * 10)
    for bad in (cut, junk):
        with pytest.raises(DeploymentError, match="not a loadable ONNX model") as info:
            OnnxSession(bad)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(ExportError, match="onnx.checker rejects"):
            validate_onnx(bad, part)
    with pytest.raises(DeploymentError, match="not found"):
        OnnxSession(tmp_path / "missing.onnx")


def test_session_rejects_wrong_feeds(exported):
    part, path, _ = exported
    sess = OnnxSession(path)
    feeds = {k: v.numpy() for k, v in part.boundary_inputs(part.sample_inputs(1)).items()}
    with pytest.raises(ValueError, match="mv_maps expects shape"):
        sess.run({**feeds, "mv_maps": feeds["mv_maps"][:, :2]})
    with pytest.raises(ValueError, match="expected inputs"):
        sess.run({"iframes": feeds["iframes"]})


def test_failed_export_leaves_no_file(tmp_path, monkeypatch):
    torch.manual_seed(0)
    part = partition_model(create_model("stm-tiny", num_classes=3, input_size=(32, 32), segments=2).eval())
    target = tmp_path / "ann.onnx"

    def broken(*a, **k):
        raise RuntimeError("simulated exporter failure")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(ExportError, match="simulated exporter failure"):
        export_onnx(part, target)
    assert list(tmp_path.iterdir()) == []
