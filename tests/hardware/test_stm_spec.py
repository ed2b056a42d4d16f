"""The torch-free STM spec: numpy simulation against the torch STM, operation counts against their definition."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurocv.exporters.nir_export import stm_to_spec
from neurocv.hardware.fixed_point import simulate_fixed_numpy
from neurocv.hardware.stm_spec import STMLayerSpec, STMSpec, fanout_map, simulate_numpy
from neurocv.models.neuron import set_surrogate
from neurocv.models.stm import SpikingTemporalModulator

REL_TOL = 1e-5   # max |u_numpy - u_torch| / max |u_torch| over 8 steps


def _model(seed=0, channels=(8, 6), strides=(2, 1), v_th=0.1):
    torch.manual_seed(seed)
    stm = SpikingTemporalModulator(3, channels, strides, v_th=v_th, leak=0.55)
    set_surrogate(stm, False)
    return stm


def _torch_trace(stm, x):
    """Membrane of the last layer and the spikes of every layer, step by step."""
    state, us, spikes = None, [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            u, state = stm.step(x[t:t + 1], state)
            us.append(u[0])
            spikes.append([s.o[0] for s in state])
    return torch.stack(us).numpy(), spikes


def test_simulate_numpy_matches_torch():
    stm = _model()
    x = torch.randn(8, 3, 20, 18, generator=torch.Generator().manual_seed(1))
    u_t, spikes = _torch_trace(stm, x)
    spec = stm_to_spec(stm, (3, 20, 18), names=["l0", "l1"])
    u, counts = simulate_numpy(spec, x.numpy())
    assert u.dtype == np.float32 and u.shape == u_t.shape
    assert np.abs(u - u_t).max() / np.abs(u_t).max() <= REL_TOL
    for k, layer in enumerate(counts["layers"]):
        total = sum(float(s[k].sum()) for s in spikes)
        assert total > 0 and layer["spikes"] == total          # every layer spikes; identical spike counts
    # ACs of layer 1 = C_out * conv2d(spikes of layer 0, ones) summed (the contract's definition)
    ones = torch.ones(1, 8, 3, 3)
    acs = sum(6 * F.conv2d(s[0][None], ones, stride=1, padding=1).sum().item() for s in spikes)
    assert counts["layers"][1]["acs"] == acs and counts["layers"][1]["macs"] == 0
    assert counts["layers"][0]["macs"] == 8 * 8 * 3 * 9 * 10 * 9 and counts["layers"][0]["acs"] == 0
    assert counts["layers"][0]["neurons"] == 8 * 10 * 9 and counts["layers"][1]["neuron_updates"] == 8 * 6 * 10 * 9


def test_spikes_identical_per_step():
    stm = _model(seed=3, channels=(4, 4, 4), strides=(1, 2, 1))
    spec = stm_to_spec(stm, (3, 12, 12))
    x = np.random.default_rng(2).standard_normal((8, 3, 12, 12)).astype(np.float32)
    u_t, spikes = _torch_trace(stm, torch.from_numpy(x))
    for steps in range(1, 9):   # prefixes: each step's spikes agree, so per-layer counts agree at every length
        _, counts = simulate_numpy(spec, x[:steps])
        for k in range(3):
            assert counts["layers"][k]["spikes"] == sum(float(s[k].sum()) for s in spikes[:steps])


def test_fanout_map_border_aware():
    layer = STMLayerSpec("l", np.zeros((1, 1, 3, 3), np.float32), np.zeros(1, np.float32), 2, 1, 0.1, 0.5)
    f = fanout_map(layer, 4, 4)           # output 2x2; positions at stride 2 cover rows {-1,0,1} and {1,2,3}
    assert f.tolist() == [[1, 2, 1, 1], [2, 4, 2, 2], [1, 2, 1, 1], [1, 2, 1, 1]]
    s = torch.zeros(1, 1, 4, 4)
    s[0, 0, 1, 1] = s[0, 0, 3, 0] = 1
    assert F.conv2d(s, torch.ones(1, 1, 3, 3), stride=2, padding=1).sum().item() == f[1, 1] + f[3, 0]


def test_bad_input_shape_and_spec():
    spec = stm_to_spec(_model(), (3, 8, 8))
    with pytest.raises(ValueError, match=r"expected a clip \(T, 3, 8, 8\), got \(2, 2, 8, 8\)"):
        simulate_numpy(spec, np.zeros((2, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="input channels"):
        STMSpec("x", (2, 8, 8), 1e-3, spec.layers)


def test_fixed_point_close_to_float():
    stm = _model()
    spec = stm_to_spec(stm, (3, 20, 18))
    x = np.random.default_rng(1).standard_normal((8, 3, 20, 18)).astype(np.float32)
    u, c = simulate_numpy(spec, x)
    uq, cq = simulate_fixed_numpy(spec, x)
    assert cq["saturated"] == 0
    # measured with this seed: mean |error| 0.0167 (mean |u| 0.431), max 0.229 = 2.3 v_th where a spike flipped
    # near threshold (8-bit weights, 2^-8 input steps); spike counts 2350/2350 and 1618/1620
    err = np.abs(uq - u)
    assert err.mean() <= 0.05 * np.abs(u).mean()
    assert err.max() <= 3 * spec.layers[-1].v_th
    for a, b in zip(c["layers"], cq["layers"]):
        assert abs(a["spikes"] - b["spikes"]) <= 0.01 * a["spikes"]
