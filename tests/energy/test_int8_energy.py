"""Energy of an int8 deployment: integer MACs on cmos45nm-int8, everything else on the float profile, side by side
with the same model all float, by hand arithmetic; from a deployment's quantized operators and from an int8 run."""

from __future__ import annotations

import json

import pytest

from neurocv.energy import EnergyReport, LayerCount, load_profile, report_from_run
from neurocv.energy.measure import apply_int8

FP32, INT8 = load_profile("cmos45nm-fp32"), load_profile("cmos45nm-int8")
QUANTIZED = {"Conv": {"nodes": 3, "quantized": 3}, "MatMul": {"nodes": 4, "quantized": 4}}
KEPT = [{"op": "Softmax", "nodes": 2, "reason": "r"}, {"op": "LayerNormalization", "nodes": 2, "reason": "r"},
        {"op": "Reshape", "nodes": 5, "reason": "r"}]


def _report() -> EnergyReport:
    layers = [LayerCount("temporal.mv.layers.0", partition="spiking", kind="conv-lif", macs=1e6, acs=2e6,
                         neurons=10, neuron_updates=80),
              LayerCount("embed.proj", kind="conv", macs=1e9), LayerCount("blocks.0.attn", kind="attention", macs=2e8),
              LayerCount("head.norm", kind="norm", macs=0)]
    return EnergyReport(model="m", source="torch", profile=FP32, layers=layers, params=1, segments=8, crops=1,
                        views=1, input_size=(32, 32), inputs="test")


def test_int8_layers_on_the_int8_profile_and_the_rest_float_by_hand():
    r = apply_int8(_report(), {"quantized_ops": QUANTIZED, "kept_float": KEPT})
    assert [c.precision for c in r.layers] == ["float", "int8", "int8", "float"]
    stm = (1e6 * 4.6 + 2e6 * 0.9) * 1e-12
    t = r.totals()
    assert t["energy_j"] == pytest.approx(stm + 1.2e9 * 0.23e-12)
    assert t["energy_float_j"] == pytest.approx(stm + 1.2e9 * 4.6e-12)
    s = r.to_dict()["int8"]
    assert s["ratio"] == pytest.approx(t["energy_float_j"] / t["energy_j"]) and s["profile"] == "cmos45nm-int8"
    lines = " ".join(r.int8_lines())
    assert "temporal.mv.layers.0" in lines and "Softmax" in lines and "LayerNormalization" in lines
    assert "Reshape" not in lines       # data movement is not named among the float ops
    assert "stayed float" in r.to_markdown()


def test_a_kind_whose_operators_are_not_all_int8_stays_float():
    partial = {"Conv": {"nodes": 3, "quantized": 3}, "MatMul": {"nodes": 4, "quantized": 3}}
    r = apply_int8(_report(), {"quantized_ops": partial, "kept_float": KEPT})
    assert [c.precision for c in r.layers] == ["float", "int8", "float", "float"]
    assert "blocks.0.attn" in " ".join(r.int8_lines())


def test_attention_with_float_probabilities_x_v_is_priced_half_int8_half_float():
    quantized = {"Conv": {"nodes": 3, "quantized": 3},
                 "MatMul": {"nodes": 4, "quantized": 3, "attention_value_float": 1}}
    r = apply_int8(_report(), {"quantized_ops": quantized, "kept_float": KEPT})
    rows = {c.name: c for c in r.layers}
    assert [c.precision for c in r.layers] == ["float", "int8", "int8", "float", "float"]
    qk, av = rows["blocks.0.attn (QK^T, int8)"], rows["blocks.0.attn (probabilities x V, float)"]
    assert qk.macs == av.macs == 1e8 and qk.precision == "int8" and av.precision == "float"
    stm = (1e6 * 4.6 + 2e6 * 0.9) * 1e-12
    t = r.totals()
    assert t["macs"] == pytest.approx(1e6 + 1e9 + 2e8)
    assert t["energy_j"] == pytest.approx(stm + 1.1e9 * 0.23e-12 + 1e8 * 4.6e-12)
    assert t["energy_float_j"] == pytest.approx(stm + 1.2e9 * 4.6e-12)
    assert "probabilities x V" in " ".join(r.int8_lines())


def test_a_float_report_is_unchanged():
    r = _report()
    assert not r.has_int8 and "int8" not in r.to_dict() and "energy_float_j" not in r.totals()
    assert r.int8_lines() == []


def test_an_int8_run_prices_its_integer_macs_int8(tmp_path):
    ops = {"schema": "neurocv.ops/1", "model": "m", "backend": "torch", "segments": 8, "crops": 1, "n_videos": 2,
           "per_video": {"layers": [
               {"name": "temporal.mv.layers.0", "partition": "spiking", "kind": "conv-lif", "input": "analog",
                "macs": 1e6, "acs": 0, "spikes": 10, "neurons": 10, "neuron_updates": 80},
               {"name": "ann", "partition": "ann", "kind": "onnx", "input": "analog", "macs": 1000, "acs": 0,
                "precision": "int8", "int8_macs": 900, "kept_float": ["Softmax", "Reshape"]}]}}
    f = tmp_path / "ops.json"
    f.write_text(json.dumps(ops))
    r = report_from_run(f, FP32)
    names = {c.name: c for c in r.layers}
    assert names["ann (int8)"].macs == 900 and names["ann (int8)"].precision == "int8"
    assert names["ann (float)"].macs == 100 and names["ann (float)"].precision == "float"
    t = r.totals()
    assert t["macs"] == 1e6 + 1000
    assert t["energy_j"] == pytest.approx((1e6 * 4.6 + 900 * 0.23 + 100 * 4.6) * 1e-12)
    assert t["energy_float_j"] == pytest.approx((1e6 + 1000) * 4.6e-12)
    assert r.float_ops == ["Softmax"]
    ops["per_video"]["layers"][1].pop("precision")        # a float run: one profile, as before
    f.write_text(json.dumps(ops))
    assert not report_from_run(f, FP32).has_int8


def test_energy_png_shows_int8_and_float_side_by_side(tmp_path):
    r = apply_int8(_report(), {"quantized_ops": QUANTIZED, "kept_float": KEPT})
    drawn = r.plot(tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000
    assert "int8 deployment" in drawn["title"] and "all float" in drawn["title"]
