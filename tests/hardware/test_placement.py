"""Multi-chip placement: stm-base's 294 cores on 3 Loihi 2 chips layer by layer, the cross-chip traffic against
hand arithmetic (bound and measured), too few chips, systems and their files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurocv.errors import ConfigError, HardwareProfileError
from neurocv.hardware.placement import PlacementError, load_system, place, spikes_from_run
from neurocv.hardware.stm_spec import STMLayerSpec, STMSpec


def _spec(hw: int, channels=(64, 128), c_in=2, name="mv") -> STMSpec:
    layers, c = [], c_in
    for k, co in enumerate(channels):
        layers.append(STMLayerSpec(f"temporal.{name}.layers.{k}", np.zeros((co, c, 3, 3), np.float32),
                                   np.zeros(co, np.float32), 2, 1, 0.1, 0.5, "analog" if k == 0 else "spikes"))
        c = co
    return STMSpec(name, (c_in, hw, hw), 1e-3, tuple(layers))


BASE = [_spec(224), _spec(224, c_in=3, name="r")]     # stm-base's STMs at 224x224


def test_stm_base_on_the_fewest_loihi2_chips_layer_by_layer():
    p = place(BASE)
    # cores per layer: 64x112x112 / 8192 = 98, 128x56x56 / 8192 = 49; in order mv0 mv1 r0 r1 onto 128-core chips
    assert [r["cores"] for r in p.layers] == [98, 49, 98, 49]
    assert p.chips == 3 and p.cores_per_chip == [128, 128, 38] and p.cores == 294
    assert [r["chips"] for r in p.layers] == [{"0": 98}, {"0": 30, "1": 19}, {"1": 98}, {"1": 11, "2": 38}]
    # bound: every neuron of mv0 spikes; all on chip 0, mv1 on chips 0 and 1 -> each spike crosses once
    t = {x["layer"]: x for x in p.traffic}
    assert t["temporal.mv.layers.0"]["cross_chip_spikes_per_step"] == 64 * 112 * 112
    assert t["temporal.r.layers.0"]["cross_chip_spikes_per_step"] == 64 * 112 * 112   # r0 on chip 1, r1 on 1 and 2
    d = p.to_dict()
    assert d["chips"] == 3 and d["assumptions"] and d["sources"] and "3 loihi2 chips" in d["message"]
    json.dumps(d)


def test_measured_spikes_give_the_traffic_and_a_wider_split_more_of_it(tmp_path):
    spikes = {"temporal.mv.layers.0": 1000.0, "temporal.r.layers.0": 500.0}
    p = place(BASE, spikes_per_step=spikes, spikes_source="test")
    assert p.cross_chip_spikes_per_step == pytest.approx(1500.0)
    # 4 chips of 64 cores: mv0 spans chips 0-1 (64 + 34), mv1 on chip 1 (30) and 2 (19): from chip 0 a spike goes
    # to chips 1 and 2 (2 crossings), from chip 1 only to chip 2 (1)
    small = {"schema": "neurocv.chip/1", "name": "half", "cores_per_chip": 64, "neurons_per_core": 8192,
             "synaptic_memory_bytes_per_core": 196608, "synapses_per_chip": 120000000, "weight_bits": 8,
             "weight_sharing": True, "sources": ["test"]}
    (tmp_path / "half.json").write_text(json.dumps(small))
    q = place(BASE, load_system(tmp_path / "half.json"), spikes_per_step=spikes)
    mv = next(t for t in q.traffic if t["layer"] == "temporal.mv.layers.0")
    assert q.layers[0]["chips"] == {"0": 64, "1": 34}
    assert mv["cross_chip_spikes_per_step"] == pytest.approx(1000 * 64 / 98 * 2 + 1000 * 34 / 98 * 1)


def test_too_few_chips_says_how_many_in_one_line():
    with pytest.raises(PlacementError, match=r"needs 3 loihi2 chips \(294 cores at 128 a chip\); 1 given"):
        place(BASE, chips=1)
    p = place(BASE, chips=4)
    assert p.chips == 4 and p.cores_per_chip == [128, 128, 38, 0]


def test_kapoho_point_holds_it_and_bounds_the_chip_count():
    system = load_system("kapoho-point")
    assert system.chips == 8 and system.chip.name == "loihi2" and system.sources
    p = place(BASE, system)
    assert p.chips == 3 and "of kapoho-point's 8" in p.message
    with pytest.raises(PlacementError, match="has 8 chips; 9 asked for"):
        place(BASE, system, chips=9)
    with pytest.raises(HardwareProfileError, match="unknown system 'hala'"):
        load_system("hala")


def test_spikes_from_run_per_step_and_a_foreign_run(tmp_path):
    ops = {"schema": "neurocv.ops/1", "segments": 4, "crops": 1, "n_videos": 1, "backend": "torch",
           "per_video": {"layers": [{"name": "temporal.mv.layers.0", "partition": "spiking", "spikes": 400},
                                    {"name": "ann", "partition": "ann", "macs": 5}]}}
    f = tmp_path / "ops.json"
    f.write_text(json.dumps(ops))
    spikes, desc = spikes_from_run(f)
    assert spikes == {"temporal.mv.layers.0": 100.0} and "torch" in desc
    with pytest.raises(ConfigError, match="do not name layer"):
        place(BASE, spikes_per_step=spikes)
    f.write_text("{}")
    with pytest.raises(ConfigError, match="not a neurocv ops file"):
        spikes_from_run(f)
