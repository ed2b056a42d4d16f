"""The hardware-native neuron (``neuron="lif"``): hand-computed trajectories, the shared update of
neurocv.dynamics in torch and numpy, the LIF STM's readouts, gradients and config checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from neurocv.dynamics import heaviside_numpy, lif_update
from neurocv.errors import ConfigError
from neurocv.models import create_model, set_surrogate
from neurocv.models.neuron import LIFNeuron, LINeuron, LIFState, STMParams, li_step, lif_step
from neurocv.models.stm import SpikingTemporalModulator

TOL = 1e-12  # float64 throughout


def params(v_th=1.0, leak=0.5):
    return STMParams(torch.tensor(v_th, dtype=torch.float64), torch.tensor(leak, dtype=torch.float64))


def run(xs, p):
    vs, os_, state = [], [], None
    for x in xs:
        o, state = lif_step(torch.tensor([x], dtype=torch.float64), state, p)
        assert torch.equal(o, state.o)
        vs.append(state.v.item())
        os_.append(o.item())
    return vs, os_


def test_trajectory_matches_hand_computation_with_hard_reset():
    # v_th = 1, lambda = 0.5:  v' = 0.5 v + x;  o = v' > 1;  v = 0 after a spike
    #   t0: 0.6                    -> v 0.6
    #   t1: 0.3 + 0.8   = 1.1      -> spike, v 0
    #   t2: 0   + 0.3   = 0.3      -> v 0.3           (hard reset: the STM would carry 1.1 - 1 here)
    #   t3: 0.15 + 0.85 = 1.0      -> no spike (strictly greater), v 1.0
    #   t4: 0.5 + 0.0   = 0.5      -> v 0.5
    vs, os_ = run([0.6, 0.8, 0.3, 0.85, 0.0], params())
    assert max(abs(a - b) for a, b in zip(vs, [0.6, 0.0, 0.3, 1.0, 0.5])) < TOL
    assert os_ == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_constant_input_fires_periodically():
    # v_th = 0.5, lambda = 0.9, x = 0.3: 0.3, 0.57 -> spike, 0.3, 0.57 -> spike ... (period 2 after every reset)
    vs, os_ = run([0.3] * 6, params(0.5, 0.9))
    assert os_ == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert max(abs(a - b) for a, b in zip(vs, [0.3, 0.0, 0.3, 0.0, 0.3, 0.0])) < TOL


def test_li_step_integrates_without_threshold():
    state, vs = None, []
    for x in [1.0, 1.0, -3.0]:
        v, state = li_step(torch.tensor([x], dtype=torch.float64), state, torch.tensor(0.5, dtype=torch.float64))
        vs.append(v.item())
    assert max(abs(a - b) for a, b in zip(vs, [1.0, 1.5, -2.25])) < TOL


def test_same_update_in_torch_and_numpy_bit_exact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 64)).astype(np.float32)
    neuron = LIFNeuron(v_th=0.3, leak=0.7, surrogate=False)
    p = neuron.params()
    leak, v_th = np.float32(p.leak.item()), np.float32(p.v_th.item())
    v_np = np.zeros(64, np.float32)
    state = None
    n_spikes = 0
    for t in range(20):
        o_np, v_np = lif_update(x[t], v_np, leak, v_th, heaviside_numpy)
        with torch.no_grad():
            o, state = neuron(torch.from_numpy(x[t]), state)
        assert np.array_equal(o.numpy(), o_np) and np.array_equal(state.v.numpy(), v_np)
        n_spikes += int(o_np.sum())
    assert n_spikes > 0


def test_surrogate_gradient_reaches_threshold_leak_and_input_not_through_reset():
    neuron = LIFNeuron(v_th=0.5, leak=0.6)
    x = torch.tensor([0.45, 0.3, 0.52], requires_grad=True)
    o0, s = neuron(x, None)
    o1, s = neuron(x, s)
    (o0.sum() + o1.sum()).backward()
    assert neuron.raw_v_th.grad is not None and neuron.raw_v_th.grad.abs() > 0
    assert neuron.raw_leak.grad is not None and neuron.raw_leak.grad.abs() > 0
    assert x.grad.abs().min() > 0
    set_surrogate(neuron, False)
    assert neuron.surrogate is False


def test_lif_stm_hands_on_spikes_or_li_membrane():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 2, 16, 16)
    spk = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, neuron="lif")
    y, state = spk(x)
    assert y.shape == (2, 5, 6, 8, 8) and set(y.unique().tolist()) <= {0.0, 1.0} and y.sum() > 0
    assert all(isinstance(s, LIFState) for s in state)
    assert torch.equal(y[:, -1], state[-1].o)
    li = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, neuron="lif", readout="li")
    assert isinstance(li.layers[-1].neuron, LINeuron) and isinstance(li.layers[0].neuron, LIFNeuron)
    y2, state2 = li(x)
    assert y2.shape == (2, 5, 6, 8, 8) and len(y2.unique()) > 2          # analog
    assert torch.equal(y2[:, -1], state2[-1].v)
    y2.sum().backward()
    assert li.layers[0].neuron.raw_v_th.grad.abs() > 0                      # through the spikes to layer 0


@pytest.mark.parametrize("stm", ["stm", "common", "fixed"])
def test_lif_model_variants_train_one_step(stm):
    model = create_model("stm-tiny", num_classes=4, input_size=(32, 32), segments=2, stm=stm, neuron="lif")
    assert all(type(l.neuron) is LIFNeuron for t in model.temporal.values() for l in t.layers)
    g = torch.Generator().manual_seed(0)
    clip = {k: torch.randn(2, 2, c, 32, 32, generator=g) for k, c in (("iframes", 3), ("mvs", 2), ("residuals", 3))}
    logits = model(clip["iframes"], clip["mvs"], clip["residuals"])
    assert logits.shape == (2, 4)
    logits.sum().backward()


def test_config_checks_and_round_trip():
    cfg = create_model("stm-tiny", neuron="lif", lif_readout="li").config
    assert cfg.to_dict()["neuron"] == "lif" and type(cfg).from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="neuron must be one of"):
        create_model("stm-tiny", neuron="izhikevich")
    with pytest.raises(ConfigError, match="spiking temporal modulator"):
        create_model("stm-tiny", neuron="lif", stm="lstm")
    with pytest.raises(ConfigError, match="at least 2"):
        create_model("stm-tiny", neuron="lif", lif_readout="li", stm_channels=(16,), stm_strides=(4,))
    assert create_model("stm-tiny").config.neuron == "stm"          # the paper's STM stays the default


def test_energy_counter_reads_lif_and_li_layers():
    from neurocv.energy.counter import measure_stm

    model = create_model("stm-tiny", num_classes=4, input_size=(32, 32), segments=2, neuron="lif",
                         lif_readout="li").eval()
    g = torch.Generator().manual_seed(0)
    mv, r = torch.randn(1, 2, 2, 32, 32, generator=g), torch.randn(1, 2, 3, 32, 32, generator=g)
    with torch.no_grad():
        recs = {x.name: x for x in measure_stm(model, lambda: model.spiking_forward(mv, r))}
    assert recs["temporal.mv.layers.0"].spikes > 0 and recs["temporal.mv.layers.1"].spikes == 0   # LI never fires
    assert recs["temporal.mv.layers.1"].acs > 0                                                   # fed by spikes


def test_pow2_leak_is_on_the_grid_with_a_straight_through_gradient():
    from neurocv.models.neuron import POW2_LEAK_J

    for sig, j in ((0.5, 1), (0.6, 1), (0.74, 2), (0.9, 3), (0.97, 5), (0.999, 10), (0.1, 1), (1 - 1e-6, 12)):
        n = LIFNeuron(v_th=0.1, leak=sig)
        leak = n.params().leak
        assert leak.item() == 1 - 2.0 ** -j, (sig, leak.item())            # exactly 1 - 2^-j, j in 1..12
        assert POW2_LEAK_J[0] <= j <= POW2_LEAK_J[1]
        leak.backward()
        s = torch.sigmoid(n.raw_leak.detach())
        assert torch.allclose(n.raw_leak.grad, s * (1 - s))                 # straight through to sigmoid(raw)
        free = LIFNeuron(v_th=0.1, leak=sig, leak_grid="free")
        assert abs(free.params().leak.item() - sig) < 1e-6
        assert LINeuron(leak=sig).leak().item() == 1 - 2.0 ** -j
    with pytest.raises(ValueError, match="leak_grid"):
        LIFNeuron(leak_grid="pow3")


def test_float64_model_keeps_the_float32_neuron_parameters():
    stm = SpikingTemporalModulator(2, (4, 4), (1, 1), v_th=0.37, leak=0.83, neuron="lif", readout="li")
    p32 = [l.neuron.params() if hasattr(l.neuron, "params") else l.neuron.leak() for l in stm.layers]
    stm64 = copy.deepcopy(stm).double()
    p64 = [l.neuron.params() if hasattr(l.neuron, "params") else l.neuron.leak() for l in stm64.layers]
    assert p64[0].v_th.dtype == torch.float64 and p64[0].v_th.item() == p32[0].v_th.item()
    assert p64[0].leak.item() == p32[0].leak.item() and p64[1].item() == p32[1].item()


def test_lif_leak_config_default_and_old_checkpoints():
    cfg = create_model("stm-tiny", neuron="lif").config
    assert cfg.lif_leak == "pow2" and type(cfg).from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k != "lif_leak"}      # a LIF checkpoint from before the option
    assert type(cfg).from_dict(old).lif_leak == "free"
    model = create_model("stm-tiny", neuron="lif", lif_leak="free")
    assert model.temporal["mv"].layers[0].neuron.leak_grid == "free"
    with pytest.raises(ConfigError, match="lif_leak must be one of"):
        create_model("stm-tiny", neuron="lif", lif_leak="pow10")
