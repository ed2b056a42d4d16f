"""torch vs Lava (floating_pt and fixed_pt) through the worker in .venv-lava, and the worker's failure modes."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import torch

from neurocv.errors import EnvironmentSetupError, WorkerError
from neurocv.exporters.nir_export import write_stm_nir
from neurocv.hardware.fixed_point import simulate_fixed_numpy
from neurocv.hardware.lava_backend import LavaSTMRunner
from neurocv.hardware.stm_spec import load_stm_spec
from neurocv.models.neuron import set_surrogate
from neurocv.models.stm import SpikingTemporalModulator

REL_TOL = 1e-5    # max |u_lava - u_torch| / max |u_torch| (Lava's Conv sums in float64, the neuron in float32)
SHAPE = (2, 16, 16)
STEPS = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, leak=0.6)
    set_surrogate(stm, False)
    path = tmp_path_factory.mktemp("nir") / "stm_mv.nir"
    write_stm_nir(stm, path, SHAPE, names=["temporal.mv.layers.0", "temporal.mv.layers.1"])
    x = torch.randn(2, STEPS, *SHAPE, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        u, _ = stm(x)
    return stm, path, x.numpy(), u.numpy()


@pytest.fixture(scope="module")
def float_runner(setup):
    with LavaSTMRunner({"mv": setup[1]}, "float", timeout_s=120) as runner:
        yield runner


def _torch_spikes(stm, x):
    with torch.no_grad():
        state, counts = None, np.zeros(len(stm.layers))
        for t in range(x.shape[0]):
            _, state = stm.step(torch.from_numpy(x[t:t + 1]), state)
            counts += [float(s.o.sum()) for s in state]
    return counts


def test_float_matches_torch_and_resets_per_clip(setup, float_runner):
    stm, _, x, u_torch = setup
    for clip in (0, 1, 0):        # the third run repeats the first: state was reset in between
        u, counts = float_runner.run("mv", x[clip])
        assert u.shape == u_torch[clip].shape and u.dtype == np.float32
        assert np.abs(u - u_torch[clip]).max() / np.abs(u_torch[clip]).max() <= REL_TOL
        spikes = _torch_spikes(stm, x[clip])
        assert [l["spikes"] for l in counts["layers"]] == spikes.tolist() and spikes.min() > 0


def test_float_counts_match_numpy_reference(setup, float_runner):
    from neurocv.hardware.stm_spec import simulate_numpy

    _, path, x, _ = setup
    _, ref = simulate_numpy(load_stm_spec(path), x[1])
    _, counts = float_runner.run("mv", x[1])
    assert counts == ref and counts["layers"][1]["acs"] > 0


def test_fixed_bit_exact_with_numpy_and_bounded(setup):
    _, path, x, u_torch = setup
    ref_u, ref_counts = simulate_fixed_numpy(load_stm_spec(path), x[0])
    with LavaSTMRunner({"mv": path}, "fixed", timeout_s=120) as runner:
        u, counts = runner.run("mv", x[0])
    assert np.array_equal(u, ref_u) and counts == ref_counts      # bit-exact with the integer reference
    # against torch, measured with this seed: max 0.120 (a spike flipped near threshold, v_th = 0.1),
    # mean 0.0052 for a mean |u| of 0.330 (fixed-point error model: neurocv.hardware.fixed_point)
    err = np.abs(u - u_torch[0])
    assert err.max() <= 3 * 0.1 and err.mean() <= 0.05 * np.abs(u_torch[0]).mean()


def test_wrong_shape_is_reported_and_worker_survives(setup, float_runner):
    _, _, x, _ = setup
    with pytest.raises(WorkerError, match=r"expected a clip \(T, 2, 16, 16\), got \(4, 1, 16, 16\)"):
        float_runner.run("mv", x[0][:, :1])
    with pytest.raises(WorkerError, match="no STM named 'r'"):
        float_runner.run("r", x[0])
    u, _ = float_runner.run("mv", x[0])
    assert u.shape[0] == STEPS


def test_killed_worker_raises_worker_error(setup):
    _, path, x, _ = setup
    runner = LavaSTMRunner({"mv": path}, "float", timeout_s=60)
    try:
        os.kill(runner.pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(WorkerError, match=r"died \(exit code -9\)"):
            runner.run("mv", x[0])
        assert time.monotonic() - t0 < 10      # noticed by polling, not by the 60 s timeout
    finally:
        runner.close()
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):   # Lava's children (same process group) were ended too
        os.killpg(runner.pid, 0)


def test_corrupt_nir_names_the_file(tmp_path, setup):
    bad = tmp_path / "broken.nir"
    bad.write_bytes(setup[1].read_bytes()[:500])
    with pytest.raises(WorkerError, match="broken.nir"):
        LavaSTMRunner({"mv": bad}, "float", timeout_s=60).close()


def test_missing_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCV_LAVA_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(EnvironmentSetupError, match="make env-lava"):
        LavaSTMRunner({}, "float")
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named lava' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(EnvironmentSetupError, match=r"did not start.*No module named lava.*make env-lava"):
        LavaSTMRunner({}, "float", python=broken)


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_fused_layers_equal_lavas_own_conv_network(setup, mode):
    """The default network (one fused conv+neuron process per layer, our conv) against the network built from
    Lava's own processes and models (lava.proc.conv.Conv run by Lava's model + the neuron process): fixed point
    bit-identical, float within REL_TOL, counts equal; over two clips (the fused layers reset themselves)."""
    _, path, x, _ = setup
    with LavaSTMRunner({"mv": path}, mode, timeout_s=120) as fused, \
            LavaSTMRunner({"mv": path}, mode, timeout_s=120, network={"layout": "split", "conv": "lava"}) as lava:
        for clip in (0, 1):
            u, counts = fused.run("mv", x[clip])
            u_ref, counts_ref = lava.run("mv", x[clip])
            if mode == "fixed":
                assert np.array_equal(u, u_ref)
            else:
                assert np.abs(u - u_ref).max() / np.abs(u_ref).max() <= REL_TOL
            assert counts == counts_ref and counts["layers"][0]["spikes"] > 0
