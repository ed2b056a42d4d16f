"""Motion-vector painting, tracing and compensation: conventions, numpy reference vs fused kernels."""

from __future__ import annotations

import numpy as np
import pytest

from neurocv.codec import _kernels as K
from neurocv.codec.motion import accumulate, dense_motion, expand_cells, motion_cells, warp_nearest

MV_DTYPE = np.dtype([("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"), ("src_y", "<i2"),
                     ("dst_x", "<i2"), ("dst_y", "<i2"), ("flags", "<u8"), ("motion_x", "<i4"),
                     ("motion_y", "<i4"), ("motion_scale", "<u2")])


def vectors(rows):
    """rows of (w, h, dst_x, dst_y, motion_x, motion_y, scale[, source])."""
    out = np.zeros(len(rows), MV_DTYPE)
    for k, r in enumerate(rows):
        w, h, dx, dy, mx, my, sc, *src = r
        out[k] = (src[0] if src else -1, w, h, dx + mx / sc, dy + my / sc, dx, dy, 0, mx, my, sc)
    return out


def test_sign_convention_object_moving_right_has_positive_x():
    # FFmpeg: src = dst + motion/scale. A block whose content came from 2 px to the left moved right by 2 px.
    field = dense_motion(vectors([(16, 16, 8, 8, -4, 2, 2)]), 32, 32)
    assert field[:16, :16, 0].tolist() == np.full((16, 16), 2.0).tolist()
    assert np.all(field[:16, :16, 1] == -1.0)
    assert np.all(field[16:] == 0) and np.all(field[:, 16:] == 0)  # intra / uncovered pixels: no motion


def test_blocks_past_the_edge_are_clipped_and_future_references_ignored():
    field = dense_motion(vectors([(16, 16, 24, 24, 8, 0, 4), (16, 16, 8, 8, 8, 0, 4, 1)]), 20, 20)
    assert field.shape == (20, 20, 2)
    assert np.all(field[16:20, 16:20, 0] == -2.0)
    assert np.all(field[:16, :16] == 0)  # the source > 0 vector is not painted


def test_off_grid_blocks_fall_back_to_per_pixel_painting():
    v = vectors([(6, 6, 5, 5, 3, 0, 1)])  # 6x6 block at (2, 2): not on the 4-pixel grid
    cells, g = motion_cells(v, 12, 12)
    assert g == 1
    field = expand_cells(cells, g, 12, 12)
    assert np.all(field[2:8, 2:8, 0] == -3.0)
    assert np.count_nonzero(field[..., 0]) == 36


def test_subpixel_translation_accumulates_without_drift():
    h, w, speed = 24, 40, 1.5
    tau = np.zeros((h, w, 2), np.float32)
    tau[..., 0] = speed
    acc = np.zeros_like(tau)
    for t in range(1, 12):
        acc = accumulate(acc, tau)
        assert np.all(acc[..., 0] == pytest.approx(speed * t))


def test_kernels_match_numpy_reference():
    rng = np.random.default_rng(0)
    h, w, g = 30, 42, 4  # not multiples of the grid
    hc, wc = -(-h // g), -(-w // g)
    cells = (rng.integers(-24, 25, (hc, wc, 2)) / 4).astype(np.float32)  # quarter-pel like H.264
    acc_prev = (rng.normal(0, 6, (h, w, 2)) * 4).round().astype(np.float32) / 4
    tau = expand_cells(cells, g, h, w)
    out = np.empty_like(acc_prev)
    K.trace_step(acc_prev, cells, g, out)
    np.testing.assert_array_equal(out, accumulate(acc_prev, tau))

    cur = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ref = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    res = np.empty((h, w, 3), np.float32)
    K.compensate_residual(cur, ref, cells, g, res)
    np.testing.assert_array_equal(res, cur.astype(np.float32) - warp_nearest(ref, tau).astype(np.float32))
    res1 = np.empty_like(res)
    K.compensate_residual(cur, ref, tau, 1, res1)  # the per-pixel (g = 1) path agrees with the cell path
    np.testing.assert_array_equal(res1, res)


def test_warp_reads_the_referenced_pixel_and_clips_at_borders():
    img = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    disp = np.zeros((5, 6, 2), np.float32)
    disp[..., 0] = 2  # every pixel came from 2 px to its left
    out = warp_nearest(img, disp)
    np.testing.assert_array_equal(out[:, 2:], img[:, :4])
    np.testing.assert_array_equal(out[:, 0], img[:, 0])  # clipped to the frame


def test_vector_painting_kernel_matches_numpy_painting():
    rng = np.random.default_rng(1)
    rows = []
    for by in range(0, 48, 16):
        for bx in range(0, 64, 16):
            for sub in ((16, 16, 0, 0),) if rng.random() < 0.5 else ((8, 8, 0, 0), (8, 8, 8, 0), (4, 8, 0, 8),
                                                                      (4, 8, 4, 8), (8, 8, 8, 8)):
                w, h, ox, oy = sub
                rows.append((w, h, bx + ox + w // 2, by + oy + h // 2, int(rng.integers(-40, 40)),
                             int(rng.integers(-40, 40)), 4, -1 if rng.random() < 0.9 else 1))
    v = vectors(rows)
    cells, g = motion_cells(v, 45, 62)  # frame smaller than the block grid: clipped
    assert g == 4
    per_pixel = np.zeros((45, 62, 2), np.float32)
    for w, h, dx, dy, mx, my, sc, src in rows:
        if src < 0:
            per_pixel[max(dy - h // 2, 0):dy + h // 2, max(dx - w // 2, 0):dx + w // 2] = (-mx / sc, -my / sc)
    np.testing.assert_array_equal(expand_cells(cells, g, 45, 62), per_pixel)


def test_fused_trace_and_compensate_matches_two_steps():
    rng = np.random.default_rng(2)
    h, w, g = 26, 34, 4
    cells = (rng.integers(-20, 21, (-(-h // g), -(-w // g), 2)) / 2).astype(np.float32)
    acc_prev = (rng.normal(0, 4, (h, w, 2)) * 2).round().astype(np.float32) / 2
    cur = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    iframe = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    acc, res = np.empty_like(acc_prev), np.empty((h, w, 3), np.float32)
    K.trace_and_compensate(acc_prev, cells, g, cur, iframe, acc, res)
    expect_acc = accumulate(acc_prev, expand_cells(cells, g, h, w))
    np.testing.assert_array_equal(acc, expect_acc)
    np.testing.assert_array_equal(res, cur.astype(np.float32) - warp_nearest(iframe, expect_acc).astype(np.float32))
    dense = np.empty_like(res)
    K.compensate_dense(cur, iframe, expect_acc, dense)
    np.testing.assert_array_equal(dense, res)
