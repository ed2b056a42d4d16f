"""The int8 ANN partition and multi-chip placement as a user runs them (issue 19), through the real ``neurocv``
from a folder outside the repository: train (the data recorded in the checkpoint) -> export --int8 -> run --ann
int8 --check -> energy (int8 beside float) -> fit; and each mistake one line, exit 2, nothing half-written."""

from __future__ import annotations

import json
import shutil

import pytest

from ._cli import assert_ok, assert_short_error, user_run

TRAIN = ["train", "data", "-o", "run", "--epochs", "1", "--batch-size", "4", "--crop", "32", "--segments", "3"]
SMALL_CHIP = {"schema": "neurocv.chip/1", "name": "small", "cores_per_chip": 2, "neurons_per_core": 1024,
              "synaptic_memory_bytes_per_core": 196608, "synapses_per_chip": 120000000, "weight_bits": 8,
              "weight_sharing": True, "sources": ["a test chip: 2 cores of 1,024 neurons"]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    assert_ok(user_run(d, "synth", "data", "--videos-per-class", "2", "--size", "48x48", "--frames", "13"))
    assert_ok(user_run(d, *TRAIN))
    proc = assert_ok(user_run(d, "export", "run/best.pt", "-o", "dep", "--int8", "--calibration-clips", "6"))
    videos = sorted((d / "data" / "videos").glob("*/*.mp4"))[:2]
    (d / "small.json").write_text(json.dumps(SMALL_CHIP))
    return d, proc, [v.relative_to(d) for v in videos]


def test_train_records_its_data_and_export_writes_both_partitions(exported):
    import torch

    d, proc, _ = exported
    ckpt = torch.load(d / "run" / "best.pt", map_location="cpu", weights_only=True)
    assert ckpt["data"] == str((d / "data").resolve())
    m = json.loads((d / "dep" / "manifest.json").read_text())
    q = m["onnx"]["int8"]
    assert {"ann.onnx", "ann.int8.onnx"} <= set(m["files"]) and all(len(m["files"][f]["sha256"]) == 64
                                                                     for f in ("ann.onnx", "ann.int8.onnx"))
    assert m["files"]["ann.int8.onnx"]["role"] == "ann-int8"
    assert q["calibration"]["clips"] == 6 and "train split" in q["calibration"]["source"]
    assert "per channel" in q["weights"] and q["format"] == "QDQ"
    assert any(k["op"] == "LayerNormalization" and k["reason"] for k in q["kept_float"])
    assert q["validation"]["clips"] > 0 and m["placement"]["chips"] == 1
    assert "int8 ann.int8.onnx" in proc.stdout and "same top-1" in proc.stdout and "kept float" in proc.stdout


def test_run_int8_with_check_and_ops(exported):
    d, _, videos = exported
    proc = assert_ok(user_run(d, "run", "dep", *videos, "--ann", "int8", "--check", "--backend", "torch",
                              "--ops", "ops8.json"))
    assert "int8 ANN: " in proc.stdout and "same top-1 as torch" in proc.stdout and "accuracy" in proc.stdout
    ann = json.loads((d / "ops8.json").read_text())["per_video"]["layers"][-1]
    assert ann["name"] == "ann" and ann["precision"] == "int8" and 0 < ann["int8_macs"] <= ann["macs"]


def test_energy_of_the_deployment_and_of_the_int8_run(exported):
    d, _, videos = exported
    if not (d / "ops8.json").exists():
        assert_ok(user_run(d, "run", "dep", videos[0], "--ann", "int8", "--backend", "torch", "--ops", "ops8.json"))
    rep = json.loads(assert_ok(user_run(d, "energy", "dep", "--json", "--plot", "e.png")).stdout)
    s = rep["int8"]
    assert s["profile"] == "cmos45nm-int8" and s["energy_j"] < s["energy_float_j"]
    assert any("temporal.mv.layers" in n for n in s["float_layers"]) and (d / "e.png").stat().st_size > 1000
    text = assert_ok(user_run(d, "energy", "--from-run", "ops8.json")).stdout
    assert "stayed float" in text and "LayerNormalization" in text and "int8 deployment" in text


def test_fit_places_across_chips_and_counts_the_run_s_spikes(exported):
    d, _, videos = exported
    if not (d / "ops8.json").exists():
        assert_ok(user_run(d, "run", "dep", videos[0], "--ann", "int8", "--backend", "torch", "--ops", "ops8.json"))
    r = json.loads(assert_ok(user_run(d, "fit", "dep", "--system", "small.json", "--from-run", "ops8.json",
                                      "--json")).stdout)
    assert r["chips"] > 1 and sum(r["cores_per_chip"]) == r["cores"] and r["assumptions"]
    assert r["spikes_source"].startswith("measured") and r["cross_chip_spikes_per_step"] >= 0
    bound = json.loads(assert_ok(user_run(d, "fit", "dep", "--system", "small.json", "--json")).stdout)
    assert bound["cross_chip_spikes_per_step"] >= r["cross_chip_spikes_per_step"]
    assert "cores per chip" in assert_ok(user_run(d, "fit", "dep")).stdout
    assert_short_error(user_run(d, "fit", "dep", "--system", "small.json", "--chips", "1"),
                       f"needs {r['chips']} small chips")


def test_mistakes_are_one_line_and_write_nothing(exported):
    import torch

    d, _, videos = exported
    float_only = d / "float-only"
    shutil.copytree(d / "dep", float_only)
    m = json.loads((float_only / "manifest.json").read_text())
    del m["onnx"]["int8"]
    (float_only / "manifest.json").write_text(json.dumps(m))
    assert_short_error(user_run(d, "run", "float-only", videos[0], "--ann", "int8"), "no int8 ANN partition")

    ckpt = torch.load(d / "run" / "best.pt", map_location="cpu", weights_only=True)
    del ckpt["data"]
    torch.save(ckpt, d / "old.pt")
    assert_short_error(user_run(d, "export", "old.pt", "-o", "x1", "--int8"), "--calibrate DATA")
    (d / "bad" / "v").mkdir(parents=True)
    (d / "bad" / "v" / "a.mp4").write_bytes(b"not a video")
    (d / "bad" / "train.csv").write_text("path,label\nv/a.mp4,a\n")
    assert_short_error(user_run(d, "export", "run/best.pt", "-o", "x2", "--int8", "--calibrate", "bad"),
                       "none of the 1 clips")
    assert_short_error(user_run(d, "fit", "dep", "--system", "hala"), "unknown system 'hala'")
    assert not (d / "x1").exists() and not (d / "x2").exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".x")]       # no temporary folders left behind
