"""The STM neuron, eqs. (3)-(4): hand-computed trajectories, the arctan surrogate, the plain Heaviside."""

from __future__ import annotations

import math

import pytest
import torch

from neurocv.models import STMNeuron, STMParams, STMState, arctan_surrogate_grad, heaviside, set_surrogate, stm_step

TOL = 1e-12  # float64 throughout


def params(v_th=1.0, leak=0.5):
    return STMParams(torch.tensor(v_th, dtype=torch.float64), torch.tensor(leak, dtype=torch.float64))


def run(xs, p, state=None):
    us, os_ = [], []
    for x in xs:
        u, state = stm_step(torch.tensor([x], dtype=torch.float64), state, p)
        assert torch.equal(u, state.u)
        us.append(u.item())
        os_.append(state.o.item())
    return us, os_, state


def test_trajectory_matches_hand_computation_with_subtractive_reset():
    # v_th = 1, lambda = 0.5:   u[t] = x[t] + 0.5 u[t-1] - 1 * o[t-1],  o[t] = (u[t] > 1)
    #   t0: 0.6                                   -> o 0
    #   t1: 0.8 + 0.3               = 1.1         -> o 1
    #   t2: 0.3 + 0.55   - 1        = -0.15       -> o 0   (subtractive reset by v_th)
    #   t3: 1.5 - 0.075             = 1.425       -> o 1
    #   t4: 0.0 + 0.7125 - 1        = -0.2875     -> o 0
    us, os_, _ = run([0.6, 0.8, 0.3, 1.5, 0.0], params())
    expected_u = [0.6, 1.1, -0.15, 1.425, -0.2875]
    assert max(abs(a - b) for a, b in zip(us, expected_u)) < TOL
    assert os_ == [0.0, 1.0, 0.0, 1.0, 0.0]


def test_trajectory_other_parameters_and_repeated_spikes():
    # v_th = 0.5, lambda = 0.9, constant input 0.4:
    #   t0: 0.4 -> 0;  t1: 0.4 + 0.36 = 0.76 -> 1;  t2: 0.4 + 0.684 - 0.5 = 0.584 -> 1;
    #   t3: 0.4 + 0.5256 - 0.5 = 0.4256 -> 0;  t4: 0.4 + 0.38304 = 0.78304 -> 1
    us, os_, _ = run([0.4] * 5, params(0.5, 0.9))
    expected_u = [0.4, 0.76, 0.584, 0.4256, 0.78304]
    assert max(abs(a - b) for a, b in zip(us, expected_u)) < TOL
    assert os_ == [0.0, 1.0, 1.0, 0.0, 1.0]


def test_threshold_is_strict_and_state_none_is_rest():
    u, state = stm_step(torch.tensor([1.0], dtype=torch.float64), None, params())
    assert u.item() == 1.0 and state.o.item() == 0.0          # u == v_th does not fire (Lava/NIR: v > v_th)
    rest = STMState(torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    u2, _ = stm_step(torch.tensor([0.7], dtype=torch.float64), rest, params())
    u3, _ = stm_step(torch.tensor([0.7], dtype=torch.float64), None, params())
    assert torch.equal(u2, u3)


def test_surrogate_formula_values():
    g = 100.0
    # x chosen so that pi/2 * gamma * x is 0, +-1, -3:  gamma/2 * 1/(1 + a^2) = 50, 25, 25, 5
    xs = torch.tensor([0.0, 1 / (50 * math.pi), -1 / (50 * math.pi), -3 / (50 * math.pi)], dtype=torch.float64)
    got = arctan_surrogate_grad(xs, g)
    expected = torch.tensor([50.0, 25.0, 25.0, 5.0], dtype=torch.float64)
    assert (got - expected).abs().max().item() < 1e-9


def test_surrogate_gradient_through_heaviside_and_into_v_th():
    x = torch.tensor([-0.05, -0.002, 0.0, 0.001, 0.3], dtype=torch.float64, requires_grad=True)
    out = heaviside(x, surrogate=True, width=100.0)
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    out.sum().backward()
    expected = 100.0 / (2 * (1 + (math.pi / 2 * 100.0 * x.detach()) ** 2))
    assert (x.grad - expected).abs().max().item() < 1e-12
    assert x.grad[2].item() == 50.0

    # d o / d v_th = - surrogate(u - v_th) for a single step from rest (u = x)
    v_th = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    p = STMParams(v_th, torch.tensor(0.5, dtype=torch.float64))
    _, state = stm_step(torch.tensor([1.001], dtype=torch.float64), None, p)
    state.o.sum().backward()
    assert abs(v_th.grad.item() + arctan_surrogate_grad(torch.tensor(0.001, dtype=torch.float64)).item()) < 1e-9


def test_plain_heaviside_without_surrogate():
    x = torch.tensor([-1.0, 0.0, 1e-6, 2.0], requires_grad=True)
    out = heaviside(x, surrogate=False)
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert out.dtype == torch.float32 and not out.requires_grad
    u_sur, s_sur = stm_step(x.detach(), None, params(), surrogate=True)
    u_pl, s_pl = stm_step(x.detach(), None, params(), surrogate=False)
    assert torch.equal(u_sur, u_pl) and torch.equal(s_sur.o, s_pl.o)


def test_neuron_module_constraints_and_fixed_parameters():
    n = STMNeuron(v_th=0.8, leak=0.3)
    p = n.params()
    assert abs(p.v_th.item() - 0.8) < 1e-6 and abs(p.leak.item() - 0.3) < 1e-6
    assert {k for k, _ in n.named_parameters()} == {"raw_v_th", "raw_leak"}
    with torch.no_grad():
        n.raw_v_th.fill_(-50.0)
        n.raw_leak.fill_(50.0)
    p = n.params()
    assert p.v_th.item() > 0 and 0 < p.leak.item() <= 1.0
    fixed = STMNeuron(v_th=0.8, leak=0.3, learnable=False)
    assert list(fixed.parameters()) == [] and {k for k, _ in fixed.named_buffers()} == {"raw_v_th", "raw_leak"}
    set_surrogate(fixed, False)
    assert fixed.surrogate is False
    with pytest.raises(ValueError):
        STMNeuron(v_th=0.0)
    with pytest.raises(ValueError):
        STMNeuron(leak=1.0)
