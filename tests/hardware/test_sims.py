"""The simulator adapters (neurocv/hardware/sims/): one interface, one file each, the same spikes as the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurocv.exporters.nir_export import write_stm_nir
from neurocv.hardware import sims
from neurocv.hardware.sims import STMFiles, SimulatorUnavailable, open_simulator
from neurocv.models.neuron import set_surrogate
from neurocv.models.stm import SpikingTemporalModulator

SHAPE = (2, 16, 16)
IN_PROCESS = ("torch", "numpy", "norse", "snntorch", "nirtorch")


def _export(tmp_path, neuron: str, readout: str = "spikes"):
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, (8, 8), (2, 1), v_th=0.1, leak=0.6, neuron=neuron, readout=readout)
    set_surrogate(stm, False)
    path = tmp_path / f"stm_mv_{neuron}_{readout}.nir"
    write_stm_nir(stm, path, SHAPE, names=["mv.0", "mv.1"])
    return stm, {"mv": STMFiles("mv", path)}


def _model_trace(stm, x):
    spikes, out, state = [0.0] * len(stm.layers), [], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = stm.step(torch.from_numpy(x[t])[None], state)
            out.append(y[0].numpy())
            spikes = [c + float(s.o.sum()) if hasattr(s, "o") else c for c, s in zip(spikes, state)]
    return np.stack(out), spikes


@pytest.fixture(scope="module")
def clip():
    return (np.random.default_rng(3).normal(size=(5, *SHAPE)) * 2).astype(np.float32)


def test_registry_lists_every_adapter_once_with_aliases():
    names = list(sims.available())
    assert names == ["torch", "numpy", "lava-float", "lava-fixed", "netx-float", "netx-fixed", "nirtorch", "norse",
                     "snntorch"]
    assert sims.ALIASES["netx"] == "netx-fixed"
    with pytest.raises(ValueError, match="unknown simulator 'loihi3'.*netx"):
        open_simulator("loihi3", {})


@pytest.mark.parametrize("neuron", ["stm", "lif"])
def test_in_process_simulators_reproduce_the_model(tmp_path, clip, neuron):
    """Every in-process adapter that loads the file gives the model's spike counts on every layer; torch and
    numpy (and the NIR libraries for a LIF file) its readout. The NIR libraries do not run the paper's STM."""
    stm, files = _export(tmp_path, neuron)
    want_y, want_spikes = _model_trace(stm, clip)
    assert min(want_spikes) > 0
    for name in IN_PROCESS:
        if neuron == "stm" and name in ("norse", "snntorch", "nirtorch"):
            with pytest.raises(SimulatorUnavailable) as info:
                open_simulator(name, files)
            assert "\n" not in str(info.value) and name in str(info.value)
            continue
        with open_simulator(name, files) as sim:
            run = sim.run("mv", clip)
        assert [l["spikes"] for l in run.counts["layers"]] == want_spikes, name
        assert len(run.membranes) == len(run.spikes) == 2 and run.spikes[1].shape == (5, 8, 8, 8)
        np.testing.assert_allclose(run.output, want_y, atol=1e-5, rtol=1e-5, err_msg=name)
        assert run.counts["layers"][1]["acs"] > 0 and run.counts["layers"][0]["macs"] > 0


def test_li_readout_is_a_membrane_in_nirtorch(tmp_path, clip):
    stm, files = _export(tmp_path, "lif", "li")
    want_y, want_spikes = _model_trace(stm, clip)
    for name in ("torch", "numpy", "nirtorch"):
        run = open_simulator(name, files).run("mv", clip)
        assert [l["spikes"] for l in run.counts["layers"]] == want_spikes
        np.testing.assert_allclose(run.output, want_y, atol=1e-5, rtol=1e-5)
    assert np.abs(want_y).max() > 0 and len(np.unique(want_y)) > 2       # analog, not spikes


def test_netx_needs_its_file(tmp_path):
    _, files = _export(tmp_path, "stm")
    for name in ("netx", "netx-float"):
        with pytest.raises(SimulatorUnavailable) as info:
            open_simulator(name, files)
        assert "no netx file for STM mv" in str(info.value) and "neuron=lif" in str(info.value)


def _plug_in(folder, monkeypatch, body: str) -> None:
    """A simulator file ``halved_sim.py`` in ``folder`` (``body`` after the two imports it needs), found by the
    registry as a file of its own package would be."""
    (folder / "halved_sim.py").write_text("from neurocv.hardware.sims import SimInfo\n"
                                          "from neurocv.hardware.sims.numpy_sim import NumpySimulator\n" + body)
    monkeypatch.setattr(sims, "__path__", [*sims.__path__, str(folder)])
    monkeypatch.syspath_prepend(str(folder))


def test_adding_a_simulator_is_adding_one_file(tmp_path, monkeypatch, clip):
    _plug_in(tmp_path, monkeypatch,
             "class Halved(NumpySimulator):\n"
             "    name = 'halved'\n"
             "    def run(self, stm, x):\n"
             "        return super().run(stm, x / 2)\n"
             "SIMULATORS = {'halved': SimInfo('halved', 'numpy on half the input', Halved)}\n")
    assert "halved" in sims.available() and len(sims.available()) == 10
    _, files = _export(tmp_path, "lif")
    run = open_simulator("halved", files).run("mv", clip)
    ref = open_simulator("numpy", files).run("mv", clip / 2)
    assert run.counts == ref.counts


def test_each_nir_library_is_its_adapter_alone(tmp_path):
    """The NIR libraries are the registry's NIR-library adapters; which file each reads is the adapter's answer
    (norse and snnTorch map no LI node), and no module outside the adapters asks which library it is."""
    from pathlib import Path

    from neurocv.hardware import nir_libraries
    from neurocv.hardware.stm_spec import load_stm_spec

    adapters = nir_libraries.library_adapters()
    assert nir_libraries.LIBRARIES == tuple(adapters) == ("nirtorch", "norse", "snntorch")
    assert all(a.library == name and sims.available()[name].open is a for name, a in adapters.items())
    spikes, li = (load_stm_spec(_export(tmp_path, "lif", r)[1]["mv"].nir) for r in ("spikes", "li"))
    assert {n: (a.reads(spikes), a.reads(li)) for n, a in adapters.items()} == {
        "nirtorch": (True, True), "norse": (True, False), "snntorch": (True, False)}
    with pytest.raises(ValueError, match="unknown library 'brian'; known: nirtorch, norse, snntorch"):
        nir_libraries.library_adapter("brian")
    src = Path(sims.__file__).parents[2]
    asking = [str(f.relative_to(src)) for f in src.rglob("*.py") if "library ==" in f.read_text()]
    assert not asking, asking


def test_runtime_backends_come_from_the_registry(tmp_path, monkeypatch):
    """``neurocv run --backend`` offers the registry's backends (Lava-worker ones first, aliases by their family);
    a new adapter file is a new backend unless it says ``backend=False`` (as the NIR libraries do)."""
    from neurocv import runtime

    assert runtime.BACKENDS == ("lava-float", "lava-fixed", "netx", "netx-float", "netx-fixed", "torch", "numpy")
    infos = sims.available()
    assert set(runtime.BACKENDS) == {n for n, i in infos.items() if i.backend} | set(sims.ALIASES)
    assert [b for b in runtime.BACKENDS if runtime._is_worker(b)] == list(runtime.BACKENDS[:5])
    _plug_in(tmp_path, monkeypatch,
             "SIMULATORS = {'halved': SimInfo('halved', 'a backend', NumpySimulator),\n"
             "              'aside': SimInfo('aside', 'crosscheck only', NumpySimulator, backend=False)}\n")
    assert runtime._backends() == runtime.BACKENDS + ("halved",)
