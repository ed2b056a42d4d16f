"""STM -> NIR: write/read round trip, rebuild of the spec, and an independent re-import with nirtorch."""

from __future__ import annotations

import h5py
import nir
import nirtorch
import numpy as np
import pytest
import torch

from neurocv.errors import ExportError
from neurocv.exporters.nir_export import compare_graphs, stm_to_nir, write_stm_nir
from neurocv.hardware.stm_spec import load_stm_spec
from neurocv.models.neuron import set_surrogate
from neurocv.models.stm import SpikingTemporalModulator

REL_TOL = 1e-5   # max |u - u_torch| / max |u_torch|: float32 rounding only (summation order)
NAMES = ["temporal.mv.layers.0", "temporal.mv.layers.1"]


@pytest.fixture(scope="module")
def stm_and_clip():
    torch.manual_seed(0)
    stm = SpikingTemporalModulator(2, (8, 6), (2, 1), v_th=0.1, leak=0.6)
    with torch.no_grad():   # distinct per-layer parameters, as after training
        stm.layers[1].neuron.raw_v_th += 0.3
        stm.layers[1].neuron.raw_leak -= 0.5
    set_surrogate(stm, False)
    x = torch.randn(1, 8, 2, 16, 16)
    with torch.no_grad():
        u, _ = stm(x)
    return stm, x, u


def test_write_read_round_trip(tmp_path, stm_and_clip):
    stm, _, _ = stm_and_clip
    path = tmp_path / "stm_mv.nir"
    graph = write_stm_nir(stm, path, (2, 16, 16), dt_s=1e-3, names=NAMES)
    back = nir.read(path)
    assert compare_graphs(graph, back) == []
    assert back.metadata["dt_s"] == 1e-3 and back.metadata["reset"] == "subtractive"
    assert isinstance(back.nodes["temporal.mv.layers.0.reset"], nir.Scale)
    assert ("temporal.mv.layers.1.li", "output") in [tuple(e) for e in back.edges]   # analog membrane out


def test_spec_rebuilt_bit_exact(tmp_path, stm_and_clip):
    stm, _, _ = stm_and_clip
    path = tmp_path / "stm_mv.nir"
    write_stm_nir(stm, path, (2, 16, 16), dt_s=2e-3, names=NAMES)
    spec = load_stm_spec(path)
    assert spec.name == "mv" and spec.input_shape == (2, 16, 16) and spec.dt_s == 2e-3
    for layer, mod in zip(spec.layers, stm.layers):
        p = mod.neuron.params()
        assert np.float32(layer.leak) == p.leak.item() and np.float32(layer.v_th) == p.v_th.item()
        assert np.array_equal(layer.weight, mod.conv.weight.detach().numpy())
        assert np.array_equal(layer.bias, mod.conv.bias.detach().numpy())
    assert [l.stride for l in spec.layers] == [2, 1] and [l.input for l in spec.layers] == ["analog", "spikes"]


class _LI(torch.nn.Module):
    """Forward-Euler LI: v = (1 - dt/tau) v + (dt/tau) r x, parameters cast to float32 once."""

    def __init__(self, node: nir.LI, dt: float):
        super().__init__()
        self.register_buffer("decay", torch.from_numpy(1.0 - dt / node.tau).float())
        self.register_buffer("gain", torch.from_numpy(dt / node.tau * node.r).float())

    def forward(self, x, state=None):
        v = self.gain * x if state is None else self.decay * state + self.gain * x
        return v, v


class _Threshold(torch.nn.Module):
    def __init__(self, node: nir.Threshold):
        super().__init__()
        self.register_buffer("theta", torch.from_numpy(node.threshold).float())

    def forward(self, x):
        return (x > self.theta).float()


class _Scale(torch.nn.Module):
    def __init__(self, node: nir.Scale):
        super().__init__()
        self.register_buffer("s", torch.from_numpy(node.scale).float())

    def forward(self, x):
        return self.s * x


def test_nirtorch_reimport_matches_torch(tmp_path, stm_and_clip):
    stm, x, u_torch = stm_and_clip
    path = tmp_path / "stm_mv.nir"
    write_stm_nir(stm, path, (2, 16, 16), names=NAMES)
    graph = nir.read(path)
    dt = float(graph.metadata["dt_s"])
    module = nirtorch.nir_to_torch(graph, {nir.LI: lambda n: _LI(n, dt), nir.Threshold: _Threshold,
                                           nir.Scale: _Scale})
    names = [n for n in module._modules]      # fresh state per clip (nirtorch shares its default dict)
    state = {n: None for n in names}
    outs = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = module(x[:, t], state)
            outs.append(out)
    u = torch.stack(outs, 1)
    rel = ((u - u_torch).abs().max() / u_torch.abs().max()).item()
    assert rel <= REL_TOL, rel
    spikes_last = (u > stm.layers[-1].neuron.params().v_th).float().sum()
    assert spikes_last > 0                     # the reset loop was exercised


def test_norse_cannot_read_li_threshold_scale(tmp_path, stm_and_clip):
    """Documented limitation (module docstring): norse 1.1.0 maps no LI/Threshold/Scale node."""
    from norse.torch.utils.import_nir import _import_norse_module

    stm, _, _ = stm_and_clip
    graph = stm_to_nir(stm, (2, 16, 16), names=NAMES)
    mapped = {k: _import_norse_module(n, ignore_warnings=True) for k, n in graph.nodes.items()}
    unreadable = sorted({type(graph.nodes[k]).__name__ for k, m in mapped.items()
                         if m is None and not isinstance(graph.nodes[k], (nir.Input, nir.Output))})
    assert unreadable == ["LI", "Scale", "Threshold"]
    assert isinstance(mapped["temporal.mv.layers.0.conv"], torch.nn.Conv2d)


def test_corrupt_and_truncated_files_name_the_file(tmp_path, stm_and_clip):
    stm, _, _ = stm_and_clip
    good = tmp_path / "good.nir"
    write_stm_nir(stm, good, (2, 16, 16), names=NAMES)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.nir"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.nir"
    garbage.write_bytes(b"not hdf5 at all" * 10)
    for bad in (truncated, garbage, tmp_path / "missing.nir"):
        with pytest.raises(ExportError, match=str(bad.name)) as info:
            load_stm_spec(bad)
        assert "\n" not in str(info.value)


def test_foreign_graph_rejected(tmp_path, stm_and_clip):
    stm, _, _ = stm_and_clip
    path = tmp_path / "edited.nir"
    write_stm_nir(stm, path, (2, 16, 16), names=NAMES)
    with h5py.File(path, "r+") as f:      # break the subtractive reset: scale no longer -v_th
        ds = f["node/nodes/temporal.mv.layers.0.reset/scale"]
        ds[...] = ds[...] * 2
    with pytest.raises(ExportError, match="subtractive reset"):
        load_stm_spec(path)
