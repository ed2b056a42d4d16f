"""Baselines as real networks: Table 1's E_Total for CoViAR and CV-C3D within 2 %; stm-base's size."""

from __future__ import annotations

import pytest
import torch

from neurocv.energy import count_ops, load_profile, report_for_card
from neurocv.models import count_params, create_model
from neurocv.models.baselines import C3D, get_card, list_cards, resnet18, resnet152


def _meta_count(net_fn, shape, **kw):
    with torch.device("meta"):
        net = net_fn(**kw)
    x = torch.zeros(1, *shape, device="meta")
    return sum(c.macs for c in count_ops(net, lambda: net(x))), count_params(net)


def test_networks_match_published_sizes():
    # torchvision's published figures at 224 x 224 with 1000 classes: 1.81 / 11.51 GMACs, 11,689,512 / 60,192,808
    macs, params = _meta_count(resnet18, (3, 224, 224), num_classes=1000)
    assert params == 11_689_512 and macs == pytest.approx(1.814e9, rel=1e-3)
    macs, params = _meta_count(resnet152, (3, 224, 224), num_classes=1000)
    assert params == 60_192_808 and macs == pytest.approx(11.514e9, rel=1e-3)
    macs, params = _meta_count(C3D, (3, 16, 112, 112), num_classes=101)
    assert params == 78_409_573 and macs == pytest.approx(38.55e9, rel=1e-3)


def test_networks_run_for_real():
    torch.manual_seed(0)
    assert resnet18(in_channels=2).eval()(torch.randn(1, 2, 64, 64)).shape == (1, 101)


@pytest.mark.parametrize("name, energy_j", [("coviar", 3.422), ("cv-c3d", 0.501)])
def test_table1_energy_within_2_percent(name, energy_j):
    rep = report_for_card(get_card(name), load_profile())
    assert rep.table1()["energy_j"] == pytest.approx(energy_j, rel=0.02)
    assert rep.totals()["acs"] == 0


def test_cards_registered_and_cv_c3d_params():
    assert {"coviar", "cv-c3d"} <= set(list_cards())
    rep = report_for_card(get_card("cv-c3d"), load_profile())
    assert rep.params / 1e6 == pytest.approx(235.3, rel=0.01)


def test_card_overrides_scale_views():
    card = get_card("cv-c3d")
    one = report_for_card(card, load_profile()).totals()["energy_j"]
    assert report_for_card(card, load_profile(), segments=1, crops=3).totals()["energy_j"] == pytest.approx(3 * one)


def test_stm_base_params_match_paper():
    with torch.device("meta"):
        model = create_model("stm-base")
    assert count_params(model) / 1e6 == pytest.approx(83.41, rel=0.05)
