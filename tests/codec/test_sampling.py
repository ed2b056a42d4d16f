"""Segment sampling: one P-frame per segment, centre at test time, random in training, repeats for short videos."""

from __future__ import annotations

import numpy as np
import pytest

from neurocv.codec.sampling import sample_positions


def p_positions(n_frames, gop=12):
    pos = np.arange(n_frames)
    return pos[pos % gop != 0]


def test_test_mode_picks_centre_p_frames_in_each_segment():
    n = 96
    got = sample_positions(n, p_positions(n), 8)
    assert got.tolist() == [5, 17, 29, 41, 53, 65, 77, 89]
    assert all(g % 12 != 0 for g in got)


def test_train_mode_is_random_within_segments_and_only_p_frames():
    n, seg = 120, 8
    rng = np.random.default_rng(0)
    bounds = np.linspace(0, n, seg + 1)
    draws = np.array([sample_positions(n, p_positions(n), seg, train=True, rng=rng) for _ in range(200)])
    assert np.all(draws % 12 != 0)
    for s in range(seg):
        assert np.all((draws[:, s] >= bounds[s]) & (draws[:, s] < bounds[s + 1]))
    assert len(np.unique(draws[:, 0])) > 5  # really random


def test_short_video_repeats_frames():
    got = sample_positions(5, p_positions(5), 8)
    assert len(got) == 8 and set(got.tolist()) <= {1, 2, 3, 4}
    assert np.all(np.diff(got) >= 0)


def test_no_p_frames_is_an_error():
    with pytest.raises(ValueError):
        sample_positions(10, np.array([], dtype=int), 8)
