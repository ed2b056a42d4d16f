"""Dataset folders: the UCF-101 / HMDB-51 layouts and a CSV list.

Accepted layouts of ``DATA`` (videos may sit under ``DATA/videos/`` or directly under ``DATA/``):

* UCF-101: ``splits/`` (or ``ucfTrainTestlist/``) with ``classInd.txt`` (``1 ClassName``), ``trainlist0K.txt``
  (``Class/video.avi 1``) and ``testlist0K.txt`` (``Class/video.avi``).
* HMDB-51: ``splits/`` (or ``testTrainMulti_7030_splits/``) with ``<class>_test_split<K>.txt`` (``video.avi 1``;
  1 = train, 2 = test, 0 = unused); videos at ``<class>/video.avi``.
* CSV: ``DATA/<split>.csv`` or any CSV passed as DATA, with a header naming ``path`` and ``label`` (class name) and
  optionally ``split``; paths are relative to the CSV's folder.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError

__all__ = ["VideoList", "load_split"]

_SPLIT_DIRS = ("splits", "ucfTrainTestlist", "testTrainMulti_7030_splits")


@dataclass(frozen=True)
class VideoList:
    """Videos of one split: ``items`` are ``(absolute path, label index)``; ``classes`` the names by index."""

    root: Path
    items: tuple[tuple[Path, int], ...]
    classes: tuple[str, ...]
    split: str

    def __len__(self) -> int:
        return len(self.items)


def _video_root(data: Path) -> Path:
    return data / "videos" if (data / "videos").is_dir() else data


def _read_lines(path: Path) -> list[str]:
    try:
        return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read split file ({exc})") from None


def _ucf(data: Path, split_dir: Path, split: str, fold: int) -> VideoList:
    classes: list[str] = []
    for n, line in enumerate(_read_lines(split_dir / "classInd.txt"), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(classes) + 1:
            raise DatasetError(f"{split_dir / 'classInd.txt'}:{n}: expected '<index> <ClassName>' with indices 1, 2, ...")
        classes.append(parts[1])
    name = f"{'train' if split == 'train' else 'test'}list{fold:02d}.txt"
    split_file = split_dir / name
    if not split_file.exists():
        raise DatasetError(f"{split_file}: split file not found (split '{split}', fold {fold})")
    root = _video_root(data)
    items = []
    for n, line in enumerate(_read_lines(split_file), 1):
        rel = line.split()[0]
        cls = rel.split("/")[0]
        if cls not in classes:
            raise DatasetError(f"{split_file}:{n}: class folder '{cls}' is not in classInd.txt")
        items.append((root / rel, classes.index(cls)))
    return VideoList(root, tuple(items), tuple(classes), split)


def _hmdb(data: Path, split_dir: Path, split: str, fold: int) -> VideoList:
    files = sorted(split_dir.glob(f"*_test_split{fold}.txt"))
    classes = [f.name[: -len(f"_test_split{fold}.txt")] for f in files]
    want = "1" if split == "train" else "2"
    root = _video_root(data)
    items = []
    for label, f in enumerate(files):
        for n, line in enumerate(_read_lines(f), 1):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DatasetError(f"{f}:{n}: expected '<video> <0|1|2>'")
            if parts[1] == want:
                items.append((root / classes[label] / parts[0], label))
    return VideoList(root, tuple(items), tuple(classes), split)


def _csv(csv_path: Path, split: str) -> VideoList:
    try:
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: cannot read CSV ({exc})") from None
    if not rows or "path" not in rows[0] or "label" not in rows[0]:
        raise DatasetError(f"{csv_path}: expected a header with 'path' and 'label' columns")
    if "split" in rows[0]:
        rows = [r for r in rows if r["split"].strip() == split]
    classes = tuple(sorted({r["label"].strip() for r in rows}))
    items = tuple((csv_path.parent / r["path"].strip(), classes.index(r["label"].strip())) for r in rows)
    return VideoList(csv_path.parent, items, classes, split)


def load_split(data: str | Path, split: str = "train", fold: int = 1) -> VideoList:
    """List the videos of ``split`` ('train' or 'test') of the dataset at ``data`` (a folder or a CSV file)."""
    data = Path(data)
    if split not in ("train", "test"):
        raise DatasetError(f"{data}: split must be 'train' or 'test', got '{split}'")
    if data.is_file() and data.suffix == ".csv":
        return _csv(data, split)
    if data.is_file():
        raise DatasetError(f"{data}: not a dataset: give a dataset folder (UCF-101 or HMDB-51 layout) or a .csv "
                           f"list (path,label[,split])")
    if not data.is_dir():
        raise DatasetError(f"{data}: dataset folder not found")
    if (data / f"{split}.csv").exists():
        return _csv(data / f"{split}.csv", split)
    for d in _SPLIT_DIRS:
        split_dir = data / d
        if (split_dir / "classInd.txt").exists():
            return _ucf(data, split_dir, split, fold)
        if split_dir.is_dir() and any(split_dir.glob(f"*_test_split{fold}.txt")):
            return _hmdb(data, split_dir, split, fold)
    raise DatasetError(f"{data}: no split files found (expected splits/classInd.txt + trainlist01.txt, "
                       f"HMDB-style *_test_split1.txt, or train.csv/test.csv)")
