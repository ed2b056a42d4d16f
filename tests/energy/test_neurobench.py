"""Our effective op counts agree with NeuroBench 2.3.0's SynapticOperations and ActivationSparsity on the demo
model (stm-tiny, seed 0) and the energy report's default sample clips (two synthetic MPEG-4 clips).

NeuroBench hooks every Linear / Conv layer and counts, per call, ``layer(x != 0)`` with binarised weights and a
zero bias: products with a zero operand skipped, padding positions not counted; a call whose input is all in
{-1, 0, 1} is ACs, any other MACs. It does not count attention's ``QK^T`` / ``AV`` (no module), so those rows are
left out of the comparison. Its ActivationSparsity needs a module whose output is the spike tensor: STMNeuron
returns ``(u, state)``, so each neuron is wrapped with an identity tap on its spikes (same arithmetic).
"""

from __future__ import annotations

import copy

import pytest
import torch
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
from neurobench.models.neurobench_model import NeuroBenchModel
from torch import nn

from neurocv.energy import load_profile, report_for_model, sample_inputs
from neurocv.models import create_model
from neurocv.models.stm import ConvLIF


class _Tap(nn.Identity):
    """Where NeuroBench reads the spikes."""


class _SpikeOut(nn.Module):
    def __init__(self, neuron: nn.Module):
        super().__init__()
        self.neuron = neuron
        self.tap = _Tap()

    def forward(self, x, state=None):
        u, st = self.neuron(x, state)
        self.tap(st.o)
        return u, st


class _NB(NeuroBenchModel):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()
        self.activation_modules = [_Tap]          # the spikes only (no GELU / ReLU sparsity)

    def __call__(self, batch):
        with torch.no_grad():
            return self.net(*batch)

    def __net__(self):
        return self.net


@pytest.fixture(scope="module")
def demo():
    torch.manual_seed(0)
    model = create_model("stm-tiny").eval()
    model.set_surrogate(False)
    x, _ = sample_inputs(model.config.segments, model.config.input_size[0])
    return model, x


def test_effective_counts_equal_neurobench(demo):
    model, (i, mv, r) = demo
    report = report_for_model("stm-tiny", model, load_profile(), model.config.segments)

    net = copy.deepcopy(model)
    for m in net.modules():
        if isinstance(m, ConvLIF):
            m.neuron = _SpikeOut(m.neuron)
    nb = _NB(net)
    nb.register_hooks()
    preds = nb((i, mv, r))
    data = (mv, torch.zeros(mv.shape[0], dtype=torch.long))
    ops = SynapticOperations()(nb, preds, data)
    sparsity = ActivationSparsity()(nb, preds, data)
    nb.cleanup_hooks()

    rows = [c for c in report.layers if c.kind in ("conv", "linear", "conv-lif")]
    eff_macs = sum(c.effective_macs for c in rows)
    eff_acs = sum(c.effective_acs for c in rows)
    # exact equality (every per-call sum stays exact in float32 here)
    assert ops["Effective_ACs"] == eff_acs
    assert ops["Effective_MACs"] == eff_macs, (ops, eff_macs)
    # the figures: the analog first MV layer is much cheaper effective than dense, ACs are unchanged
    first = next(c for c in report.layers if c.name == "temporal.mv.layers.0")
    assert first.effective_macs < 0.5 * first.macs and first.effective_acs == 0
    spiking = [c for c in report.layers if c.partition == "spiking"]
    assert all(c.effective_acs == c.acs for c in spiking)
    t = report.totals()
    assert sparsity == pytest.approx(1 - t["spikes"] / t["neuron_updates"], rel=1e-12)
    assert 0 < t["spikes"] < t["neuron_updates"]
