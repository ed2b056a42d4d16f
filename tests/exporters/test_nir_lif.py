"""Portable NIR for the hardware-native STM (neuron="lif"): standard nodes only, dt in the metadata, the same
unmodified file runs in norse, snnTorch and nirtorch with the model's spikes; the paper's STM says who reads it."""

from __future__ import annotations

import copy

import h5py
import nir
import numpy as np
import pytest
import torch

from neurocv.crosscheck import reference_traces
from neurocv.errors import ExportError
from neurocv.exporters.nir_check import LIBRARIES, check_libraries, run_library
from neurocv.exporters.nir_export import portability_note, stm_to_spec, write_stm_nir
from neurocv.hardware.stm_spec import FORMAT_LIF, LIF_DT_S, load_stm_spec, simulate_numpy
from neurocv.models.neuron import set_surrogate
from neurocv.models.stm import SpikingTemporalModulator

NAMES = ["temporal.mv.layers.0", "temporal.mv.layers.1"]
STANDARD = (nir.Input, nir.Output, nir.Conv2d, nir.LIF, nir.LI)
MEMBRANE_TOL = 1e-5   # library membrane vs the numpy reference: float32 rounding of the folded weights only


def make_stm(readout="spikes", seed=0):
    torch.manual_seed(seed)
    stm = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, leak=0.6, neuron="lif", readout=readout)
    with torch.no_grad():   # distinct per-layer parameters, as after training
        stm.layers[1].neuron.raw_leak -= 0.5
        if readout == "spikes":
            stm.layers[1].neuron.raw_v_th += 0.2
    return set_surrogate(stm, False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    stm = make_stm()
    path = tmp_path_factory.mktemp("nir") / "stm_mv.nir"
    report = {}
    write_stm_nir(stm, path, (2, 16, 16), names=NAMES, report=report)
    clip = torch.randn(1, 8, 2, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y, _ = stm(clip)
    return stm, path, report, clip[0].numpy(), y[0].numpy()


def test_standard_nodes_dt_and_folded_parameters(exported):
    stm, path, report, _, _ = exported
    graph = nir.read(path)
    assert all(isinstance(n, STANDARD) for n in graph.nodes.values())
    assert graph.metadata["format"] == FORMAT_LIF and graph.metadata["dt_s"] == LIF_DT_S == 1e-4
    assert graph.metadata["reset"] == "zero"
    for name, layer in zip(NAMES, stm.layers):
        lif, conv = graph.nodes[f"{name}.lif"], graph.nodes[f"{name}.conv"]
        p = layer.neuron.params()
        assert np.all(lif.r == 1) and np.all(lif.v_leak == 0) and np.all(lif.v_reset == 0)
        assert np.float32(1 - LIF_DT_S / lif.tau.flat[0]) == np.float32(p.leak.item())   # tau written for dt
        assert np.float32(lif.v_threshold.flat[0]) == np.float32(p.v_th.item())
        gain = LIF_DT_S / lif.tau.flat[0]                                                   # r folded in
        np.testing.assert_allclose(conv.weight * gain, layer.conv.weight.detach().numpy(), rtol=1e-6, atol=1e-8)
    edges = {tuple(e) for e in graph.edges}
    assert ("temporal.mv.layers.1.lif", "output") in edges and ("input", "temporal.mv.layers.0.conv") in edges
    assert "norse, snnTorch and nirtorch" in report["portability"]
    assert [r["library"] for r in report["libraries"]] == list(LIBRARIES)
    assert all(r["spikes_equal"] for r in report["libraries"])


@pytest.mark.parametrize("library", LIBRARIES)
def test_each_library_reproduces_the_model_spikes(exported, library):
    stm, path, _, clip, y_torch = exported
    spec = stm_to_spec(stm, (2, 16, 16), names=NAMES, name="mv")
    run = run_library(library, path, spec, clip)
    assert run.loaded, run.reason
    assert np.array_equal(run.output, y_torch)            # the STM's output: the last layer's spikes
    ref = {}
    simulate_numpy(spec, clip, trace=ref)
    for k in range(2):
        assert np.array_equal(run.spikes[k], ref["spikes"][k])
        assert ref["spikes"][k].sum() > 0                   # every layer fired
        assert np.abs(run.membrane[k] - ref["membrane"][k]).max() <= MEMBRANE_TOL


def test_spec_from_the_file_runs_like_the_model(exported):
    stm, path, _, clip, y_torch = exported
    spec = load_stm_spec(path)
    assert spec.neuron == "lif" and spec.readout == "spikes" and spec.dt_s == LIF_DT_S and spec.name == "mv"
    for layer, mod in zip(spec.layers, stm.layers):
        assert np.float32(layer.leak) == np.float32(mod.neuron.params().leak.item())
        np.testing.assert_allclose(layer.weight, mod.conv.weight.detach().numpy(), rtol=1e-6, atol=1e-8)
    y, counts = simulate_numpy(spec, clip)
    assert np.array_equal(y, y_torch)
    assert counts["layers"][1]["acs"] > 0 and counts["layers"][0]["macs"] > 0


def test_li_readout_is_nirtorch_only(tmp_path):
    stm = make_stm("li")
    path = tmp_path / "stm_mv.nir"
    report = {}
    write_stm_nir(stm, path, (2, 16, 16), names=NAMES, report=report)
    graph = nir.read(path)
    assert isinstance(graph.nodes["temporal.mv.layers.1.li"], nir.LI)
    rows = {r["library"]: r for r in report["libraries"]}
    assert rows["nirtorch"]["spikes_equal"]
    assert not rows["norse"]["loaded"] and not rows["snntorch"]["loaded"] and "LI" in rows["snntorch"]["reason"]
    spec = load_stm_spec(path)
    assert spec.readout == "li" and spec.layers[-1].v_th == np.inf
    clip = np.random.default_rng(0).standard_normal((6, 2, 16, 16)).astype(np.float32)
    with torch.no_grad():
        y_torch, _ = stm(torch.from_numpy(clip)[None])
    y, _ = simulate_numpy(spec, clip)
    assert np.abs(y - y_torch[0].numpy()).max() <= MEMBRANE_TOL * np.abs(y_torch.numpy()).max()


def test_changed_spikes_fail_the_export_check(exported, tmp_path):
    stm, path, _, clip, _ = exported
    bad = tmp_path / "edited.nir"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "r+") as f:          # a threshold the model does not have
        ds = f["node/nodes/temporal.mv.layers.0.lif/v_threshold"]
        ds[...] = ds[...] * 3
    spec = stm_to_spec(stm, (2, 16, 16), names=NAMES, name="mv")
    with pytest.raises(ExportError, match="edited.nir.*spikes differ"):
        check_libraries(bad, spec, clip, require=True)


def test_broken_portable_file_names_the_problem(exported, tmp_path):
    _, path, _, _, _ = exported
    bad = tmp_path / "reset.nir"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "r+") as f:
        ds = f["node/nodes/temporal.mv.layers.1.lif/v_reset"]
        ds[...] = 0.5
    with pytest.raises(ExportError, match="reset.nir: layer temporal.mv.layers.1: v_reset must be 0"):
        load_stm_spec(bad)


def test_paper_stm_note_names_readers_and_the_way_out():
    torch.manual_seed(0)
    stm = set_surrogate(SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1), False)
    note = portability_note(stm_to_spec(stm, (2, 16, 16)), "stm_mv.nir")
    assert "only nirtorch" in note and "--set neuron=lif" in note and "\n" not in note


def test_missing_library_is_reported_not_fatal(exported, monkeypatch):
    import neurocv.hardware.nir_libraries as nc

    stm, path, _, clip, _ = exported
    real = nc.load_library

    def fake(library, graph, dt_s):
        if library == "snntorch":
            raise ImportError("No module named 'snntorch'")
        return real(library, graph, dt_s)

    monkeypatch.setattr(nc, "load_library", fake)
    rows = {r["library"]: r for r in check_libraries(path, stm_to_spec(stm, (2, 16, 16), names=NAMES, name="mv"),
                                                     clip, require=True)}
    assert not rows["snntorch"]["loaded"] and rows["snntorch"]["reason"].startswith("not installed")
    assert rows["norse"]["spikes_equal"] and rows["nirtorch"]["spikes_equal"]


def test_pow2_leak_makes_the_folding_exact(tmp_path):
    """With lambda = 1 - 2^-j the file's gain dt/tau is a power of two: the folded weights times the gain give the
    model's weights bit for bit, snnTorch and nirtorch give the model's float32 membranes exactly, and in float64
    all three libraries agree with the model to 2^-53 rounding."""
    torch.manual_seed(3)
    stm = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, leak=0.75, neuron="lif")
    with torch.no_grad():
        stm.layers[1].neuron.raw_leak.fill_(2.2)           # sigmoid 0.90 -> lambda 0.875 (j = 3)
    set_surrogate(stm, False)
    assert [l.neuron.params().leak.item() for l in stm.layers] == [0.75, 0.875]
    path = tmp_path / "stm_mv.nir"
    write_stm_nir(stm, path, (2, 16, 16), names=NAMES)
    graph = nir.read(path)
    for name, layer in zip(NAMES, stm.layers):
        gain = LIF_DT_S / graph.nodes[f"{name}.lif"].tau.flat[0]
        assert gain in (0.25, 0.125)
        assert np.array_equal((graph.nodes[f"{name}.conv"].weight * gain).astype(np.float32),
                              layer.conv.weight.detach().numpy())
    clip = torch.randn(8, 2, 16, 16, generator=torch.Generator().manual_seed(4)).numpy()
    spec = load_stm_spec(path)
    ref32, ref64 = reference_traces(stm, clip), reference_traces(copy.deepcopy(stm).double(), clip)
    (mem32, spk32), (mem64, spk64) = ((r["membranes"], r["spikes"]) for r in (ref32, ref64))
    for library in LIBRARIES:
        run = run_library(library, path, spec, clip)
        run64 = run_library(library, path, spec, clip, dtype=torch.float64)
        assert run.loaded and run64.loaded, (run.reason, run64.reason)
        for k in range(2):
            assert spk32[k].sum() > 0 and np.array_equal(run.spikes[k], spk32[k]), (library, k)
            assert np.array_equal(run64.spikes[k], spk64[k]), (library, k)
            assert run64.membrane[k].dtype == np.float64
            assert np.abs(run64.membrane[k] - mem64[k]).max() <= 1e-12, (library, k)
            if library != "norse":      # norse sums v + dt/tau (I - v): another order, float32 rounding apart
                assert np.array_equal(run.membrane[k], mem32[k]), (library, k)
