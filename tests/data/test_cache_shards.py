"""`neurocv cache`: failures kept with their reasons, --strict, and --shard I/N filling the same cache as one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neurocv.data import load_split
from neurocv.data.cache import parse_shard, shard_of
from neurocv.errors import ConfigError
from neurocv.synth import make_synthetic_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards") / "synth"
    make_synthetic_dataset(root, videos_per_class=2, test_fraction=0.5, width=32, height=32, n_frames=6, seed=4,
                           progress=False)
    broken = load_split(root, "train").items[2][0]
    broken.write_bytes(broken.read_bytes()[:200])
    return root, str(broken)


def cache(*args):
    return subprocess.run([sys.executable, "-m", "neurocv.cli", "cache", *map(str, args), "-j", "1"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"})


def contents(folder):
    """Relative path -> arrays of every cache file, and the failure list."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.suffix == ".npz":
            with np.load(p) as z:
                out[p.relative_to(folder).as_posix()] = {k: z[k] for k in z.files}
        elif p.name.endswith(".json"):
            out[p.relative_to(folder).as_posix()] = json.loads(p.read_text())
    return out


def test_shards_fill_the_same_cache_as_one_run(tmp_path, data):
    root, broken = data
    single = cache(root, "--cache-dir", tmp_path / "single")
    assert single.returncode == 0, single.stderr
    assert "extracted 19" in single.stderr and "failed 1" in single.stderr and broken in single.stderr

    first = cache(root, "--cache-dir", tmp_path / "sharded", "--shard", "0/2")
    assert first.returncode == 0, first.stderr
    n_first = len(list((tmp_path / "sharded").rglob("*.npz")))
    assert 0 < n_first < 19  # a real part of the work
    second = cache(root, "--cache-dir", tmp_path / "sharded", "--shard", "1/2")
    assert second.returncode == 0, second.stderr

    a, b = contents(tmp_path / "single"), contents(tmp_path / "sharded")
    assert sorted(a) == sorted(b) and len([k for k in a if k.endswith(".npz")]) == 19
    for key in a:
        if key.endswith(".npz"):
            assert all(np.array_equal(a[key][n], b[key][n]) for n in a[key]), key
        else:
            assert a[key] == b[key], key
    failed = a["failed-acc.json"]
    assert [r["video"] for r in failed] == [broken] and broken in failed[0]["reason"]

    again = cache(root, "--cache-dir", tmp_path / "sharded", "--shard", "0/2")  # a re-run resumes: nothing redone
    assert "extracted 0" in again.stderr and again.returncode == 0


def test_strict_stops_at_the_first_failure_with_one_line(tmp_path, data):
    root, broken = data
    proc = cache(root, "--cache-dir", tmp_path / "c", "--strict")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and broken in lines[0]


def test_shard_split_is_stable_and_parsed():
    keys = [f"acc/c{k}/v{k}.mp4.npz" for k in range(200)]
    parts = [shard_of(k, 3) for k in keys]
    assert sorted(set(parts)) == [0, 1, 2] and min(parts.count(i) for i in range(3)) > 40
    assert parts == [shard_of(k, 3) for k in keys]  # the same on every machine
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) is None
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
