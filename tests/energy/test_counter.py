"""Exact op counts: hand-counted MACs (conv, linear, attention), ACs of a known spike pattern, firing-rate bounds."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurocv.energy.counter import _fan_in_counts, count_ops, measure_stm
from neurocv.models import count_macs, create_model
from neurocv.models.stm import SpikingTemporalModulator
from neurocv.models.transformer import Attention


def _macs(model, *xs):
    recs = count_ops(model, lambda: model(*xs))
    return {r.name: r for r in recs}


def test_conv_macs_hand_counted():
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    recs = _macs(conv, torch.zeros(1, 3, 10, 10))
    # output 8 x 5 x 5, each 3 x 3 x 3 MACs; bias adds not counted
    assert recs["<root>"].macs == 8 * 5 * 5 * 3 * 3 * 3 == 5400
    assert recs["<root>"].kind == "conv" and recs["<root>"].params == 8 * 27 + 8


def test_grouped_conv_macs():
    conv = nn.Conv2d(4, 8, 3, padding=1, groups=2)
    assert _macs(conv, torch.zeros(2, 4, 6, 6))["<root>"].macs == 2 * 8 * 36 * 2 * 9


def test_linear_macs_hand_counted():
    net = nn.Sequential(nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 3, bias=False))
    recs = _macs(net, torch.zeros(2, 5, 16))
    assert recs["0"].macs == 2 * 5 * 16 * 4 and recs["0"].kind == "linear"
    assert recs["2"].macs == 2 * 5 * 4 * 3
    assert "1" not in recs                                   # activations cost no MACs


class _SDPA(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_attention_qk_and_av_counted(device):
    q = torch.randn(1, 2, 6, 4, device=device)
    k = torch.randn(1, 2, 7, 4, device=device)
    v = torch.randn(1, 2, 7, 5, device=device)
    recs = _macs(_SDPA(), q, k, v)
    # QK^T: 2 heads x 6 x 7 x 4; AV: 2 x 6 x 7 x 5
    assert recs["<root>"].macs == 2 * 6 * 7 * 4 + 2 * 6 * 7 * 5 == 756
    assert recs["<root>"].kind == "attention"


def test_attention_module_per_layer():
    torch.manual_seed(0)
    attn = Attention(8, 2)
    recs = _macs(attn, torch.randn(3, 5, 8))
    assert recs["q"].macs == 3 * 5 * 8 * 8
    assert recs["kv"].macs == 3 * 5 * 8 * 16
    assert recs["proj"].macs == 3 * 5 * 8 * 8
    assert recs["<root>"].macs == 3 * 2 * 5 * 5 * (4 + 4) and recs["<root>"].kind == "attention"


def test_network_total_matches_count_macs():
    with torch.device("meta"):
        model = create_model("stm-tiny").eval()      # the deployed network (no training-only probes)
    x = [torch.zeros(1, 4, c, 112, 112, device="meta") for c in (3, 2, 3)]
    recs = count_ops(model, lambda: model(*x))
    assert sum(r.macs for r in recs) == count_macs(model, (112, 112), segments=4)
    assert any(r.kind == "attention" and r.name.endswith(".attn") for r in recs)


def _torch_flop_counter_macs(model, size, segments, part):
    """The MACs of ``part`` by torch's own ``FlopCounterMode`` (FLOPs / 2, attention through SDPA's math path): an
    independent check of neurocv's one counter (count_macs used it before it became a sum of count_ops)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    x = [torch.zeros(1, segments, c, *size, device="meta") for c in (3, 2, 3)]
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        maps = model.spiking_forward(*x[1:]) if part == "ann" else None
        with FlopCounterMode(display=False) as counter:
            {"all": lambda: model(*x), "spiking": lambda: model.spiking_forward(*x[1:]),
             "ann": lambda: model.ann_forward(x[0], *maps)}[part]()
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", ["stm-tiny", "stm-base"])
def test_one_mac_counter_for_the_model_the_energy_report_and_torch(name):
    """count_macs (models, the CLI's `models` table, the manifest) is the sum of count_ops' layers (the energy report,
    the int8 split), and both equal torch's FlopCounterMode on every part, at 224 x 224 and 8 segments (meta)."""
    from neurocv.models.opcount import ann_counts

    with torch.device("meta"):
        model = create_model(name).eval()
    total = count_macs(model, (224, 224), 8)
    assert total == sum(c.macs for c in ann_counts(model, 8, (224, 224)))
    parts = {part: count_macs(model, (224, 224), 8, part=part) for part in ("spiking", "ann")}
    assert parts["spiking"] + parts["ann"] == total > 0
    for part, macs in {"all": total, **parts}.items():
        assert macs == _torch_flop_counter_macs(model, (224, 224), 8, part), (name, part)


def _brute_acs(s: torch.Tensor, c_out: int, k: int, stride: int, pad: int) -> int:
    """Sum over spikes of the number of output positions whose receptive field holds the spike, x C_out."""
    c_in, h, w = s.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    total = 0
    for c, y, x in itertools.product(range(c_in), range(h), range(w)):
        if s[c, y, x]:
            for i, j in itertools.product(range(ho), range(wo)):
                if i * stride - pad <= y < i * stride - pad + k and j * stride - pad <= x < j * stride - pad + k:
                    total += 1
    return total * c_out


@pytest.mark.parametrize("stride", [1, 2])
def test_acs_of_known_spike_pattern(stride):
    conv = nn.Conv2d(2, 5, 3, stride, padding=1)
    s = torch.zeros(1, 2, 4, 4)
    s[0, 0, 0, 0] = 1        # corner: 4 outputs see it at stride 1 (zero padding contributes nothing)
    s[0, 1, 1, 1] = 1        # interior: 9 outputs at stride 1
    expected = _brute_acs(s[0], 5, 3, stride, 1)
    assert float(_fan_in_counts(s, conv)) == expected
    if stride == 1:
        assert expected == 5 * (4 + 9)
    g = torch.Generator().manual_seed(1)
    r = (torch.rand(1, 2, 7, 6, generator=g) < 0.3).float()
    assert float(_fan_in_counts(r, conv)) == _brute_acs(r[0], 5, 3, stride, 1)


class _Wrap(nn.Module):
    def __init__(self, stm):
        super().__init__()
        self.stm = stm


def test_measure_stm_counts_known_pattern():
    stm = SpikingTemporalModulator(2, (2, 3), (1, 1), v_th=0.5, leak=0.5)
    with torch.no_grad():
        stm.layers[0].conv.weight.zero_()
        stm.layers[0].conv.bias.copy_(torch.tensor([1.0, 0.0]))   # channel 0 fires at every step, channel 1 never
    model = _Wrap(stm)
    t, h, w = 3, 4, 4
    x = torch.randn(2, t, 2, h, w)
    recs = {r.name: r for r in measure_stm(model, lambda: stm(x))}
    l0, l1 = recs["stm.layers.0"], recs["stm.layers.1"]
    assert l0.input == "analog" and l1.input == "spikes"
    assert l0.macs == t * 2 * 2 * 9 * h * w and l0.acs == 0
    assert l0.neurons == 2 * h * w and l0.neuron_updates == t * 2 * h * w
    assert l0.spikes == t * h * w and l0.firing_rate == pytest.approx(0.5)
    # a full 4 x 4 map of spikes, k3 pad1: receptive-field counts sum to (2+3+3+2)^2 = 100 per output channel
    assert l1.acs == t * 3 * 100 and l1.macs == 0
    assert l1.dense_macs == t * 3 * 2 * 9 * h * w


def test_firing_rate_bounds_on_random_input():
    torch.manual_seed(0)
    model = create_model("stm-tiny").eval()
    model.set_surrogate(False)
    mv, r = torch.randn(2, 4, 2, 48, 48) * 2, torch.randn(2, 4, 3, 48, 48) * 2
    recs = measure_stm(model, lambda: model.spiking_forward(mv, r))
    assert [c.name for c in recs] == ["temporal.mv.layers.0", "temporal.mv.layers.1", "temporal.r.layers.0",
                                      "temporal.r.layers.1"]
    for c in recs:
        assert 0.0 <= c.firing_rate <= 1.0
        assert c.spikes <= c.neuron_updates == c.neurons * 4
        assert c.acs <= c.dense_macs
    assert any(c.spikes > 0 for c in recs)
