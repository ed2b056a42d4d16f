"""At initialisation the STMs must pass P-frame information on: their first layer's spikes are the second layer's
only input (eq. 3), so a threshold that keeps them silent starves the network (seen with v_th = 1.0)."""

from __future__ import annotations

import torch

from neurocv.models import create_model


def test_first_stm_layer_fires_at_init_on_data_scaled_input():
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=10)
    # the synthetic set's normalised motion vectors and residuals have a std of about 0.25-0.3
    x = model.pad(torch.randn(4, 8, 2, 112, 112) * 0.28)
    state, rates = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            _, state = model.temporal.mv.step(x[:, t], state)
            rates.append([s.o.float().mean().item() for s in state])
    layer1 = sum(r[0] for r in rates) / len(rates)
    layer2 = sum(r[1] for r in rates) / len(rates)
    assert 0.05 < layer1 < 0.6, f"first STM layer fires at {layer1:.4f}"
    assert layer2 > 0.01, f"second STM layer fires at {layer2:.4f}"
