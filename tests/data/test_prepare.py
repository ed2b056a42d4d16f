"""`neurocv prepare` on small mock downloads in the official layouts of UCF-101, HMDB-51 and Kinetics.

RAR cannot be written here (no tool on any registry writes it), so the official rars are stood in for by zip files
named ``.rar`` and a stand-in ``unar`` on PATH (a Python script that unpacks zip with unar's command line); the zip
and tar paths are the real ones. HMDB-51's rar of rars is mocked the same way, nested.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurocv.cli import main
from neurocv.codec import scan_picture_types
from neurocv.codec.encode import write_video
from neurocv.data import load_split
from neurocv.data.prepare import prepare_dataset
from neurocv.errors import DatasetError
from neurocv.synth import render_clip

UCF = {"ApplyEyeMakeup": 1, "Basketball": 2, "HandstandPushups": 3}
HMDB = ("brush_hair", "cartwheel")


def _avi(seed: int, action: str = "translate_right") -> bytes:
    """A small real video (MPEG-4 in AVI, 64x48, 14 frames) as bytes."""
    import tempfile

    r = render_clip(action, np.random.default_rng(seed), width=64, height=48, n_frames=14)
    with tempfile.TemporaryDirectory() as tmp:
        return write_video(Path(tmp) / "v.avi", r.frames, codec="mpeg4", gop_size=30).read_bytes()


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture()
def fake_unar(tmp_path, monkeypatch):
    """``unar -q -f -D -o DEST ARCHIVE`` for zip files pretending to be rars."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "unar"
    tool.write_text(f"#!{sys.executable}\nimport sys, zipfile\na = sys.argv[1:]\n"
                    "dest = a[a.index('-o') + 1]\nzipfile.ZipFile(a[-1]).extractall(dest)\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tool


def _ucf_download(root: Path, fake_rar: bool) -> Path:
    root.mkdir()
    videos = {f"UCF-101/{c}/v_{c.replace('Handstand', 'HandStand')}_g0{g}_c01.avi": _avi(k * 10 + g)
              for k, c in enumerate(UCF) for g in (1, 2)}
    if fake_rar:
        _zip(root / "UCF101.rar", videos)
    else:                                        # the same layout as a tar.gz (the real zip/tar path)
        with tarfile.open(root / "UCF101.tar.gz", "w:gz") as t:
            for name, data in videos.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    splits = {"ucfTrainTestlist/classInd.txt": "".join(f"{i} {c}\r\n" for c, i in UCF.items()).encode()}
    for k in (1, 2, 3):
        train_g, test_g = (1, 2) if k != 2 else (2, 1)
        splits[f"ucfTrainTestlist/trainlist0{k}.txt"] = "".join(
            f"{c}/v_{c.replace('Handstand', 'HandStand')}_g0{train_g}_c01.avi {i}\r\n" for c, i in UCF.items()).encode()
        splits[f"ucfTrainTestlist/testlist0{k}.txt"] = "".join(
            f"{c}/v_{c.replace('Handstand', 'HandStand')}_g0{test_g}_c01.avi\r\n" for c in UCF).encode()
    _zip(root / "UCF101TrainTestSplits-RecognitionTask.zip", splits)
    return root


def _check_paper_form(path: Path):
    index, types = scan_picture_types(path)
    assert index.codec == "mpeg4" and (index.width, index.height) == (340, 256)
    assert not (types == 3).any() and np.flatnonzero(types == 1).tolist()[:2] == [0, 12]


@pytest.mark.parametrize("fake_rar", [False, True])
def test_ucf101_from_archives(tmp_path, fake_rar, request):
    if fake_rar:
        request.getfixturevalue("fake_unar")
    src = _ucf_download(tmp_path / "download", fake_rar)
    out = tmp_path / "ucf101"
    r = prepare_dataset("ucf101", src, out, workers=2, progress=False)
    assert (r.videos, r.done, r.skipped, r.failed, r.missing) == (6, 6, 0, [], [])
    for fold in (1, 2, 3):
        train, test = load_split(out, "train", fold), load_split(out, "test", fold)
        assert train.classes == tuple(UCF) and len(train) == len(test) == 3
        assert all(p.exists() and p.suffix == ".mp4" for p, _ in train.items + test.items)
    assert load_split(out, "train", 2).items[0][0].name == "v_ApplyEyeMakeup_g02_c01.mp4"
    _check_paper_form(out / "videos" / "HandstandPushups" / "v_HandStandPushups_g01_c01.mp4")
    assert r.bytes > 0
    again = prepare_dataset("ucf101", src, out, workers=2, progress=False)          # resumes: nothing to do
    assert (again.done, again.skipped) == (0, 6)


def test_hmdb51_rar_of_rars(tmp_path, fake_unar):
    src = tmp_path / "download"
    src.mkdir()
    inner = {f"{c}.rar": _zip_bytes({f"{c}/{c}_video_{v}.avi": _avi(30 + 2 * k + v, "rotate_cw") for v in (0, 1)})
             for k, c in enumerate(HMDB)}
    _zip(src / "hmdb51_org.rar", inner)
    splits = {f"testTrainMulti_7030_splits/{c}_test_split{k}.txt":
              f"{c}_video_0.avi {1 if k != 3 else 2} \n{c}_video_1.avi {2 if k != 3 else 1} \n".encode()
              for c in HMDB for k in (1, 2, 3)}
    _zip(src / "test_train_splits.rar", splits)
    out = tmp_path / "hmdb51"
    r = prepare_dataset("hmdb51", src, out, workers=1, progress=False)
    assert (r.videos, r.done, r.failed, r.missing) == (4, 4, [], [])
    train3 = load_split(out, "train", 3)
    assert train3.classes == HMDB and [p.name for p, _ in train3.items] == ["brush_hair_video_1.mp4",
                                                                            "cartwheel_video_1.mp4"]
    _check_paper_form(train3.items[0][0])


def test_kinetics_folders_csvs_missing_and_broken(tmp_path, capsys):
    src = tmp_path / "k400"
    rows = {"train": [("abseiling", "aaa", 10, 20), ("air drumming", "bbb", 0, 10), ("abseiling", "gone", 5, 15)],
            "validate": [("air drumming", "ccc", 30, 40), ("abseiling", "bad", 1, 11)]}
    for split, items in rows.items():
        (src / "annotations").mkdir(parents=True, exist_ok=True)
        with open(src / "annotations" / f"{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
            for k, (label, yid, t0, t1) in enumerate(items):
                w.writerow([label, yid, t0, t1, split, 0])
                name = f"{yid}_{t0:06d}_{t1:06d}.mp4"
                folder = src / ("train" if split == "train" else "val") / (label if split == "train" else "")
                folder.mkdir(parents=True, exist_ok=True)
                if yid == "bad":
                    (folder / name).write_bytes(b"not a video at all")
                elif yid != "gone":
                    (folder / name).write_bytes(_avi(50 + k))
    out = tmp_path / "kinetics"
    with pytest.raises(SystemExit) as info:
        main(["prepare", "kinetics", str(src), "-o", str(out), "-j", "1"])
    cap = capsys.readouterr()
    assert info.value.code == 1                                       # one video failed: non-zero exit
    assert "kinetics: 4 videos" in cap.out and "failed 1, missing 1" in cap.out
    assert "error: " in cap.err and "bad_000001_000011" in cap.err and "1 video(s) listed but not" in cap.err
    failures = json.loads((out / "prepare_failures.json").read_text())
    assert failures["missing"] == ["train: gone_000005_000015 (abseiling)"] and len(failures["failed"]) == 1
    train = load_split(out, "train")
    assert train.classes == ("abseiling", "air drumming") and len(train) == 2
    assert (out / "videos" / "air_drumming" / "bbb_000000_000010.mp4").exists()
    _check_paper_form(out / "videos" / "abseiling" / "aaa_000010_000020.mp4")


def test_errors_are_one_line(tmp_path, capsys, monkeypatch):
    src = _ucf_download(tmp_path / "download", fake_rar=True)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))                   # no rar tool at all
    with pytest.raises(DatasetError, match="needs one of unar, 7z, bsdtar or unrar"):
        prepare_dataset("ucf101", src, tmp_path / "out", progress=False)
    for argv, needle in ((["prepare", "ucf", str(src), "-o", str(tmp_path / "o")], "unknown dataset 'ucf'"),
                         (["prepare", "hmdb51", str(tmp_path / "none"), "-o", str(tmp_path / "o")],
                          "source not found")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert info.value.code == 2 and len(err) == 1 and needle in err[0], err
