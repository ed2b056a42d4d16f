"""The pictures a newcomer looks at (issue 12): energy.png leads with the ANN / spiking split in one unit and keeps
every spiking layer visible; show's colour-wheel key matches the motion colours; the CLI writes them from a folder
outside the repository."""

from __future__ import annotations

import numpy as np
import torch

from neurocv.energy import load_profile, report_for_model
from neurocv.energy.report import energy_unit
from neurocv.models import create_model
from neurocv.viz import colour_wheel, flow_to_rgb

from ._cli import assert_ok, user_run


def test_energy_png_shows_the_split_first_in_one_unit(tmp_path):
    torch.manual_seed(0)
    net = create_model("stm-tiny", num_classes=10, input_size=(32, 32), segments=3).eval()
    report = report_for_model("stm-tiny", net, load_profile("cmos45nm-fp32"), 3)
    drawn = report.plot(tmp_path / "energy.png", top=5)
    assert (tmp_path / "energy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    total = report.totals()["energy_j"]
    unit, scale = energy_unit(total)
    assert drawn["unit"] == unit and f"{total * scale:.3g} {unit}/video" in drawn["title"]
    assert set(drawn["split"]) == {"ann", "spiking"} and np.isclose(sum(drawn["split"].values()), total)
    spiking = [c.name for c in report.layers if c.partition == "spiking"]
    assert sorted(drawn["panels"]["spiking"]) == sorted(spiking)          # each spiking layer has its own bar
    ann = drawn["panels"]["ann"]
    assert len(ann) == 6 and ann[-1].endswith("other ANN layer groups") and any("(x2)" in a for a in ann)


def test_energy_unit():
    assert energy_unit(0.716) == ("mJ", 1e3) and energy_unit(3.4) == ("J", 1.0)
    assert energy_unit(7e-5) == ("uJ", 1e6) and energy_unit(2e-10)[0] == "nJ"


def test_colour_wheel_is_the_key_of_the_motion_colours():
    wheel = colour_wheel(size=101, max_magnitude=4.0)
    assert wheel.shape == (101, 101, 3) and wheel.dtype == np.uint8
    assert (wheel[50, 50] == 255).all() and (wheel[0, 0] == 255).all()        # no motion / outside: white
    right, down = flow_to_rgb(np.array([[[4.0, 0.0]]]), 4.0)[0, 0], flow_to_rgb(np.array([[[0.0, 4.0]]]), 4.0)[0, 0]
    assert np.abs(wheel[50, 100].astype(int) - right).max() <= 2                # +x at the right edge
    assert np.abs(wheel[100, 50].astype(int) - down).max() <= 2                 # +y (down) at the bottom


def test_show_and_energy_write_their_pictures(tmp_path, clip_factory):
    import shutil

    shutil.copy(clip_factory("zoom_in", width=64, height=48, n_frames=26, seed=7)[0], tmp_path / "v.mp4")
    lines = assert_ok(user_run(tmp_path, "show", "v.mp4", "-o", "show", "--frames", "2")).stdout.split()
    assert lines[-1] == "show/overview.png" and (tmp_path / "show" / "overview.png").stat().st_size > 10_000
    assert_ok(user_run(tmp_path, "energy", "stm-tiny", "--segments", "2", "--plot", "e.png"))
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
