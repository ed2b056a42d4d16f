"""Atomic writes: a failure leaves the previous file intact and no temporary file behind."""

from __future__ import annotations

import os

import numpy as np
import pytest

from neurocv._io import atomic_open, atomic_savez


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_successful_write_replaces_with_normal_permissions(tmp_path):
    target = tmp_path / "a.npz"
    atomic_savez(target, x=np.arange(3))
    assert np.load(target)["x"].tolist() == [0, 1, 2]
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask
