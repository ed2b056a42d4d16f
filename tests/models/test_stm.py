"""Temporal modulators: explicit state, per-clip reset, spikes between layers, ablation replacements."""

from __future__ import annotations

import torch

from neurocv.models import ConvLSTM, FrameConv, SpikingTemporalModulator, build_temporal_modulator, stm_step


def seq(b=2, t=4, c=2, h=12, w=10, seed=0):
    return torch.randn(b, t, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_stm_shapes_and_state():
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, channels=(8, 16), strides=(2, 2))
    u, state = stm(seq())
    assert u.shape == (2, 4, 16, 3, 3)
    assert len(state) == 2 and state[0].u.shape == (2, 8, 6, 5) and state[1].o.shape == (2, 16, 3, 3)
    assert set(state[0].o.unique().tolist()) <= {0.0, 1.0}


def test_stm_state_carries_over_and_resets_per_clip():
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, channels=(8, 8), strides=(1, 2))
    x = seq(t=6) * 3
    full, _ = stm(x)
    first, state = stm(x[:, :3])
    second, _ = stm(x[:, 3:], state)
    assert (torch.cat([first, second], 1) - full).abs().max().item() < 1e-6
    restart, _ = stm(x[:, 3:])  # state=None: a new clip starts from rest
    assert (restart - second).abs().max().item() > 1e-3
    again, _ = stm(x)
    assert torch.equal(again, full)  # nothing is stored on the module


def test_stm_layers_pass_spikes_and_output_membrane():
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, channels=(4, 3), strides=(1, 1))
    x = seq(b=1, t=3, h=5, w=5) * 4
    out, _ = stm(x)
    l1, l2 = stm.layers
    s1 = s2 = None
    for t in range(3):
        _, s1 = stm_step(l1.conv(x[:, t]), s1, l1.neuron.params())
        u2, s2 = stm_step(l2.conv(s1.o), s2, l2.neuron.params())   # layer 2 is driven by layer 1's spikes
        assert (out[:, t] - u2).abs().max().item() < 1e-6
    assert s1.o.sum().item() > 0  # the check above is not vacuous


def test_threshold_is_redundant_with_the_weight_scale():
    """docs/training.md ("How far the learned v_th and lambda move"): with the subtractive reset, multiplying a
    layer's weights, bias and v_th by c multiplies its membrane by c and leaves every spike as it was."""
    from neurocv.models.neuron import _inv_softplus

    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, channels=(6, 4), strides=(1, 1), v_th=0.1)
    x = seq(b=1, t=5, h=6, w=6)
    out, state = stm(x)
    c = 4.0                                        # a power of two: the products are exact in float32
    with torch.no_grad():
        for layer in stm.layers:
            layer.conv.weight.mul_(c)
            layer.conv.bias.mul_(c)
            layer.neuron.raw_v_th.fill_(_inv_softplus(float(layer.neuron.params().v_th) * c))
    scaled, scaled_state = stm(x)
    assert state[0].o.sum().item() > 0 and 0 < state[1].o.mean().item() < 1    # spikes and silences to compare
    for a, b in zip(state, scaled_state):
        assert torch.equal(a.o, b.o)
    assert torch.allclose(scaled, c * out, rtol=1e-4, atol=1e-5)


def test_stm_backward_reaches_threshold_and_leak():
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, channels=(4, 4), strides=(1, 1), v_th=0.2)
    u, _ = stm(seq(h=6, w=6))
    u.square().mean().backward()
    for name, p in stm.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert stm.layers[0].neuron.raw_leak.grad.abs().item() > 0


def test_fixed_stm_has_no_neuron_parameters():
    fixed = build_temporal_modulator("fixed", 3, (4, 4), (2, 1))
    names = [n for n, _ in fixed.named_parameters()]
    assert names and all("neuron" not in n for n in names)
    assert any("raw_v_th" in n for n, _ in fixed.named_buffers())


def test_frame_conv_is_stateless():
    torch.manual_seed(0)
    fc = FrameConv(2, (8, 6), (2, 2))
    x = seq()
    y, state = fc(x)
    assert y.shape == (2, 4, 6, 3, 3) and state is None
    y_last, _ = fc(x[:, -1:])
    assert (y_last[:, 0] - y[:, -1]).abs().max().item() < 1e-6  # no memory across segments


def test_conv_lstm_shapes_and_state():
    torch.manual_seed(0)
    lstm = ConvLSTM(3, (8, 5), (2, 2))
    x = seq(c=3)
    h, state = lstm(x)
    assert h.shape == (2, 4, 5, 3, 3)
    assert state[0].h.shape == (2, 8, 6, 5) and state[1].c.shape == (2, 5, 3, 3)
    assert [type(c.conv).__name__ for c in lstm.cells] == ["Conv2d", "Conv2d"]  # one conv per cell
    first, st = lstm(x[:, :2])
    second, _ = lstm(x[:, 2:], st)
    assert (torch.cat([first, second], 1) - h).abs().max().item() < 1e-6
