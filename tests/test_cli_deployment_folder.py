"""Deployment folders as a user meets them (issue 12): `run` with a relative DEPLOY on the default (Lava) backend,
a folder from someone else whose manifest points outside it (refused), an edited manifest, a deployment without
its reference weights, `energy DEPLOY`. The real ``neurocv`` runs from a folder outside the repository."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat

import pytest
import torch

from neurocv.cli import main
from neurocv.exporters.deploy import sha256
from neurocv.models import create_model
from neurocv.synth import ACTIONS

from ._cli import assert_ok, assert_short_error, user_folder, user_run


@pytest.fixture(scope="module")
def work(tmp_path_factory, clip_factory):
    """A user's folder with ``tiny.pt``, ``v.mp4`` and ``dep/`` (exported in this process: no second torch import)."""
    d = user_folder(tmp_path_factory, clip_factory)
    with contextlib.redirect_stdout(io.StringIO()):
        main(["export", str(d / "tiny.pt"), "-o", str(d / "dep")])
    return d


def _clone(work, name: str, edit=None):
    dst = work / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(work / "dep", dst, symlinks=True)
    if edit is not None:
        m = json.loads((dst / "manifest.json").read_text())
        edit(dst, m)
        (dst / "manifest.json").write_text(json.dumps(m))
    return name


def test_relative_deploy_runs_on_the_default_lava_backend(work):
    """The Lava worker starts in another folder: the NIR paths must reach it absolute."""
    r = json.loads(assert_ok(user_run(work, "run", "dep", "v.mp4", "--json")).stdout.splitlines()[0])
    assert r["backend"] == "lava-float" and r["top1"] in ACTIONS and r["video"] == "v.mp4"


def _external_data_outside(d, m):
    import onnx

    f = d / "ann.onnx"
    onnx.save_model(onnx.load(str(f)), str(f), save_as_external_data=True, location="w.data", size_threshold=0)
    model = onnx.load(str(f), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../w.data"
    onnx.save_model(model, str(f))
    os.replace(d / "w.data", d.parent / "w.data")
    m["files"]["ann.onnx"].update(bytes=f.stat().st_size, sha256=sha256(f))


def _symlink_out(d, m):
    outside = d.parent / f"{d.name}-outside.nir"
    os.replace(d / "stm_mv.nir", outside)
    os.symlink(outside, d / "stm_mv.nir")


CRAFTED = {
    "absolute": (lambda d, m: m["files"].update({"/etc/hostname": {"role": "stm", "bytes": 1, "sha256": "0"}}),
                 "'/etc/hostname' is not a bare file name"),
    "dotdot": (lambda d, m: m["onnx"].update(file="../tiny.pt"), "'../tiny.pt' is not a bare file name"),
    "dotdot_nir": (lambda d, m: m["partition"]["spiking"]["mv"].update(file="../dep/stm_mv.nir"),
                   "is not a bare file name"),
    "netx_file": (lambda d, m: m["partition"]["spiking"]["r"].update(netx_file="../stm_r.net"),
                  "'../stm_r.net' is not a bare file name"),
    "symlink": (_symlink_out, "'stm_mv.nir' is a symbolic link"),
    "onnx_external_data": (_external_data_outside, "'../w.data' is not a bare file name"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_manifest_pointing_outside_its_folder_is_refused(work, case):
    edit, needle = CRAFTED[case]
    name = _clone(work, f"crafted_{case}", edit)
    assert_short_error(user_run(work, "run", name, "v.mp4", "-b", "torch"), needle, "self-contained")


def test_an_edited_manifest_is_refused_at_load(work):
    name = _clone(work, "edited", lambda d, m: m["input"].update(segments=2))
    assert_short_error(user_run(work, "run", name, "v.mp4", "-b", "torch"), "contradicts itself",
                       "input.segments 2")


def test_without_reference_weights_run_works_and_check_says_why_not(work):
    name = _clone(work, "noref")
    (work / name / "reference.safetensors").unlink()
    r = json.loads(assert_ok(user_run(work, "run", name, "v.mp4", "-b", "torch", "--json")).stdout)
    assert r["top1"] in ACTIONS
    assert_short_error(user_run(work, "run", name, "v.mp4", "-b", "torch", "--check"), "reference.safetensors",
                       "--no-reference")


def test_energy_of_a_deployment_folder(work):
    report = json.loads(assert_ok(user_run(work, "energy", "dep", "--json")).stdout)
    assert report["model"] == "dep" and report["total"]["energy_j"] > 0 and report["total"]["params"] > 0


def test_export_files_share_one_mode(work):
    """The folder and every file get the permissions the umask gives (not 0700 / 0600 from temp files)."""
    umask = os.umask(0)
    os.umask(umask)
    dep = work / "dep"
    assert stat.S_IMODE(dep.stat().st_mode) == 0o777 & ~umask
    assert {stat.S_IMODE(f.stat().st_mode) for f in dep.iterdir()} == {0o666 & ~umask}


def test_energy_from_run_counts_the_deployed_models_parameters(work):
    """Not the registered variant's (101-class head): the ops file carries the deployed config."""
    assert_ok(user_run(work, "run", "dep", "v.mp4", "-b", "torch", "--ops", "ops.json"))
    report = json.loads(assert_ok(user_run(work, "energy", "--from-run", "ops.json", "--json")).stdout)
    deployed = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3)
    registered = create_model("stm-tiny")
    want = sum(p.numel() for p in deployed.parameters())
    assert report["total"]["params"] == want != sum(p.numel() for p in registered.parameters())
