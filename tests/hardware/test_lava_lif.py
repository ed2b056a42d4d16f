"""The Lava processes run hardware-native STMs (LIF layers, hard reset; a last LI layer for readout "li"), in both
layouts (fused, split) and both modes: floating_pt bit for bit the torch model and the numpy reference,
fixed_pt bit for bit the integer reference :func:`~neurocv.hardware.fixed_point.simulate_fixed_numpy`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurocv.exporters.nir_export import write_stm_nir
from neurocv.hardware.fixed_point import quantize_spec, simulate_fixed_numpy
from neurocv.hardware.lava_backend import LavaSTMRunner
from neurocv.hardware.stm_spec import load_stm_spec, simulate_numpy
from neurocv.models.neuron import set_surrogate
from neurocv.models.stm import SpikingTemporalModulator

SHAPE = (2, 16, 16)
STEPS = 4
NETWORKS = {"fused": None, "split": {"layout": "split", "conv": "lava"}}    # split: Lava's own Conv process


def _lif_stm(readout: str, dyadic: bool) -> SpikingTemporalModulator:
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, leak=0.6, neuron="lif", readout=readout)
    set_surrogate(stm, False)
    if dyadic:    # weights on a 2^-8 grid: every conv sum is exact in float32, whatever order a library sums in
        with torch.no_grad():
            for layer in stm.layers:
                layer.conv.weight.copy_(torch.round(layer.conv.weight * 256) / 256)
                layer.conv.bias.copy_(torch.round(layer.conv.bias * 256) / 256)
    return stm


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """STM "mv" reads out the last LIF layer's spikes, STM "r" the membrane of a last LI layer; inputs on a 2^-6
    grid, so torch, numpy and Lava (float64 conv sums) compute the same currents."""
    folder = tmp_path_factory.mktemp("lif")
    stms, paths = {}, {}
    for name, readout in (("mv", "spikes"), ("r", "li")):
        stms[name] = _lif_stm(readout, dyadic=True)
        paths[name] = folder / f"stm_{name}.nir"
        write_stm_nir(stms[name], paths[name], SHAPE, names=[f"{name}.0", f"{name}.1"])
    x = np.round(np.random.default_rng(5).normal(size=(2, STEPS, *SHAPE)) * 64) / 64
    return stms, paths, x.astype(np.float32)


@pytest.mark.parametrize("layout", list(NETWORKS))
def test_float_lif_and_li_bit_exact_with_torch_and_numpy(setup, layout):
    stms, paths, x = setup
    with LavaSTMRunner(paths, "float", timeout_s=120, network=NETWORKS[layout]) as runner:
        for name, stm in stms.items():
            spec = load_stm_spec(paths[name])
            assert spec.readout == {"mv": "spikes", "r": "li"}[name]
            for clip in (0, 1, 0):       # the third run repeats the first: the state was reset in between
                y, counts = runner.run(name, x[clip])
                with torch.no_grad():
                    y_torch = stm(torch.from_numpy(x[clip])[None])[0][0].numpy()
                y_ref, counts_ref = simulate_numpy(spec, x[clip])
                assert y.dtype == np.float32 and np.array_equal(y, y_torch) and np.array_equal(y, y_ref)
                assert counts == counts_ref and counts["layers"][0]["spikes"] > 0
                if name == "mv":         # spikes out, and every layer fires
                    assert set(np.unique(y)) == {0.0, 1.0} and counts["layers"][1]["spikes"] > 0
                else:                    # an analog membrane out; the LI layer never fires
                    assert len(np.unique(y)) > 10 and counts["layers"][1]["spikes"] == 0
                    assert counts["layers"][1]["acs"] > 0


@pytest.mark.parametrize("layout", list(NETWORKS))
def test_fixed_lif_and_li_bit_exact_with_integer_reference(setup, layout):
    _, paths, x = setup
    with LavaSTMRunner(paths, "fixed", timeout_s=120, network=NETWORKS[layout]) as runner:
        for name in paths:
            spec = load_stm_spec(paths[name])
            for clip in (0, 1):
                y, counts = runner.run(name, x[clip])
                y_ref, counts_ref = simulate_fixed_numpy(spec, x[clip])
                assert np.array_equal(y, y_ref) and counts == counts_ref and counts["saturated"] == 0
                assert counts["layers"][0]["spikes"] > 0 and (name == "r" or counts["layers"][1]["spikes"] > 0)


@pytest.mark.parametrize("readout", ["spikes", "li"])
def test_fixed_point_lif_close_to_float(tmp_path, readout):
    """Weights off the grid: the quantiser (8-bit weights, threshold mantissa, 12-bit decay; an LI layer's q from
    its membrane bound) keeps the integer model close to float32. Measured with this seed: spike counts within
    0.6 % (870 vs 865, 824 vs 827); 1.0 % of the readout spikes differ; the LI readout differs by 0.010 on average
    (mean |v| 0.33) and 0.13 at most (max |v| 1.26: the layer-0 spikes that flipped near threshold)."""
    stm = _lif_stm(readout, dyadic=False)
    path = tmp_path / "stm.nir"
    write_stm_nir(stm, path, SHAPE, names=["mv.0", "mv.1"])
    spec = load_stm_spec(path)
    fixed = quantize_spec(spec)
    assert [f.neuron for f in fixed] == [layer.neuron for layer in spec.layers]
    x = np.random.default_rng(7).normal(size=(6, *SHAPE)).astype(np.float32)
    y, counts = simulate_fixed_numpy(spec, x)
    y_ref, counts_ref = simulate_numpy(spec, x)
    assert counts["saturated"] == 0
    for got, want in zip(counts["layers"], counts_ref["layers"]):
        assert abs(got["spikes"] - want["spikes"]) <= 0.01 * want["spikes"] + 2
    if readout == "li":
        err = np.abs(y - y_ref)
        assert fixed[-1].vth == 0 and err.mean() <= 0.05 * np.abs(y_ref).mean()
        assert err.max() <= 0.2 * np.abs(y_ref).max()
    else:
        assert np.mean(y != y_ref) <= 0.02
