"""The stitched runtime's measured op counts (Lava worker + onnxruntime) agree with the torch model's counter."""

from __future__ import annotations

import json

import pytest
import torch

from neurocv.energy import load_profile
from neurocv.energy.counter import measure_stm
from neurocv.energy.measure import report_from_run
from neurocv.exporters.deploy import export_deployment
from neurocv.models import count_macs, create_model
from neurocv.runtime import Deployment
from neurocv.synth import ACTIONS


@pytest.mark.parametrize("backend", ["torch", "lava-float"])
def test_runtime_counts_equal_the_torch_counter(tmp_path, clip_factory, backend):
    torch.manual_seed(3)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3).eval()
    export_deployment(model, tmp_path / "dep", classes=list(ACTIONS))
    video = clip_factory("rotate_cw", width=64, height=48, n_frames=26, seed=5)[0]
    dep = Deployment.load(tmp_path / "dep")
    with dep.session(backend) as s:
        s.run_video(video)
        clip = s.read(video)
        ops = s.ops_report()
    run_layers = {e["name"]: e for e in ops["per_video"]["layers"]}

    mv, r = (torch.from_numpy(clip[k])[None] for k in ("mv", "r"))
    model.set_surrogate(False)
    measured = measure_stm(model, lambda: model.spiking_forward(mv, r))
    assert len(measured) == 4 and {c.name for c in measured} <= set(run_layers)
    assert sum(c.spikes for c in measured) > 0
    for c in measured:
        e = run_layers[c.name]
        assert e["input"] == c.input, c.name
        assert e["spikes"] == c.spikes and e["acs"] == c.acs, c.name          # exact integers, no tolerance
        assert e["macs"] == c.macs and e["neuron_updates"] == c.neuron_updates, c.name
    assert run_layers["ann"]["macs"] == count_macs(model, input_size=(32, 32), segments=3, part="ann")

    # and the energy report prices the runtime's file as it prices the same counts from torch
    path = tmp_path / "ops.json"
    path.write_text(json.dumps(ops))
    rep = report_from_run(path, load_profile("cmos45nm-fp32"))
    e_layers = sum(c.macs for c in measured) * 4.6e-12 + sum(c.acs for c in measured) * 0.9e-12 \
        + run_layers["ann"]["macs"] * 4.6e-12
    assert rep.totals()["energy_j"] == pytest.approx(e_layers, rel=1e-9)
