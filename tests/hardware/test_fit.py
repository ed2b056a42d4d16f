"""Loihi fit check: counts against hand arithmetic, the message for what does not fit, bad profile files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurocv.errors import HardwareProfileError
from neurocv.hardware.fit import CHIPS_DIR, fit_check, load_chip
from neurocv.hardware.stm_spec import STMLayerSpec, STMSpec


def _spec(hw: int, channels=(16, 16), c_in=2, name="mv") -> STMSpec:
    layers, c = [], c_in
    for k, co in enumerate(channels):
        layers.append(STMLayerSpec(f"layers.{k}", np.zeros((co, c, 3, 3), np.float32), np.zeros(co, np.float32),
                                   2, 1, 0.1, 0.5, "analog" if k == 0 else "spikes"))
        c = co
    return STMSpec(name, (c_in, hw, hw), 1e-3, tuple(layers))


def test_stm_tiny_fits_loihi2_with_exact_counts():
    specs = [_spec(112), _spec(112, c_in=3, name="r")]
    report = fit_check(specs, "loihi2")
    # mv: 16x56x56 + 16x28x28 neurons; r the same
    assert report.neurons == 2 * (16 * 56 * 56 + 16 * 28 * 28) == 125440
    assert report.synapses == 16 * 56 * 56 * (18 + 27) + 2 * 16 * 28 * 28 * 144
    # cores: ceil(50176 / 8192) = 7 for each first layer, ceil(12544 / 8192) = 2 for each second layer
    assert report.cores == 18 and report.ok
    assert report.message.startswith("fits on one loihi2") and report.to_dict()["ok"] is True


def test_stm_base_does_not_fit_and_says_by_how_much():
    specs = [_spec(224, (64, 128)), _spec(224, (64, 128), c_in=3, name="r")]
    report = fit_check(specs, "loihi2")
    assert not report.ok
    # 2 x (64x112x112 + 128x56x56) = 2,408,448 neurons -> 2 x (98 + 49) = 294 cores
    assert report.neurons == 2408448 and report.cores == 294
    assert "needs 294 cores, chip has 128 (166 too many, 2.30x)" in report.message
    assert "needs 2,408,448 neurons, chip has 1,048,576 (2.30x)" in report.message
    d = report.to_dict()
    assert d["ok"] is False and d["limits"]["cores_per_chip"] == 128 and d["sources"]


def test_loihi1_counts_every_synapse():
    report = fit_check(_spec(112), "loihi1")
    # layer 0: 18 synapses x 1 B per neuron, 1024 neurons per core -> 49 cores; layer 1: 144 B per neuron
    # -> 131072 // 144 = 910 neurons per core -> ceil(12544 / 910) = 14 cores
    assert [l["cores"] for l in report.layers] == [49, 14] and report.ok


def test_kernel_larger_than_core_memory(tmp_path):
    profile = json.loads(CHIPS_DIR.joinpath("loihi2.json").read_text())
    profile["synaptic_memory_bytes_per_core"] = 1000
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(profile))
    report = fit_check(_spec(32), path)
    assert not report.ok and "layer mv:layers.1 needs 2,304 B of weights in one core, 1,000 B available" \
        in report.message


def test_profiles_cite_sources():
    for name in ("loihi1", "loihi2"):
        chip = load_chip(name)
        assert chip.cores_per_chip == 128 and chip.sources
    assert load_chip("loihi1").neurons_per_core == 1024
    assert load_chip("loihi1").synaptic_memory_bytes_per_core == 128 * 1024
    assert any("Davies" in s for s in load_chip("loihi1").sources)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not a readable JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"cores_per_chip": 128}', "field 'neurons_per_core' missing"),
])
def test_bad_profile_file(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(HardwareProfileError, match=problem) as info:
        load_chip(path)
    assert "bad.json" in str(info.value)


def test_bad_profile_values(tmp_path):
    profile = json.loads(CHIPS_DIR.joinpath("loihi1.json").read_text())
    profile["cores_per_chip"] = -1
    path = tmp_path / "neg.json"
    path.write_text(json.dumps(profile))
    with pytest.raises(HardwareProfileError, match="cores_per_chip.*positive integer"):
        load_chip(path)
    with pytest.raises(HardwareProfileError, match="no such chip profile.*loihi1, loihi2"):
        load_chip("loihi9")
