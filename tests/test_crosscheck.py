"""`neurocv crosscheck`: every simulator on the same STM files against the torch model (library and real CLI)."""

from __future__ import annotations

import json

import pytest
import torch

from neurocv.crosscheck import SCHEMA, crosscheck
from neurocv.exporters.deploy import export_deployment
from neurocv.hardware.sims import available
from neurocv.models import create_model
from neurocv.synth import ACTIONS
from tests._cli import user_run

EXACT = ("torch", "numpy", "norse", "snntorch", "nirtorch")


def _deploy(root, neuron: str):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3, neuron=neuron).eval()
    out = root / f"dep_{neuron}"
    export_deployment(model, out, classes=list(ACTIONS))
    return out


@pytest.fixture(scope="module")
def deployments(tmp_path_factory):
    root = tmp_path_factory.mktemp("crosscheck")
    return {"lif": _deploy(root, "lif"), "stm": _deploy(root, "stm")}


@pytest.fixture(scope="module")
def videos(clip_factory):
    return [clip_factory(a, width=64, height=48, n_frames=26, seed=s)[0] for a, s in (("zoom_in", 2),
                                                                                      ("translate_left", 4))]


def test_lif_model_in_every_simulator(deployments, videos):
    report = crosscheck(deployments["lif"], videos)
    assert report["schema"] == SCHEMA and report["neuron"] == {"mv": "lif", "r": "lif"}
    rows = {r["simulator"]: r for r in report["simulators"]}
    assert list(rows) == list(available())
    for name in EXACT:            # the same file, the same spikes as the model on every layer and video
        row = rows[name]
        assert row["loaded"] and row["same_top1"] == 2 and len(row["layers"]) == 4, (name, row["reason"])
        assert all(l["spikes_equal"] and l["spikes"] > 0 for l in row["layers"]), name
        assert all(l["max_membrane_diff"] is not None and l["max_membrane_diff"] < 1e-5 for l in row["layers"])
    for name in ("torch", "snntorch", "nirtorch"):  # power-of-two leak: same float32 arithmetic as the model
        assert all(l["max_membrane_diff"] == 0 for l in rows[name]["layers"]), name
    for name in ("netx-float", "netx-fixed"):   # Loihi integers: counts close, not equal; top-1 kept here
        row = rows[name]
        assert row["loaded"], row["reason"]
        for l in row["layers"]:
            assert abs(l["spikes"] - l["torch_spikes"]) <= 0.03 * l["torch_spikes"]
            assert 0 < l["max_membrane_diff"] < 1            # every layer's v streamed out of Lava (trace)
        assert row["same_top1"] == 2
    for name in ("lava-float", "lava-fixed"):   # our Lava processes run LIF layers: the readout is spikes
        row = rows[name]
        assert row["loaded"] and len(row["layers"]) == 4, row["reason"]
        for l in row["layers"]:
            assert l["spikes"] > 0 and l["max_membrane_diff"] is None      # spikes out, no membrane streamed
            if name == "lava-float":     # float32, the model's neuron: the model's spikes on every layer and video
                assert l["spikes_equal"]
            else:                        # Loihi integers: close
                assert abs(l["spikes"] - l["torch_spikes"]) <= 0.03 * l["torch_spikes"]
    assert rows["lava-float"]["same_top1"] == 2


def test_cli_json_is_one_object_with_a_row_per_simulator(deployments, videos, tmp_path):
    proc = user_run(tmp_path, "crosscheck", deployments["stm"], videos[0], "--json", "-s",
                    "torch,numpy,norse,netx")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    rows = {r["simulator"]: r for r in report["simulators"]}
    assert list(rows) == ["torch", "numpy", "norse", "netx-fixed"] and report["neuron"]["mv"] == "stm"
    assert rows["torch"]["loaded"] and all(l["spikes_equal"] for l in rows["torch"]["layers"])
    assert rows["torch"]["layers"][-1]["max_membrane_diff"] < 1e-5 and rows["torch"]["same_top1"] == 1
    assert not rows["norse"]["loaded"] and rows["norse"]["reason"] and "\n" not in rows["norse"]["reason"]
    assert not rows["netx-fixed"]["loaded"] and "neuron=lif" in rows["netx-fixed"]["reason"]
    assert "crosscheck: norse" in proc.stderr


def test_cli_table_and_bad_simulator(deployments, videos, tmp_path):
    proc = user_run(tmp_path, "crosscheck", deployments["lif"], videos[0], "-s", "numpy,netx-float")
    assert proc.returncode == 0, proc.stderr
    assert "numpy" in proc.stdout and "netx-float" in proc.stdout and "mv.0" in proc.stdout
    bad = user_run(tmp_path, "crosscheck", deployments["lif"], videos[0], "-s", "loihi3")
    assert bad.returncode == 2 and "unknown simulator(s) loihi3" in bad.stderr and "Traceback" not in bad.stderr


def test_float64_crosscheck_through_the_cli(deployments, videos, tmp_path):
    proc = user_run(tmp_path, "crosscheck", deployments["lif"], *videos, "--json", "--float64", "-s",
                    ",".join(EXACT) + ",netx-float")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["precision"] == "float64" and "float64" in report["reference"]
    rows = {r["simulator"]: r for r in report["simulators"]}
    for name in EXACT:           # every library's order of operations, rounded at 2^-53: the same neuron
        row = rows[name]
        assert row["loaded"] and row["precision"] == "float64" and row["same_top1"] == 2, (name, row["reason"])
        assert all(l["spikes_equal"] and l["max_membrane_diff"] <= 1e-12 for l in row["layers"]), name
    assert rows["netx-float"]["precision"] == "its own" and rows["netx-float"]["loaded"]
