"""Our Conv ProcessModel (neurocv/hardware/lava/conv.py) against Lava's own (lava.proc.conv), in .venv-lava.

The comparisons run in a ``.venv-lava`` subprocess (Lava does not import in the main environment), which prints
one JSON line; the assertions are here. Shapes are drawn at random (seeded): rectangular kernels, strides,
padding and dilation per axis, groups, analog float, analog integer and binary inputs.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from neurocv.hardware.lava_backend import REPO_ROOT, find_lava_python

FLOAT_REL_TOL = 1e-6     # the bound; the summation order differs from scipy's, measured ~1e-15

# Part 1: ConvPlan against lava.proc.conv.utils.conv (the function Lava's models call each step), 40 random shapes.
# Part 2: whole Lava networks, RingBuffer source -> Conv -> RingBuffer sink, run once with Lava's model and once
# with ours (selected through exception_proc_model_map), floating_pt and fixed_pt.
SCRIPT = r"""
import json, sys
import numpy as np
from lava.proc.conv import utils
from lava.proc.conv.models import PyConvModelFloat, PyConvModelFixed
from lava.proc.conv.process import Conv
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from neurocv.hardware.lava.conv import ConvPlan, PyConvFastFixed, PyConvFastFloat, signed_wrap

rng = np.random.default_rng(11)

def draw(small=False):
    groups = int(rng.choice([1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kw, kh = (int(v) for v in rng.integers(1, 4, 2))
    stride, pad, dil = (tuple(int(v) for v in rng.integers(lo, hi, 2)) for lo, hi in ((1, 4), (0, 3), (1, 3)))
    hi = 9 if small else 20
    w_in = int(rng.integers(dil[0] * (kw - 1) + 1, hi)) ; h_in = int(rng.integers(dil[1] * (kh - 1) + 1, hi))
    return dict(groups=groups, cin=cin, cout=cout, k=(kw, kh), stride=stride, pad=pad, dil=dil, shape=(w_in, h_in, cin))

def inputs(kind, shape, steps=None):
    full = shape if steps is None else (*shape, steps)
    if kind == "binary":
        return (rng.random(full) < 0.3).astype(float)
    if kind == "int":
        return rng.integers(-(1 << 15), 1 << 15, full).astype(float)
    return rng.standard_normal(full)

res = {"plan": [], "net": []}
for case in range(40):
    d = draw()
    kind = ("float", "int", "binary")[case % 3]
    fixed = kind != "float" and case % 2 == 0
    cg = d["cin"] // d["groups"]
    if fixed:
        w = rng.integers(-128, 128, (d["cout"], *d["k"], cg)).astype(np.int32)
    else:
        w = rng.standard_normal((d["cout"], *d["k"], cg))
    x = inputs(kind, d["shape"])
    lava_in = x.astype(bool) if kind == "binary" else x
    ref = utils.conv(lava_in, w, d["k"], d["stride"], d["pad"], d["dil"], d["groups"])
    plan = ConvPlan(w, d["shape"], d["stride"], d["pad"], d["dil"], d["groups"], binary=kind == "binary")
    ours = plan(x * 7.0 if kind == "binary" else x)        # binary: any non-zero is a spike, as astype(bool)
    if fixed:
        ref, ours = signed_wrap(ref, 24), signed_wrap(ours.astype(np.int32), 24)
        err = float(np.abs(ref.astype(np.int64) - ours).max())
    else:
        err = float(np.abs(ref - ours).max() / max(np.abs(ref).max(), 1e-300))
    res["plan"].append({"case": d, "kind": kind, "fixed": fixed, "err": err, "shape_ok": ref.shape == ours.shape,
                        "nonzero": int(np.count_nonzero(ref))})

for kind, fixed in (("float", False), ("int", True), ("binary", False), ("binary", True), ("float", False),
                    ("int", True)):
    d = draw(small=True)
    cg = d["cin"] // d["groups"]
    if fixed:
        w = rng.integers(-128, 128, (d["cout"], *d["k"], cg)).astype(np.int32)
    else:
        w = rng.standard_normal((d["cout"], *d["k"], cg))
    steps = 3
    data = inputs(kind, d["shape"], steps)
    outs = []
    for ours in (False, True):
        src = Source(data=data)
        conv = Conv(weight=w, input_shape=d["shape"], padding=d["pad"], stride=d["stride"], dilation=d["dil"],
                    groups=d["groups"], num_message_bits=0 if kind == "binary" else 24)
        sink = Sink(shape=conv.output_shape, buffer=steps + 1)
        src.s_out.connect(conv.s_in)
        conv.a_out.connect(sink.a_in)
        if ours:
            model = PyConvFastFixed if fixed else PyConvFastFloat
        else:
            model = PyConvModelFixed if fixed else PyConvModelFloat
        cfg = Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt", exception_proc_model_map={Conv: model})
        try:
            conv.run(condition=RunSteps(num_steps=steps + 1), run_cfg=cfg)
            outs.append(np.asarray(sink.data.get()))
        finally:
            conv.stop()
    ref, got = outs
    err = float(np.abs(ref - got).max()) if fixed else float(np.abs(ref - got).max() / max(np.abs(ref).max(), 1e-300))
    res["net"].append({"case": d, "kind": kind, "fixed": fixed, "err": err, "nonzero": int(np.count_nonzero(ref)),
                       "shape": list(ref.shape)})
# Part 3: the fused layer's in-place neuron steps against the references, 30 steps each, saturation included
from neurocv.hardware.fixed_point import FixedLayer, neuron_step_fixed
from neurocv.hardware.lava.models import fixed_step, float_step
res["fixed_step"] = []
for sh in (-3, 0, 2):
    fl = FixedLayer(None, 0, None, sh, 2458, 140000, 17, 0, 0)
    shape = (9, 7, 5)
    u, o, buf = np.zeros(shape), np.zeros(shape, bool), np.empty(shape)
    u_ref, o_ref = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    b = rng.integers(-5000, 5000, shape)
    same, n_sat, n_ref = True, 0, 0
    for step in range(30):
        hi = (1 << 23) if step % 3 else 300000
        a = rng.integers(-hi, hi, shape)
        n_sat += fixed_step(u, o, a.astype(float), b.astype(float), fl.decay, fl.vth, sh, buf)
        u_ref, o_ref, n = neuron_step_fixed(u_ref, o_ref, a, fl, b)
        n_ref += n
        same &= bool(np.array_equal(u, u_ref) and np.array_equal(o, o_ref.astype(bool)))
    res["fixed_step"].append({"shift": sh, "same": same, "saturated": n_sat, "saturated_ref": n_ref})
shape = (9, 7, 5)
u, o, cur = np.zeros(shape, np.float32), np.zeros(shape, bool), np.empty(shape, np.float32)
u_ref, o_ref = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
b = rng.standard_normal(shape).astype(np.float32) * 0.1
leak, vth, same = np.float32(0.6), np.float32(0.1), True
for step in range(30):
    a = rng.standard_normal(shape) * 0.2
    float_step(u, o, a, b, leak, vth, cur)
    u_ref = (a.astype(np.float32) + b) + leak * u_ref - vth * o_ref      # the STMNeuron model's expression
    o_ref = (u_ref > vth).astype(np.float32)
    same &= bool(np.array_equal(u, u_ref) and np.array_equal(o, o_ref.astype(bool)))
res["float_step"] = {"same": same, "spikes": int(o.sum())}
print("RESULT " + json.dumps(res))
"""


@pytest.fixture(scope="module")
def results():
    proc = subprocess.run([str(find_lava_python()), "-c", SCRIPT], cwd=str(REPO_ROOT), capture_output=True,
                          text=True, timeout=600, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_conv_plan_matches_lavas_conv_on_random_shapes(results):
    cases = results["plan"]
    assert len(cases) == 40
    kinds = {(c["kind"], c["fixed"]) for c in cases}
    assert {("float", False), ("binary", True), ("binary", False), ("int", True)} <= kinds
    assert {c["case"]["groups"] for c in cases} >= {1, 2, 3}
    assert any(max(c["case"]["stride"]) > 1 for c in cases) and any(max(c["case"]["dil"]) > 1 for c in cases)
    assert any(max(c["case"]["pad"]) > 0 for c in cases)
    assert sum(c["nonzero"] > 0 for c in cases) >= 35      # a 1x1 kernel may see only padding: all zero
    for c in cases:
        assert c["shape_ok"], c
        if c["fixed"]:
            assert c["err"] == 0, c                 # integer messages: bit-exact
        else:
            assert c["err"] <= FLOAT_REL_TOL, c


def test_our_process_model_matches_lavas_in_a_network(results):
    cases = results["net"]
    assert len(cases) == 6 and {c["fixed"] for c in cases} == {True, False}
    assert {c["kind"] for c in cases} >= {"binary", "int", "float"}
    for c in cases:
        assert c["nonzero"] > 0, c                  # the one-step delay leaves step 0 at zero, the rest is not
        if c["fixed"]:
            assert c["err"] == 0, c
        else:
            assert c["err"] <= FLOAT_REL_TOL, c


def test_fused_neuron_steps_equal_the_references(results):
    """float_step is bit for bit the neuron process's float32 expression; fixed_step (float64 holding integers)
    is bit for bit fixed_point.neuron_step_fixed, with right and left synaptic shifts and saturation."""
    assert results["float_step"]["same"] and results["float_step"]["spikes"] > 0
    assert [c["shift"] for c in results["fixed_step"]] == [-3, 0, 2]
    for c in results["fixed_step"]:
        assert c["same"] and c["saturated"] == c["saturated_ref"], c
    assert results["fixed_step"][-1]["saturated"] > 0
