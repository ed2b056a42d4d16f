"""Dataset layouts, the torch Dataset with TSN augmentation, and the cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurocv.codec import read_clip
from neurocv.data import CompressedVideoDataset, cache_dataset, load_split
from neurocv.data.cache import cache_path, load_cached
from neurocv.data.transforms import ClipTransform, Normalization
from neurocv.errors import DatasetError
from neurocv.synth import make_synthetic_dataset


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "data"
    make_synthetic_dataset(root, videos_per_class=2, test_fraction=0.5, width=64, height=48, n_frames=14, seed=0,
                           progress=False)
    return root


def test_ucf_layout_lists_both_splits(tiny_dataset):
    train, test = load_split(tiny_dataset, "train"), load_split(tiny_dataset, "test")
    assert len(train.classes) == 10 and train.classes == test.classes
    assert len(train) == 10 and len(test) == 10
    assert all(p.exists() for p, _ in train.items + test.items)
    assert not {p for p, _ in train.items} & {p for p, _ in test.items}
    assert sorted({label for _, label in train.items}) == list(range(10))


def test_csv_and_hmdb_layouts(tmp_path, tiny_dataset):
    train = load_split(tiny_dataset, "train")
    rows = ["path,label,split"] + [f"{p},{train.classes[y]},train" for p, y in train.items[:4]]
    csv = tmp_path / "list.csv"
    csv.write_text("\n".join(rows) + "\n")
    got = load_split(csv, "train")
    assert len(got) == 4 and [p for p, _ in got.items] == [p for p, _ in train.items[:4]]

    hmdb = tmp_path / "hmdb"
    (hmdb / "splits").mkdir(parents=True)
    (hmdb / "splits" / "wave_test_split1.txt").write_text("a.avi 1\nb.avi 2\nc.avi 0\n")
    (hmdb / "splits" / "run_test_split1.txt").write_text("d.avi 2\n")
    tr, te = load_split(hmdb, "train"), load_split(hmdb, "test")
    assert tr.classes == ("run", "wave") and [p.name for p, _ in tr.items] == ["a.avi"]
    assert sorted(p.name for p, _ in te.items) == ["b.avi", "d.avi"]


def test_bad_layouts_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_split(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no split files"):
        load_split(tmp_path)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "classInd.txt").write_text("1 a\n3 b\n")
    with pytest.raises(DatasetError, match="classInd.txt:2"):
        load_split(tmp_path)


def test_flip_negates_mv_x_and_centre_crop_is_deterministic():
    t, h, w = 2, 40, 60
    rng = np.random.default_rng(0)
    i = torch.from_numpy(rng.uniform(0, 255, (t, 3, h, w)).astype(np.float32))
    m = torch.from_numpy(rng.normal(0, 3, (t, 2, h, w)).astype(np.float32))
    r = torch.from_numpy(rng.normal(0, 9, (t, 3, h, w)).astype(np.float32))
    norm = Normalization(iframe_mean=0, iframe_std=1, mv_std_px=1, residual_std=1)
    aug = ClipTransform(crop=32, train=True, scales=(1.0,), norm=norm)
    flips = 0
    for seed in range(12):
        g = torch.Generator().manual_seed(seed)
        ia, ma, ra = aug(i, m, r, generator=g)
        assert ia.shape == (t, 3, 32, 32) and ma.shape == (t, 2, 32, 32)
        g = torch.Generator().manual_seed(seed)
        noflip = ClipTransform(crop=32, train=True, scales=(1.0,), flip=False, norm=norm)(i, m, r, generator=g)[1]
        if not torch.equal(ma, noflip):
            flips += 1
            assert torch.allclose(ma[:, 0], -noflip[:, 0].flip(-1), atol=1e-5)  # x negated and mirrored
            assert torch.allclose(ma[:, 1], noflip[:, 1].flip(-1), atol=1e-5)   # y only mirrored
    assert 0 < flips < 12
    test = ClipTransform(crop=32, train=False, norm=norm)
    a, b = test(i, m, r), test(i, m, r)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_dataset_items_and_cache_agree(tmp_path, tiny_dataset):
    ds = CompressedVideoDataset(tiny_dataset, "test", segments=4, crop=48, cache_dir=tmp_path / "nocache")
    item = ds[0]
    assert item["iframes"].shape == (4, 3, 48, 48) and item["mvs"].shape == (4, 2, 48, 48)
    assert item["residuals"].shape == (4, 3, 48, 48) and isinstance(item["label"], int)

    report = cache_dataset(tiny_dataset, tmp_path / "cache", workers=2, progress=False)
    assert report.done == 20 and not report.failed
    again = cache_dataset(tiny_dataset, tmp_path / "cache", workers=1, progress=False)
    assert again.done == 0 and again.skipped == 20  # resumable: nothing redone
    cached_ds = CompressedVideoDataset(tiny_dataset, "test", segments=4, crop=48, cache_dir=tmp_path / "cache")
    for k in range(3):
        a, b = ds[k], cached_ds[k]
        for name in ("iframes", "mvs", "residuals"):
            assert torch.equal(a[name], b[name]), name

    video = ds.videos.items[1][0]
    target = cache_path(tmp_path / "cache", ds.videos.root, video, True)
    i, m, r, f = load_cached(target, 4, False, None)
    clip = read_clip(video, 4)
    assert np.array_equal(f, clip.frame_index) and np.array_equal(r, clip.residuals) and np.array_equal(m, clip.mvs)


def test_training_items_replay_under_a_seed(tiny_dataset):
    ds = CompressedVideoDataset(tiny_dataset, "train", segments=3, crop=40)
    torch.manual_seed(7)
    a = ds[2]
    torch.manual_seed(7)
    b = ds[2]
    assert torch.equal(a["mvs"], b["mvs"]) and torch.equal(a["iframes"], b["iframes"])


def test_flipped_items_take_the_mirrored_label(tiny_dataset):
    """Flip augmentation mirrors motion: translate_left becomes translate_right, rotate_cw becomes rotate_ccw."""
    ds = CompressedVideoDataset(tiny_dataset, "train", segments=2, crop=32)
    classes = list(ds.classes)
    assert classes[ds.flip_label[classes.index("translate_left")]] == "translate_right"
    assert classes[ds.flip_label[classes.index("rotate_cw")]] == "rotate_ccw"
    assert classes[ds.flip_label[classes.index("zoom_in")]] == "zoom_in"
    k = next(j for j, (_, lab) in enumerate(ds.videos.items) if classes[lab] == "translate_right")
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        item = ds[k]
        flipped = bool(item["mvs"][:, 0].mean() < 0)        # the object moves right unless mirrored
        seen.add((flipped, classes[item["label"]]))
    assert seen == {(False, "translate_right"), (True, "translate_left")}


def test_bad_flip_map_is_a_clear_error(tiny_dataset, tmp_path):
    import json
    import shutil

    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    meta = json.loads((root / "meta.json").read_text())
    meta["hflip_classes"] = {"translate_left": "moonwalk"}
    (root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="moonwalk"):
        CompressedVideoDataset(root, "train", segments=2, crop=32)
