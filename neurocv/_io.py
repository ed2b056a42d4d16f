"""Atomic file writing: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a file that existed before is kept intact if writing fails.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``target``, on failure delete it.

    ``suffix`` defaults to the target's own suffix so that libraries that pick a format by extension still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix if suffix is None else suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    mode = 0o666 & ~_umask()
    os.chmod(tmp_path, mode)  # mkstemp makes 0600; give the file the permissions open() would
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)  # again: a library may have replaced the file with its own private temp file
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``target`` only when the block ends without an error."""
    with atomic_path(target) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def atomic_savez(target: str | os.PathLike, compress: bool = True, **arrays: np.ndarray) -> None:
    """``np.savez[_compressed]`` to ``target`` atomically (the target name is kept exactly, no ``.npz`` added)."""
    with atomic_open(target, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
