"""lava-dl netx files of a LIF STM: layout, Loihi integer ranges, the numpy model of what Lava runs from them, the
real netx loader in .venv-lava (bit-exact, floating_pt and fixed_pt, reset per clip), the refusal for the paper's
STM, and the Lava worker that never imports torch although torch is installed beside it."""

from __future__ import annotations

import subprocess

import h5py
import numpy as np
import pytest

from neurocv.errors import ExportError
from neurocv.hardware.lava_backend import LavaSTMRunner, find_lava_python, REPO_ROOT
from neurocv.hardware.netx_format import (NETX_FORMAT, VTH_MANT_MAX, check_netx_compatible, quantize_netx,
                                          read_netx, simulate_netx_numpy, write_netx)
from neurocv.hardware.stm_spec import STMLayerSpec, STMSpec, simulate_numpy

SHAPE = (2, 16, 16)
STEPS = 4


def lif_spec(readout: str = "spikes", seed: int = 0) -> STMSpec:
    rng = np.random.default_rng(seed)

    def layer(name, ci, co, stride, inp, kind):
        return STMLayerSpec(name=name, weight=(rng.normal(size=(co, ci, 3, 3)) * 0.3).astype(np.float32),
                            bias=(rng.normal(size=co) * 0.02).astype(np.float32), stride=stride, padding=1,
                            v_th=np.inf if kind == "li" else 0.1, leak=0.6, input=inp, neuron=kind)

    last = "li" if readout == "li" else "lif"
    return STMSpec("mv", SHAPE, 1e-4, (layer("mv.0", 2, 8, 2, "analog", "lif"), layer("mv.1", 8, 16, 1, "spikes", last)))


def clips(n: int = 2, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, STEPS, *SHAPE)).astype(np.float32)


def test_file_has_netx_layout_and_loihi_ranges(tmp_path):
    spec = lif_spec()
    net = write_netx(spec, tmp_path / "stm_mv.net")
    with h5py.File(tmp_path / "stm_mv.net") as f:
        assert f.attrs["format"] == NETX_FORMAT
        layers = f["layer"]
        assert sorted(layers) == ["0", "1", "2"]
        assert layers["0/type"][0] == b"input" and list(layers["0/shape"][()]) == [2, 16, 16]
        conv = layers["1"]
        assert conv["type"][0] == b"conv" and list(conv["shape"][()]) == [8, 8, 8]
        assert conv["weight"].shape == (8, 2, 3, 3) and list(conv["stride"][()]) == [2, 2]
        neuron = conv["neuron"]
        assert neuron["type"][0] == b"CUBA" and int(neuron["iDecay"][()]) == 4096
        assert int(neuron["vDecay"][()]) == round(0.4 * 4096)
    for layer in net.layers:
        assert layer.weight.min() >= -128 and layer.weight.max() <= 127 and np.abs(layer.weight).max() >= 64
        assert 1 <= layer.v_th <= VTH_MANT_MAX and 0 <= layer.v_decay < 4096
        assert np.abs(layer.bias).max() < 4096
    back = read_netx(tmp_path / "stm_mv.net")
    assert back.input_bits == net.input_bits and back.readout == "spikes"
    assert all(np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias) and a.v_th == b.v_th
               for a, b in zip(net.layers, back.layers))


def test_quantised_float_model_follows_the_float_lif():
    """The netx integers in float arithmetic against the unquantised LIF (numpy reference): 8-bit weights and a
    rounded threshold flip few spikes (measured with this seed: layer spikes within 2 %)."""
    spec = lif_spec()
    net = quantize_netx(spec)
    for x in clips():
        _, ref = simulate_numpy(spec, x)
        for mode in ("float", "fixed"):
            _, counts, _ = simulate_netx_numpy(net, x, mode)
            for got, want in zip(counts["layers"], ref["layers"]):
                assert want["spikes"] > 50
                assert abs(got["spikes"] - want["spikes"]) <= 0.02 * want["spikes"]
                assert got["macs"] == want["macs"] and got["neurons"] == want["neurons"]


def test_paper_stm_has_no_netx_form():
    spec = lif_spec()
    stm = STMSpec("mv", SHAPE, 1e-3, tuple(STMLayerSpec(l.name, l.weight, l.bias, l.stride, l.padding, 0.1, 0.6,
                                                        l.input) for l in spec.layers))
    with pytest.raises(ExportError) as info:
        check_netx_compatible(stm, "stm_mv.net")
    msg = str(info.value)
    assert "\n" not in msg and "stm_mv.net" in msg and "subtractive reset" in msg and "analog" in msg
    assert "--set neuron=lif" in msg
    with pytest.raises(ExportError, match="subtractive reset"):
        quantize_netx(stm)


def test_unreadable_netx_file_names_it(tmp_path):
    bad = tmp_path / "stm_mv.net"
    bad.write_bytes(b"\x89HDF\r\n" + b"\0" * 50)
    with pytest.raises(ExportError, match="stm_mv.net: not a readable netx file"):
        read_netx(bad)


@pytest.mark.parametrize("readout", ["spikes", "li"])
def test_netx_in_lava_equals_the_integer_model(tmp_path, readout):
    """lava-dl's hdf5.Network loads the file; Lava's fixed_pt equals the numpy integer model bit for bit and
    floating_pt the same parameters in float, for every clip (the third repeats the first: state was reset)."""
    spec = lif_spec(readout)
    path = tmp_path / "stm_mv.net"
    net = write_netx(spec, path)
    xs = clips()
    for mode in ("fixed", "float"):
        with LavaSTMRunner({"mv": path}, mode, worker="netx", timeout_s=300) as runner:
            assert runner.shapes["mv"] == {"input": [2, 16, 16], "output": [16, 8, 8]}
            for k in (0, 1, 0):
                y, counts = runner.run("mv", xs[k])
                want, want_counts, _ = simulate_netx_numpy(net, xs[k], mode)
                assert y.shape == (STEPS, 16, 8, 8) and np.abs(want).max() > 0
                np.testing.assert_array_equal(y, want)
                assert counts == want_counts and counts["layers"][0]["spikes"] > 0


def test_lava_worker_never_imports_torch_although_it_is_installed(tmp_path):
    """The Lava worker's imports and a whole Lava run in .venv-lava, where lava-dl's torch is installed: torch
    stays out of the process."""
    import torch

    from neurocv.exporters.nir_export import write_stm_nir
    from neurocv.models.neuron import set_surrogate
    from neurocv.models.stm import SpikingTemporalModulator

    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, (4, 4), (2, 1), v_th=0.1, leak=0.6)
    set_surrogate(stm, False)
    nir_path = tmp_path / "stm_mv.nir"
    write_stm_nir(stm, nir_path, (2, 8, 8), names=["mv.0", "mv.1"])
    code = f"""
import importlib.util, sys
import numpy as np
assert importlib.util.find_spec("torch") is not None, "torch should be installed in .venv-lava (lava-dl needs it)"
from neurocv.hardware import lava_worker
from neurocv.hardware.stm_spec import load_stm_spec
net = lava_worker.LavaSTMNetwork(load_stm_spec({str(nir_path)!r}), "float")
u, counts = net.run(np.ones((3, 2, 8, 8), np.float32))
net.stop()
assert u.shape == (3, 4, 4, 4)
print("torch loaded:", "torch" in sys.modules)
"""
    py = find_lava_python()
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=str(REPO_ROOT), timeout=300,
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch loaded: False" in out.stdout


def test_netx_streams_every_layer_membrane_on_request(tmp_path):
    """``trace=True`` (what crosscheck asks for): each layer's membrane after the reset, in float units, equal to the
    integer model's; the readout and counts unchanged."""
    from neurocv.hardware.sims import STMFiles, open_simulator

    spec = lif_spec()
    nir = tmp_path / "stm_mv.nir"
    nir.write_bytes(b"")       # the netx adapter reads only the .net file beside it
    net = write_netx(spec, tmp_path / "stm_mv.net")
    x = clips()[1]
    with open_simulator("netx", {"mv": STMFiles("mv", nir, tmp_path / "stm_mv.net")}, trace=True) as sim:
        run = sim.run("mv", x)
    y, counts, mems = simulate_netx_numpy(net, x, "fixed")
    np.testing.assert_array_equal(run.output, y)
    assert run.counts == counts and len(run.membranes) == 2
    for got, want in zip(run.membranes, mems):
        np.testing.assert_array_equal(got, want)
    assert np.abs(run.membranes[0]).max() > 0
