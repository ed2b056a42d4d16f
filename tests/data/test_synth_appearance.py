"""The appearance-and-motion synthetic set: twelve texture x motion classes, the layout, mirror-closed classes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurocv.cli import main
from neurocv.errors import ConfigError
from neurocv.data import load_split
from neurocv.synth import ACTIONS, HFLIP_CLASSES, make_synthetic_dataset
from neurocv.synth.appearance import _VARIANTS, AM_CLASSES, MOTIONS, TEXTURES, render_am_clip, texture


def test_dataset_layout_and_factors(tmp_path):
    root = make_synthetic_dataset(tmp_path / "am", videos_per_class=2, test_fraction=0.5, width=64, height=64,
                                  n_frames=13, seed=3, progress=False, kind="appearance-motion")
    train, test = load_split(root, "train"), load_split(root, "test")
    assert train.classes == AM_CLASSES and len(AM_CLASSES) == 12 and len(train) == len(test) == 12
    meta = json.loads((root / "meta.json").read_text())
    assert meta["kind"] == "appearance-motion" and meta["hflip_classes"] == {}
    assert meta["factors"]["dots_zoom"] == {"what": "dots", "how": "zoom"}
    # every pair of classes differs by what moves, how, or both: each combination is present
    pairs = {(a.split("_")[0] == b.split("_")[0], a.split("_")[1] == b.split("_")[1])
             for a in AM_CLASSES for b in AM_CLASSES if a != b}
    assert pairs == {(True, False), (False, True), (False, False)}


@pytest.mark.parametrize("kind, per_class", [("motion", 24), ("appearance-motion", 48)])
def test_default_videos_per_class_follow_the_kind(tmp_path, monkeypatch, kind, per_class):
    """Without --videos-per-class the appearance-and-motion set has 48 videos a class (the recipe's data count,
    docs/learning.md section 11), the motion set keeps 24; the split is 3:1 either way."""
    import neurocv.synth.dataset as dataset_module

    written = []
    monkeypatch.setattr(dataset_module, "write_video", lambda path, *a, **k: written.append(path))
    monkeypatch.setattr(dataset_module, "render_am_clip", lambda *a: type("Clip", (), {"frames": None}))
    monkeypatch.setattr(dataset_module, "render_clip", lambda *a: type("Clip", (), {"frames": None}))
    root = make_synthetic_dataset(tmp_path / kind, progress=False, kind=kind)
    n_classes = len(AM_CLASSES if kind == "appearance-motion" else ACTIONS)
    assert len(written) == n_classes * per_class
    assert json.loads((root / "meta.json").read_text())["videos_per_class"] == per_class
    assert len(load_split(root, "test")) == n_classes * per_class // 4


@pytest.mark.parametrize("kind", ["motion", "appearance-motion"])
def test_too_small_frames_fail_before_anything_is_rendered(tmp_path, monkeypatch, kind):
    """A size below 32x32 is refused up front, before the progress bar or the output folder: nothing rendered."""
    import neurocv.synth.dataset as dataset_module

    rendered = []
    monkeypatch.setattr(dataset_module, "render_am_clip", lambda *a: rendered.append(a))
    monkeypatch.setattr(dataset_module, "render_clip", lambda *a: rendered.append(a))
    with pytest.raises(ConfigError, match="at least 32x32, got 16x16"):
        make_synthetic_dataset(tmp_path / "out", width=16, height=16, progress=False, kind=kind)
    assert rendered == [] and not (tmp_path / "out").exists()


def test_classes_are_closed_under_mirroring():
    for motion in MOTIONS:
        variants = set(_VARIANTS[motion])
        assert {HFLIP_CLASSES.get(v, v) for v in variants} == variants, motion


def test_textures_and_clips():
    g = np.random.default_rng(0)
    for fam in TEXTURES:
        t = texture(fam, g, 40, 40)
        assert t.shape == (40, 40, 3) and 0 <= t.min() and t.max() <= 255
        grey = t.mean(-1)
        assert np.ptp(grey) >= 60, fam                            # a visible two-colour pattern
    a = render_am_clip("checker_rotate", np.random.default_rng(7), 64, 64, 12)
    b = render_am_clip("checker_rotate", np.random.default_rng(7), 64, 64, 12)
    assert np.array_equal(a.frames, b.frames) and a.action in ("rotate_cw", "rotate_ccw")
    with pytest.raises(Exception, match="unknown class"):
        render_am_clip("plaid_rotate", np.random.default_rng(0))


def test_cli_kind(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["synth", str(tmp_path / "x"), "--kind", "colour"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and "unknown kind 'colour'" in err[0]
