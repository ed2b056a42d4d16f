"""The stitched runtime against the whole torch model, its op counts, and every bad input it must reject clearly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from neurocv.errors import DeploymentError, EnvironmentSetupError, ExportError, NeuroCVError, VideoDecodeError
from neurocv.exporters.deploy import RUNTIME_TOLERANCE, export_deployment, sha256
from neurocv.models import create_model
from neurocv.runtime import OPS_SCHEMA, Deployment
from neurocv.synth import ACTIONS

CLIPS = [("translate_right", 1), ("zoom_in", 2), ("rotate_cw", 3)]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3).eval()
    out = tmp_path_factory.mktemp("deploy") / "dep"
    manifest = export_deployment(model, out, classes=list(ACTIONS))
    return out, manifest, model


@pytest.fixture(scope="module")
def videos(clip_factory):
    return [clip_factory(a, width=64, height=48, n_frames=26, seed=s)[0] for a, s in CLIPS]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rewrite(dep: Path, edit) -> None:
    mpath = dep / "manifest.json"
    manifest = json.loads(mpath.read_text())
    edit(manifest)
    mpath.write_text(json.dumps(manifest))


def _refresh_checksum(dep: Path, name: str) -> None:
    def edit(m):
        m["files"][name].update(sha256=sha256(dep / name), bytes=(dep / name).stat().st_size)
    _rewrite(dep, edit)


def test_export_writes_a_complete_validated_folder(deployment):
    out, manifest, _ = deployment
    assert sorted(p.name for p in out.iterdir()) == ["ann.onnx", "manifest.json", "reference.safetensors",
                                                     "stm_mv.nir", "stm_residual.nir", "validation.json"]
    assert set(manifest["versions"]) >= {"neurocv", "torch", "onnx", "onnxruntime", "nir"}
    assert manifest["input"]["segments"] == 3 and manifest["input"]["crop"] == 32 and manifest["dt_s"] == 1e-3
    assert manifest["model"]["classes"] == list(ACTIONS) and manifest["ops"]["ann_macs"] > 0
    fit = manifest["fit"]["loihi2"]
    assert fit["ok"] is True and fit["neurons"] == 2 * (16 * 16 * 16 + 16 * 8 * 8) and "fits" in fit["message"]
    for name, info in manifest["files"].items():
        assert sha256(out / name) == info["sha256"]
    val = json.loads((out / "validation.json").read_text())
    assert val["passed"] and val["onnx"]["outputs"]["logits"]["max_abs_diff"] < 1e-4
    assert val["stm"]["mv"]["max_abs_diff"] == 0.0 and val["stm"]["r"]["max_abs_diff"] == 0.0
    assert val["pipeline"]["logits"]["max_abs_diff"] < RUNTIME_TOLERANCE.atol
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]     # no temporary folders left


def test_torch_backend_matches_the_torch_model(deployment, videos):
    out, _, model = deployment
    dep = Deployment.load(out)
    with dep.session("torch", check=True) as s:
        for v in videos[:2]:
            r = s.run_video(v)
            clip = s.read(v)
            with torch.no_grad():
                want = model(*(torch.from_numpy(clip[k])[None] for k in ("i", "mv", "r")))[0].numpy()
            np.testing.assert_allclose(r["logits"], want, atol=RUNTIME_TOLERANCE.atol, rtol=RUNTIME_TOLERANCE.rtol)
            assert r["top1"] == r["torch_top1"] == ACTIONS[int(np.argmax(want))]
            assert len(r["top5"]) == 5 and abs(sum(p["probability"] for p in r["top5"]) - 1) < 0.5
            diff = r["max_abs_diff"]
            assert set(diff) == {"stm_mv", "stm_r", "ann", "logits"}
            assert diff["stm_mv"] == 0.0 and diff["stm_r"] == 0.0 and diff["logits"] < 1e-4
        ops = s.ops_report()
    assert ops["schema"] == OPS_SCHEMA and ops["n_videos"] == 2 and ops["backend"] == "torch"
    names = [layer["name"] for layer in ops["per_video"]["layers"]]
    assert names == ["temporal.mv.layers.0", "temporal.mv.layers.1", "temporal.r.layers.0", "temporal.r.layers.1",
                     "ann"]
    first, second = ops["per_video"]["layers"][:2]
    assert first["input"] == "analog" and first["macs"] > 0 and first["acs"] == 0
    assert second["input"] == "spikes" and second["macs"] == 0 and second["acs"] > 0 and second["spikes"] > 0
    assert second["neuron_updates"] == 16 * 8 * 8 * 3
    assert ops["per_video"]["layers"][-1]["macs"] == json.loads((out / "manifest.json").read_text())["ops"]["ann_macs"]
    for key in ("spikes", "acs"):
        mean = np.mean([v["layers"][1][key] for v in ops["videos"]])
        assert ops["per_video"]["layers"][1][key] == pytest.approx(mean)


def test_lava_float_backend_matches_the_torch_model(deployment, videos):
    dep = Deployment.load(deployment[0])
    with dep.session("lava-float", check=True) as s:
        for v in videos[:2]:
            r = s.run_video(v)
            assert r["top1"] == r["torch_top1"]
            assert r["max_abs_diff"]["logits"] < RUNTIME_TOLERANCE.atol
            assert r["timing_s"]["stm_worker"] > 0 and r["timing_s"]["ipc"] >= 0
        ops = s.ops_report()
    assert ops["backend"] == "lava-float" and ops["per_video"]["layers"][1]["acs"] > 0


def test_lava_fixed_backend_runs(deployment, videos):
    dep = Deployment.load(deployment[0])
    with dep.session("lava-fixed", check=True) as s:
        r = s.run_video(videos[0])
    assert r["top1"] in ACTIONS and np.isfinite(r["max_abs_diff"]["logits"])


def test_missing_or_broken_lava_environment(deployment, videos, tmp_path, monkeypatch):
    dep = Deployment.load(deployment[0])
    monkeypatch.setenv("NEUROCV_LAVA_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(EnvironmentSetupError, match="env-lava"):
        with dep.session("lava-float") as s:
            s.run_video(videos[0])
    failing = tmp_path / "python"
    failing.write_text("#!/bin/sh\necho 'broken interpreter' >&2\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setenv("NEUROCV_LAVA_PYTHON", str(failing))
    with pytest.raises(NeuroCVError) as info:
        with dep.session("lava-float") as s:
            s.run_video(videos[0])
    assert "\n" not in str(info.value).strip()


def test_worker_dying_mid_run_fails_one_video_then_recovers(deployment, videos):
    from neurocv.errors import WorkerError

    dep = Deployment.load(deployment[0])
    with dep.session("lava-float") as s:
        first = s.run_video(videos[0])
        os.kill(s.runner.pid, signal.SIGKILL)
        time.sleep(0.2)
        with pytest.raises(WorkerError):
            s.run_video(videos[1])
        again = s.run_video(videos[0])            # a fresh worker for the next video
    assert again["top1"] == first["top1"] and np.allclose(again["logits"], first["logits"])


def test_rejected_video_fails_alone(deployment, videos, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is a text file, not a video\n")
    dep = Deployment.load(deployment[0])
    with dep.session("torch") as s:
        with pytest.raises(VideoDecodeError) as info:
            s.run_video(bad)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)
        assert s.run_video(videos[2])["top1"] in ACTIONS
        assert s.ops_report()["n_videos"] == 1


@pytest.mark.parametrize("case", ["version", "format", "checksum", "missing", "onnx_shape", "stm_shape",
                                  "truncated_onnx", "truncated_nir", "no_manifest", "bad_json"])
def test_bad_deployments_are_rejected_with_one_line(deployment, tmp_path, case):
    dep = _copy(deployment[0], tmp_path / "dep")
    expect = DeploymentError
    if case == "version":
        _rewrite(dep, lambda m: m["versions"].update(neurocv="9.4.0"))
        needle = "exported by neurocv 9.4.0"
    elif case == "format":
        _rewrite(dep, lambda m: m.update(format="neurocv.deployment/7"))
        needle = "format"
    elif case == "checksum":
        with open(dep / "stm_mv.nir", "ab") as fh:
            fh.write(b"\0")
        needle = "stm_mv.nir: checksum mismatch"
    elif case == "missing":
        (dep / "ann.onnx").unlink()
        needle = "ann.onnx: listed in the manifest but missing"
    elif case == "onnx_shape":
        _rewrite(dep, lambda m: m["partition"]["boundary"][1].update(shape=["B", 3, 16, 4, 4]))
        needle = "do not match the manifest"
    elif case == "stm_shape":
        spec = lambda m: m["partition"]["spiking"]["r"]["input"]   # noqa: E731  (channels only: still consistent)
        _rewrite(dep, lambda m: spec(m).update(shape=spec(m)["shape"][:1] + [4] + spec(m)["shape"][2:]))
        needle = "stm_residual.nir: STM maps"
    elif case == "truncated_onnx":
        data = (dep / "ann.onnx").read_bytes()
        (dep / "ann.onnx").write_bytes(data[: len(data) // 2])
        _refresh_checksum(dep, "ann.onnx")
        needle = "not a loadable ONNX model"
    elif case == "truncated_nir":
        data = (dep / "stm_mv.nir").read_bytes()
        (dep / "stm_mv.nir").write_bytes(data[: len(data) // 2])
        _refresh_checksum(dep, "stm_mv.nir")
        expect, needle = ExportError, "stm_mv.nir: not a readable NIR file"
    elif case == "no_manifest":
        (dep / "manifest.json").unlink()
        needle = "no manifest.json"
    else:
        (dep / "manifest.json").write_text("{ truncated")
        needle = "unreadable or incomplete manifest"
    with pytest.raises(expect) as info:
        Deployment.load(dep)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg


def test_reference_weights_are_hashed_only_when_check_reads_them(deployment, tmp_path):
    dep = _copy(deployment[0], tmp_path / "dep")
    f = dep / "reference.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF                                   # same size, different content
    f.write_bytes(bytes(data))
    loaded = Deployment.load(dep)                      # load reads no reference weights: no hash of them
    with pytest.raises(DeploymentError) as info:
        loaded.reference_model()
    msg = str(info.value)
    assert "reference.safetensors: checksum mismatch" in msg and "\n" not in msg
    f.write_bytes(bytes(data[:-1]))                    # a size change is still caught at load
    with pytest.raises(DeploymentError, match="reference.safetensors: checksum mismatch"):
        Deployment.load(dep)


def test_reexport_replaces_a_deployment_and_refuses_foreign_folders(deployment, tmp_path):
    _, _, model = deployment
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(DeploymentError, match="holds no deployment"):
        export_deployment(model, foreign)
    assert (foreign / "thesis.tex").read_text() == "keep me"
    with pytest.raises(DeploymentError, match="unknown backend"):
        Deployment.load(deployment[0]).session("loihi")


# -- hardware-native (neuron=lif) deployments: lava-dl netx files and the netx backend ------------------------------

@pytest.fixture(scope="module")
def lif_deployment(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3, neuron="lif").eval()
    out = tmp_path_factory.mktemp("deploy_lif") / "dep"
    manifest = export_deployment(model, out, classes=list(ACTIONS))
    return out, manifest, model


def test_lif_export_writes_validated_netx_files(lif_deployment):
    out, manifest, _ = lif_deployment
    assert {"stm_mv.net", "stm_residual.net"} <= set(manifest["files"])
    assert manifest["partition"]["spiking"]["mv"]["netx_file"] == "stm_mv.net"
    val = json.loads((out / "validation.json").read_text())["netx"]["r"]
    assert val["file"] == "stm_residual.net" and val["readout"] == "spikes" and len(val["layers"]) == 2
    for mode in ("float", "fixed"):     # Loihi integers on the sample clip: spike counts within 3 % of torch
        for got, want in zip(val[mode]["spikes"], val["torch_spikes"]):
            assert want > 0 and abs(got - want) <= 0.03 * want


def test_netx_backend_runs_whole_videos(lif_deployment, videos):
    dep = Deployment.load(lif_deployment[0])
    for backend in ("netx", "netx-float"):
        with dep.session(backend, check=True) as s:
            for v in videos[:2]:
                r = s.run_video(v)
                assert r["backend"] == backend and r["top1"] == r["torch_top1"]
                assert r["max_abs_diff"]["logits"] < 0.1 and r["timing_s"]["stm_worker"] > 0
            ops = s.ops_report()
        mv0, mv1 = ops["per_video"]["layers"][:2]
        assert mv0["input"] == "analog" and mv0["macs"] > 0 and mv1["acs"] > 0 and mv1["spikes"] > 0


def test_paper_stm_has_no_netx_export(deployment, tmp_path):
    _, _, model = deployment
    assert not any(name.endswith(".net") for name in deployment[1]["files"])     # not written by default
    with pytest.raises(ExportError) as info:
        export_deployment(model, tmp_path / "dep", netx=True)
    msg = str(info.value)
    assert "\n" not in msg and "subtractive reset" in msg and "analog" in msg and "--set neuron=lif" in msg
    assert not (tmp_path / "dep").exists()
    with pytest.raises(NeuroCVError, match="no netx file for STM"):
        Deployment.load(deployment[0]).session("netx").__enter__()


def test_cli_export_netx_of_paper_stm_is_one_line(deployment, tmp_path):
    from neurocv.checkpoint import save_checkpoint
    from tests._cli import user_run

    model = deployment[2]
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, {"model": "stm-tiny", "config": model.config_dict(), "classes": list(ACTIONS),
                           "state_dict": model.state_dict(), "train_config": {"segments": 3, "crop": 32}})
    proc = user_run(tmp_path, "export", ckpt, "-o", "dep", "--netx")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "subtractive reset" in lines[0] and "--set neuron=lif" in lines[0]
    assert not (tmp_path / "dep").exists()
