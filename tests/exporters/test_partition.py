"""Partition: boundary names and shapes, the two halves compose to the whole model, non-partitionable models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurocv.errors import ConfigError
from neurocv.exporters.nir_export import stm_to_spec
from neurocv.exporters.partition import partition_model
from neurocv.hardware.stm_spec import simulate_numpy
from neurocv.models import create_model
from neurocv.hardware.sims.torch_sim import TorchSimulator


def tiny(**kw):
    torch.manual_seed(0)
    return create_model("stm-tiny", num_classes=7, input_size=(32, 32), segments=3, **kw).eval()


def test_boundary_names_and_shapes_match_the_model():
    model = tiny()
    part = partition_model(model, input_size=(40, 36))       # not a multiple of 16: the STMs see a padded clip
    assert part.padded_size == (48, 48)
    assert [s.name for s in part.inputs] == ["iframes", "mvs", "residuals"]
    assert [s.name for s in part.boundary] == ["iframes", "mv_maps", "r_maps"]
    assert part.outputs[0].name == "logits" and part.outputs[0].shape == ("B", 7)
    assert part.spiking["mv"].input.shape == (3, 2, 48, 48) and part.spiking["r"].input.shape == (3, 3, 48, 48)
    assert part.spiking["mv"].layer_names == ("temporal.mv.layers.0", "temporal.mv.layers.1")
    assert part.spiking["r"].file_stem == "stm_residual"
    x = part.sample_inputs(2, seed=1)
    assert x["mvs"].shape == (2, 3, 2, 40, 36)
    maps = part.boundary_inputs(x)
    for spec in part.boundary:
        assert tuple(maps[spec.name].shape) == spec.concrete(2), spec.name
    d = part.to_dict()
    assert d["spiking"]["r"]["file"] == "stm_residual.nir" and d["boundary"][1]["shape"] == ["B", 3, 16, 12, 12]


def test_halves_compose_to_the_whole_model():
    model = tiny()
    part = partition_model(model)
    x = part.sample_inputs(2, seed=3)
    with torch.no_grad():
        whole = model(x["iframes"], x["mvs"], x["residuals"])
        maps = part.boundary_inputs(x)
        split = part.ann(*[maps[n] for n in part.ann.input_names])
    assert torch.equal(whole, split)
    assert (maps["mv_maps"] > 0).any()       # STM maps are not trivially zero


def test_modality_subset_keeps_only_its_boundaries():
    part = partition_model(tiny(modalities=("i", "r")))
    assert [s.name for s in part.boundary] == ["iframes", "r_maps"] and list(part.spiking) == ["r"]
    assert part.ann.input_names == ("iframes", "r_maps")


@pytest.mark.parametrize("override, needle", [({"order": "LS-T-GS"}, "order='LS-T-GS'"),
                                              ({"order": "LS-GS-T"}, "order='LS-GS-T'"),
                                              ({"stm": "lstm"}, "stm='lstm'"), ({"stm": "none"}, "stm='none'"),
                                              ({"stm": "common"}, "stm='common'"),
                                              ({"modalities": ("i",)}, "no P-frame modality")])
def test_non_partitionable_models_raise_config_error(override, needle):
    with pytest.raises(ConfigError, match="partition") as info:
        partition_model(tiny(**override))
    assert needle in str(info.value)


def test_fixed_stm_is_partitionable():
    assert list(partition_model(tiny(stm="fixed")).spiking) == ["mv", "r"]


def test_torch_runner_equals_model_stm_and_counts_per_contract():
    """The runtime's torch STM (built from the torch-free spec) reproduces the model's membrane exactly and counts
    ACs as C_out * conv2d(spikes, ones(k x k), stride, padding).sum(); the numpy reference agrees on the counts."""
    model = tiny()
    part = partition_model(model)
    sp = part.spiking["mv"]
    spec = stm_to_spec(sp.stm, sp.input.shape[1:], names=list(sp.layer_names), name="mv")
    x = part.sample_inputs(1, seed=5)["mvs"][0].numpy() * 2
    run = TorchSimulator.from_specs({"mv": spec}).run("mv", x)
    u, counts = run.output, run.counts
    with torch.no_grad():
        want, _ = sp.stm(torch.from_numpy(x)[None])
    assert np.array_equal(u, want[0].numpy())
    # independent count from the model's own spikes
    spikes, acs, state, h = [0.0, 0.0], [0.0, 0.0], [None, None], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = torch.from_numpy(x[t])[None]
            for k, layer in enumerate(sp.stm.layers):
                c = layer.conv
                if k:
                    ones = torch.ones(1, c.in_channels, *c.kernel_size)
                    acs[k] += c.out_channels * float(F.conv2d(h, ones, stride=c.stride, padding=c.padding).sum())
                _, state[k] = layer(h, state[k])
                h = state[k].o
                spikes[k] += float(h.sum())
    layers = counts["layers"]
    assert [e["name"] for e in layers] == ["temporal.mv.layers.0", "temporal.mv.layers.1"]
    assert [e["spikes"] for e in layers] == spikes and spikes[0] > 0
    assert layers[1]["acs"] == acs[1] > 0 and layers[0]["acs"] == 0
    assert layers[0]["macs"] == 16 * 2 * 9 * 16 * 16 * 3 and layers[1]["macs"] == 0
    assert layers[0]["neuron_updates"] == 16 * 16 * 16 * 3
    _, ref_counts = simulate_numpy(spec, x)
    for a, b in zip(layers, ref_counts["layers"]):
        assert a["macs"] == b["macs"] and a["neurons"] == b["neurons"]
        assert abs(a["spikes"] - b["spikes"]) <= 1e-3 * max(1.0, b["spikes"])
