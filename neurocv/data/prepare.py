"""``neurocv prepare``: from the official downloads of UCF-101, HMDB-51 and Kinetics to neurocv's layout, every video
re-encoded to the paper's form (MPEG-4 Part 2, 340x256, GOP 12, no B-frames).

What each dataset's source looks like (archives or the folders they unpack to, anywhere under SRC):

* UCF-101: ``UCF101.rar`` (``UCF-101/<Class>/v_<Class>_gXX_cYY.avi``) and
  ``UCF101TrainTestSplits-RecognitionTask.zip`` (``ucfTrainTestlist/classInd.txt``, ``trainlist0K.txt``,
  ``testlist0K.txt``). Output: ``DATA/videos/<Class>/<name>.mp4``, ``DATA/splits/`` (the lists, names -> .mp4).
* HMDB-51: ``hmdb51_org.rar`` holding one rar per class (``<class>.rar`` -> ``<class>/<video>.avi``) and
  ``test_train_splits.rar`` (``testTrainMulti_7030_splits/<class>_test_split<K>.txt``, ``<video>.avi <0|1|2>``).
  Output: ``DATA/videos/<class>/<video>.mp4``, ``DATA/splits/`` (names -> .mp4).
* Kinetics (400/600/700): annotation CSVs ``train.csv`` and ``validate.csv`` (or ``val.csv``) with columns
  ``label, youtube_id, time_start, time_end, split`` and the downloaded clips ``<youtube_id>_<start:06d>_<end:06d>.mp4``
  in any folder structure (flat ``train/``, ``val/`` or per class). Output: ``DATA/videos/<label>/<clip>.mp4``,
  ``DATA/train.csv`` and ``DATA/test.csv`` (``path,label``; test = the validation set, the usual K-400 protocol).
  Clips the CSVs list but the download lacks (YouTube removals) are counted and listed as ``missing``.

Archives (``.rar``, ``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``) are unpacked into ``DATA/.prepare/`` (nested ones too), each
once: zip and tar with Python's own modules, rar with the first of ``unar``, ``7z`` / ``7zz``, ``bsdtar`` or ``unrar``
found on PATH (Debian: ``apt-get install unar`` / ``7zip`` / ``libarchive-tools``). Transcoding runs in parallel
processes, writes each file atomically and skips finished ones, so an interrupted run resumes; each failure is
reported with its reason and listed in ``DATA/prepare_failures.json`` (the split lists keep the official entries:
training skips unreadable videos).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import subprocess
import tarfile
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .._io import atomic_open
from ..errors import DatasetError

__all__ = ["DATASETS", "PrepareReport", "prepare_dataset", "unpack", "rar_tool"]

DATASETS = ("ucf101", "hmdb51", "kinetics")
_VIDEO_EXT = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".flv", ".mpg", ".mpeg")
_ARCHIVE_EXT = (".rar", ".zip", ".tar", ".tgz", ".tar.gz")


@dataclass
class PrepareReport:
    dataset: str
    out: Path
    videos: int = 0               # listed by the split files / CSVs (and found)
    done: int = 0                 # transcoded now
    skipped: int = 0              # already there (resumed)
    failed: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # listed but not in the download
    seconds: float = 0.0
    bytes: int = 0                # of the prepared videos


# -- unpacking -----------------------------------------------------------------------------------------------------

def _is_archive(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(_ARCHIVE_EXT)


def _stem(p: Path) -> str:
    name = p.name
    for ext in sorted(_ARCHIVE_EXT, key=len, reverse=True):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return p.stem


def rar_tool() -> list[str] | None:
    """The command prefix that unpacks a rar into a folder (``prefix + [archive, folder]`` after adaptation), or
    None. Preference: unar, 7z, 7zz, bsdtar, unrar."""
    for tool in ("unar", "7z", "7zz", "bsdtar", "unrar"):
        if shutil.which(tool):
            return [tool]
    return None


def _unpack_rar(archive: Path, dest: Path) -> None:
    tool = rar_tool()
    if tool is None:
        raise DatasetError(f"{archive}: unpacking a RAR needs one of unar, 7z, bsdtar or unrar on PATH (Debian: "
                           f"apt-get install unar), or unpack it yourself and give the folder")
    name = tool[0]
    cmd = {"unar": ["unar", "-q", "-f", "-D", "-o", str(dest), str(archive)],
           "7z": ["7z", "x", "-y", f"-o{dest}", str(archive)], "7zz": ["7zz", "x", "-y", f"-o{dest}", str(archive)],
           "bsdtar": ["bsdtar", "-xf", str(archive), "-C", str(dest)],
           "unrar": ["unrar", "x", "-o+", "-idq", str(archive), str(dest) + os.sep]}[name]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise DatasetError(f"{archive}: {name} failed (exit {proc.returncode}): {msg[-1] if msg else 'no message'}")


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into the folder ``dest`` (created whole: a temporary folder renamed at the end, so a
    folder that exists is complete and an interrupted unpack starts over)."""
    if dest.is_dir():
        return dest
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)                   # ZipFile strips absolute paths and '..'
        elif name.endswith((".tar", ".tgz", ".tar.gz")):
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data")    # refuses links and paths outside tmp
        else:
            _unpack_rar(archive, tmp)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetError(f"{archive}: cannot unpack: {exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.rename(dest)
    return dest


def _unpack_all(roots: list[Path], work: Path, log) -> list[Path]:
    """Unpack every archive under ``roots`` into ``work/<stem>/``, then the archives those hold (HMDB-51's rar of
    rars) beside them; returns the folders to search."""
    folders = list(roots)
    queue = [p for r in roots for p in ([r] if r.is_file() else sorted(r.rglob("*"))) if _is_archive(p)]
    seen = set()
    while queue:
        arc = queue.pop(0)
        if arc in seen:
            continue
        seen.add(arc)
        inside_work = work in arc.parents
        dest = (arc.parent / _stem(arc)) if inside_work else work / _stem(arc)
        fresh = not dest.is_dir()
        unpack(arc, dest)
        if fresh:
            log(f"unpacked {arc.name} -> {dest}")
        folders.append(dest)
        queue += [p for p in sorted(dest.rglob("*")) if _is_archive(p)]
    return folders


_SKIP: list[Path] = []     # the output's own folders (when DATA lies inside SRC), never read as sources


def _files(folders: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    out = []
    for f in folders:
        if f.is_file():
            continue
        out += [p for p in f.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes)
                and not any(part.endswith(".partial") for part in p.parts)
                and not any(s == p or s in p.parents for s in _SKIP)]
    return sorted(set(out))


def _find_file(folders: list[Path], name: str) -> Path | None:
    hits = [p for p in _files(folders, (name.lower(),)) if p.name.lower() == name.lower()]
    return hits[0] if hits else None


def _video_index(folders: list[Path]) -> dict[str, list[Path]]:
    """Video file name (lower case) -> paths."""
    index: dict[str, list[Path]] = {}
    for p in _files(folders, _VIDEO_EXT):
        index.setdefault(p.name.lower(), []).append(p)
    return index


def _pick(index: dict[str, list[Path]], name: str, cls: str | None = None) -> Path | None:
    hits = index.get(name.lower(), [])
    if cls is not None and len(hits) > 1:
        hits = [h for h in hits if cls.lower() in (q.lower() for q in h.parts)] or hits
    return hits[0] if hits else None


def _mp4(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".mp4"


# -- per dataset: the jobs (source video -> target) and the split files ----------------------------------------------

def _ucf101(folders, out, log):
    class_ind = _find_file(folders, "classInd.txt")
    if class_ind is None:
        raise DatasetError("UCF-101: no classInd.txt under SRC (UCF101TrainTestSplits-RecognitionTask.zip or its "
                           "ucfTrainTestlist/ folder)")
    lists = sorted(class_ind.parent.glob("*list0[1-3].txt"))
    if not lists:
        raise DatasetError(f"{class_ind.parent}: no trainlist0K.txt / testlist0K.txt beside classInd.txt")
    index = _video_index(folders)
    jobs, missing, split_files = {}, [], {"classInd.txt": class_ind.read_text()}
    for lst in lists:
        lines = []
        for n, line in enumerate(lst.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            rel = parts[0].replace("\\", "/")
            if "/" not in rel:
                raise DatasetError(f"{lst}:{n}: expected '<Class>/<video>.avi[ <label>]'")
            cls, name = rel.split("/", 1)
            lines.append(" ".join([f"{cls}/{_mp4(name)}", *parts[1:]]))
            src = _pick(index, name, cls)
            dst = out / "videos" / cls / _mp4(name)
            if src is None:
                missing.append(rel)
            else:
                jobs[str(dst)] = str(src)
        split_files[lst.name] = "\n".join(lines) + "\n"
    return jobs, missing, {f"splits/{k}": v for k, v in split_files.items()}


def _hmdb51(folders, out, log):
    split_paths = [p for p in _files(folders, (".txt",)) if "_test_split" in p.name]
    if not split_paths:
        raise DatasetError("HMDB-51: no <class>_test_split<K>.txt under SRC (test_train_splits.rar or its "
                           "testTrainMulti_7030_splits/ folder)")
    index = _video_index(folders)
    jobs, missing, split_files = {}, [], {}
    for sp in sorted(split_paths, key=lambda p: p.name):
        cls = sp.name.rsplit("_test_split", 1)[0]
        lines = []
        for n, line in enumerate(sp.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DatasetError(f"{sp}:{n}: expected '<video>.avi <0|1|2>'")
            lines.append(f"{_mp4(parts[0])} {parts[1]}")
            dst = out / "videos" / cls / _mp4(parts[0])
            if str(dst) in jobs:
                continue
            src = _pick(index, parts[0], cls)
            if src is None:
                missing.append(f"{cls}/{parts[0]}")
            else:
                jobs[str(dst)] = str(src)
        split_files[f"splits/{sp.name}"] = "\n".join(lines) + "\n"
    return jobs, sorted(set(missing)), split_files


def _safe_dir(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label.strip()) or "_"


def _kinetics(folders, out, log):
    csvs = {p.name.lower(): p for p in _files(folders, (".csv",))}
    train = csvs.get("train.csv")
    val = csvs.get("validate.csv") or csvs.get("val.csv")
    if train is None or val is None:
        raise DatasetError("Kinetics: need the annotation CSVs train.csv and validate.csv (or val.csv) under SRC")
    index = _video_index(folders)
    jobs, missing, lists = {}, [], {}
    for split, path in (("train", train), ("test", val)):
        rows = []
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            need = {"label", "youtube_id", "time_start", "time_end"}
            if not need <= set(reader.fieldnames or ()):
                raise DatasetError(f"{path}: expected columns {', '.join(sorted(need))}, found "
                                   f"{', '.join(reader.fieldnames or ())}")
            for r in reader:
                stem = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}"
                label = r["label"].strip()
                src = next((_pick(index, stem + ext, label) for ext in _VIDEO_EXT if _pick(index, stem + ext)),
                           None)
                rel = f"videos/{_safe_dir(label)}/{stem}.mp4"
                if src is None:
                    missing.append(f"{split}: {stem} ({label})")
                    continue
                jobs[str(out / rel)] = str(src)
                rows.append((rel, label))
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", "label"])
        w.writerows(rows)
        lists[f"{split}.csv"] = buf.getvalue()
    return jobs, missing, lists


_PLANS = {"ucf101": _ucf101, "hmdb51": _hmdb51, "kinetics": _kinetics}


# -- transcoding -----------------------------------------------------------------------------------------------------

def _transcode_job(src: str, dst: str, qscale: int) -> tuple[str, str | None]:
    from ..codec.encode import transcode
    from ..errors import NeuroCVError

    try:
        transcode(src, dst, size=(340, 256), gop_size=12, codec="mpeg4", max_b_frames=0, qscale=qscale)
    except NeuroCVError as exc:
        return dst, str(exc)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this video's, reported, never fatal
        return dst, f"{src}: {exc.__class__.__name__}: {exc}"
    return dst, None


def prepare_dataset(dataset: str, src: str | Path, out: str | Path, workers: int | None = None, qscale: int = 2,
                    progress: bool = True, log=None) -> PrepareReport:
    """Unpack, list and transcode (see the module doc); returns what was done, skipped, failed and missing."""
    import time

    from rich.console import Console
    from rich.progress import Progress

    from .cache import _ignore_sigint, _stop_pool

    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    src, out = Path(src), Path(out)
    if not src.exists():
        raise DatasetError(f"{src}: source not found")
    console = Console(stderr=True)
    log = log or (lambda m: console.print(m, highlight=False, markup=False))
    t0 = time.perf_counter()
    work = out / ".prepare"
    _SKIP[:] = [out / "videos", out / "splits", out / "train.csv", out / "test.csv", out / "cache"]
    folders = _unpack_all([src], work, log)
    if work.is_dir() and work not in folders and not any(f == out or f in out.parents for f in folders):
        folders.append(work)
    jobs, missing, split_files = _PLANS[dataset](folders, out, log)
    if not jobs:
        raise DatasetError(f"{src}: none of the {dataset} videos its split files list were found")
    for rel, text in split_files.items():
        with atomic_open(out / rel, "w") as fh:
            fh.write(text)
    report = PrepareReport(dataset, out, videos=len(jobs), missing=missing)
    todo = {d: s for d, s in jobs.items() if not Path(d).exists()}
    report.skipped = len(jobs) - len(todo)
    workers = workers or max(1, min(len(todo), os.cpu_count() or 1))
    with Progress(disable=not progress, transient=False, console=console) as bar:
        task = bar.add_task("transcoding", total=len(todo))
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_sigint)
        try:
            futures = [pool.submit(_transcode_job, s, d, qscale) for d, s in sorted(todo.items())]
            for fut in as_completed(futures):
                dst, err = fut.result()
                if err:
                    report.failed.append((dst, err))
                else:
                    report.done += 1
                bar.advance(task)
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown()
    report.failed.sort()
    report.bytes = sum(Path(d).stat().st_size for d in jobs if Path(d).exists())
    report.seconds = time.perf_counter() - t0
    with atomic_open(out / "prepare_failures.json", "w") as fh:
        json.dump({"failed": [{"video": v, "error": e} for v, e in report.failed], "missing": missing}, fh, indent=1)
    return report
