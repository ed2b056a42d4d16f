"""The neuron-kind registry (:mod:`neurocv.dynamics.kinds`): every consumer handles every registered kind, so a new
entry without its support fails here; the fast in-place steps equal the reference steps for every kind."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from neurocv.dynamics import heaviside_numpy
from neurocv.dynamics.fixed import STATE_MAX, STATE_MIN, step_fixed, step_fixed_inplace, step_float_inplace
from neurocv.dynamics.kinds import KIND_NAMES, KINDS, NeuronKind, get_kind, layer_output


def _spec(last: str, body: str | None = None, seed: int = 0):
    """A 2-layer spec: ``body`` (a kind that may be a body layer) then ``last``."""
    from neurocv.hardware.stm_spec import STMLayerSpec, STMSpec

    body = body or ("stm" if last == "stm" else "lif")
    rng = np.random.default_rng(seed)
    layers = []
    for k, (kind, cin, cout) in enumerate(((body, 2, 4), (last, 4, 3))):
        fires = get_kind(kind).fires
        weight = (rng.standard_normal((cout, cin, 3, 3)) * 0.5).astype(np.float32)
        layers.append(STMLayerSpec(name=f"l{k}", weight=weight,
                                   bias=(rng.standard_normal(cout) * 0.1).astype(np.float32), stride=1, padding=1,
                                   v_th=0.3 if fires else math.inf, leak=0.5, input="analog" if k == 0 else "spikes",
                                   neuron=kind))
    return STMSpec(name="s", input_shape=(2, 6, 5), dt_s=1e-4 if get_kind(body).portable else 1e-3,
                   layers=tuple(layers))


def _specs():
    """One spec per registered kind (that kind as the last layer)."""
    return {name: _spec(name) for name in KIND_NAMES}


def test_registry_is_consistent():
    assert KIND_NAMES == tuple(KINDS) and len(set(KIND_NAMES)) == len(KIND_NAMES)
    for name, kind in KINDS.items():
        assert isinstance(kind, NeuronKind) and kind.name == name and KIND_NAMES[kind.code] == name
        assert kind.reset in ("subtract", "zero", "none") and kind.output in ("membrane", "spikes")
        assert kind.fires == (kind.reset != "none")
        assert get_kind(kind) is kind and get_kind(name) is kind
    with pytest.raises(ValueError, match="unknown neuron kind 'nope'"):
        get_kind("nope")


def test_float_step_of_every_kind():
    """A hand-computed step: v_prev 0.5, o_prev 1, current 0.4, leak 0.5, v_th 0.6."""
    expected = {"stm": (0.05, 0.0), "lif": (0.0, 1.0), "li": (0.65, 1.0)}   # li leaves o as it was
    assert set(expected) == set(KINDS)
    for name, kind in KINDS.items():
        v, o = kind.step(np.float64(0.4), np.float64(0.5), np.float64(1.0), 0.5, 0.6, heaviside_numpy)
        assert (float(v), float(o)) == pytest.approx(expected[name]), name


@pytest.mark.parametrize("name", KIND_NAMES)
def test_inplace_steps_equal_the_reference(name):
    """``step_fixed_inplace`` (float64) is bit for bit ``step_fixed`` (int64), and ``step_float_inplace`` the
    kind's float32 step, for every kind, with left and right shifts and saturation."""
    rng = np.random.default_rng(4)
    shape = (5, 4, 3)
    for sh in (-3, 0, 2):
        u, o, buf = np.zeros(shape), np.zeros(shape, bool), np.empty(shape)
        u_ref, o_ref = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        b = rng.integers(-5000, 5000, shape)
        n_sat = n_ref = 0
        for step in range(30):
            hi = (1 << 23) if step % 3 else 300000
            a = rng.integers(-hi, hi, shape)
            n_sat += step_fixed_inplace(name, u, o, a.astype(float), b.astype(float), 2458, 140000, sh, buf)
            u_ref, o_ref, n = step_fixed(name, u_ref, o_ref, a, b, 2458, 140000, sh)
            n_ref += n
            assert np.array_equal(u, u_ref) and np.array_equal(o, o_ref.astype(bool)), (name, sh, step)
            assert STATE_MIN <= u_ref.min() and u_ref.max() <= STATE_MAX
        assert n_sat == n_ref and (sh != 2 or n_sat > 0)
    u, o, cur = np.zeros(shape, np.float32), np.zeros(shape, bool), np.empty(shape, np.float32)
    v_ref, o_ref = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    b = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    leak, vth = np.float32(0.6), np.float32(0.1)
    for step in range(30):
        a = rng.standard_normal(shape) * 0.2
        step_float_inplace(name, u, o, a, b, leak, vth, cur)
        v_ref, o_ref = get_kind(name).step(a.astype(np.float32) + b, v_ref, o_ref, leak, vth, heaviside_numpy)
        assert np.array_equal(u, v_ref) and np.array_equal(o, o_ref.astype(bool)), (name, step)


def test_numpy_simulators_handle_every_kind():
    """The float and fixed-point references run a spec of every kind; the readout is the kind's output."""
    from neurocv.hardware.fixed_point import quantize_spec, simulate_fixed_numpy
    from neurocv.hardware.stm_spec import simulate_numpy

    x = np.random.default_rng(1).standard_normal((6, 2, 6, 5)).astype(np.float32)
    for name, spec in _specs().items():
        kind = get_kind(name)
        assert spec.layers[-1].neuron == name and spec.readout == kind.readout
        trace: dict = {}
        y, counts = simulate_numpy(spec, x, trace=trace)
        assert np.array_equal(y, layer_output(kind, trace["membrane"][-1], trace["spikes"][-1])), name
        assert kind.fires or not trace["spikes"][-1].any()
        assert counts["layers"][1]["acs"] > 0
        y_fixed, counts_fixed = simulate_fixed_numpy(spec, x)
        assert y_fixed.shape == y.shape and counts_fixed["layers"][1]["acs"] > 0
        assert [fl.neuron for fl in quantize_spec(spec)] == [layer.neuron for layer in spec.layers]
        if kind.output == "membrane":     # within a few thresholds of the float membrane
            assert np.abs(y_fixed - y).max() < 0.5, name
        else:
            assert set(np.unique(y_fixed)) <= {0.0, 1.0}


def test_nir_round_trip_of_every_kind(tmp_path):
    """The NIR writer and reader carry every kind (each spec as the last layer's kind)."""
    import nir

    from neurocv.exporters.nir_export import spec_to_nir
    from neurocv.hardware.stm_spec import load_stm_spec

    for name, spec in _specs().items():
        path = tmp_path / f"{name}.nir"
        nir.write(path, spec_to_nir(spec))
        back = load_stm_spec(path)
        assert [layer.neuron for layer in back.layers] == [layer.neuron for layer in spec.layers], name
        assert back.readout == spec.readout


def test_netx_and_torch_consumers_handle_every_kind():
    """The netx format takes exactly the portable kinds; the torch model and its simulator adapter have a neuron
    of every kind."""
    from neurocv.hardware.netx_format import check_netx_compatible, quantize_netx
    from neurocv.hardware.sims.torch_sim import TorchSimulator
    from neurocv.models.neuron import NEURON_FACTORIES

    assert set(NEURON_FACTORIES) == set(KINDS)
    assert all(NEURON_FACTORIES[name](0.5, 0.5, False, 100.0, "pow2").kind == name for name in KINDS)
    x = np.random.default_rng(2).standard_normal((4, 2, 6, 5)).astype(np.float32)
    specs = _specs()
    sim = TorchSimulator.from_specs(specs)
    for name, spec in specs.items():
        if all(get_kind(layer.neuron).portable for layer in spec.layers):
            check_netx_compatible(spec)
            assert quantize_netx(spec).readout == spec.readout
        else:
            with pytest.raises(Exception):
                check_netx_compatible(spec)
        from neurocv.hardware.stm_spec import simulate_numpy

        y_ref, _ = simulate_numpy(spec, x)
        run = sim.run(name, x)
        # torch's conv sums in another order than numpy's: equal to float32 rounding, not bit for bit
        assert run.output.shape == y_ref.shape and np.abs(run.output - y_ref).max() < 1e-4, name
        assert get_kind(name).output == "membrane" or set(np.unique(run.output)) <= {0.0, 1.0}


def test_lava_worker_kind_codes_are_the_registry():
    """The Lava processes' ``neuron`` Var codes are the registry's (checked in .venv-lava when it exists: the
    ProcessModels import lava)."""
    from neurocv.hardware.lava_worker import __name__ as _  # noqa: F401  (torch-free import chain)

    code = ("from neurocv.hardware.lava.process import NEURON_CODES; from neurocv.dynamics.kinds import KIND_NAMES;"
            "import sys; assert tuple(NEURON_CODES) == KIND_NAMES; assert 'torch' not in sys.modules; print('ok')")
    from pathlib import Path

    lava_python = Path(__file__).resolve().parents[1] / ".venv-lava" / "bin" / "python"
    if not lava_python.exists():
        pytest.skip("no .venv-lava")
    out = subprocess.run([str(lava_python), "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
