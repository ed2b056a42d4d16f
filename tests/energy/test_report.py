"""Report formats parse; energy arithmetic; unknown / malformed profiles and unreadable checkpoints fail clearly."""

from __future__ import annotations

import csv
import io
import json

import pytest

from neurocv.cli import main
from neurocv.energy import EnergyReport, LayerCount, list_profiles, load_profile, report_from_run
from neurocv.errors import HardwareProfileError


def _report(profile="cmos45nm-fp32") -> EnergyReport:
    layers = [LayerCount("temporal.mv.layers.0", "spiking", "conv-lif", "analog", params=10, macs=1e6,
                         dense_macs=1e6, spikes=50, neurons=100, neuron_updates=800, mem_values=1000),
              LayerCount("temporal.mv.layers.1", "spiking", "conv-lif", "spikes", params=20, acs=2e6, dense_macs=8e6,
                         spikes=10, neurons=50, neuron_updates=400, mem_spikes=800),
              LayerCount("encoder.blocks.0.attn", "ann", "attention", "analog", macs=1e9, dense_macs=1e9)]
    rep = EnergyReport(model="toy", source="torch", profile=load_profile(profile), layers=layers, params=1234,
                        segments=8, crops=2, views=2, input_size=(224, 224), inputs="test")
    for c in layers:
        c.views = 2
    return rep


def test_energy_formula_and_views():
    rep = _report()
    t = rep.totals()
    # per video = 2 views x (1.001e9 MACs x 4.6 pJ + 2e6 ACs x 0.9 pJ)
    assert t["energy_j"] == pytest.approx(2 * (1.001e9 * 4.6e-12 + 2e6 * 0.9e-12))
    assert rep.totals(per_video=False)["energy_j"] == pytest.approx(t["energy_j"] / 2)
    assert t["firing_rate"] == pytest.approx(60 / 1200)
    assert rep.table1()["tflops_ann"] == pytest.approx(2 * 1.001e9 / 1e12)
    assert t["memory_j"] > 0 and t["memory_j"] != pytest.approx(0)   # own column, not in energy_j
    loihi = _report("loihi").totals()
    assert loihi["energy_j"] == pytest.approx(2 * (1.001e9 * 4.6e-12 + 2e6 * 23.6e-12 + 1200 * 81e-12))
    assert loihi["memory_j"] is None


def test_json_csv_markdown_parse():
    rep = _report()
    d = json.loads(rep.to_json())
    assert isinstance(d["layers"], list) and len(d["layers"]) == 3
    for key in ("params", "macs", "acs", "energy_j"):
        assert key in d["total"]
    assert d["total"]["params"] == 1234 and d["protocol"]["views"] == 2
    assert d["speed"]["onnxruntime_videos_per_s"] is None
    rows = list(csv.DictReader(io.StringIO(rep.to_csv())))
    assert [r["name"] for r in rows][-1] == "TOTAL (per video)" and len(rows) == 4
    assert float(rows[-1]["energy_j"]) == pytest.approx(rep.totals()["energy_j"])
    md = rep.to_markdown()
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len({line.count("|") for line in table[:5]}) == 1          # header, rule and rows have equal columns
    assert "E_Total (J)" in md


def test_plot_writes_png(tmp_path):
    out = tmp_path / "e.png"
    _report().plot(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_builtin_profiles_cite_sources():
    assert {"cmos45nm-fp32", "cmos45nm-int8", "loihi"} <= set(list_profiles())
    fp32 = load_profile()
    assert (fp32.mac_pj, fp32.ac_pj) == (4.6, 0.9) and fp32.sources
    assert all(load_profile(n).sources for n in list_profiles())


def test_unknown_profile():
    with pytest.raises(HardwareProfileError, match="unknown hardware profile 'tpu9'"):
        load_profile("tpu9")


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"name": "x", "mac_pj": 1, "ac_pj": 1, "neuron_update_pj": 0, "bytes_per_value": 4}', "missing field"),
    ('{"name": "x", "mac_pj": -1, "ac_pj": 1, "neuron_update_pj": 0, "bytes_per_value": 4, "sources": ["a"]}',
     "mac_pj must be"),
    ('{"name": "x", "mac_pj": 1, "ac_pj": 1, "neuron_update_pj": 0, "bytes_per_value": 4, "sources": []}',
     "sources"),
])
def test_malformed_profile_file(tmp_path, content, message):
    path = tmp_path / "hw.json"
    path.write_text(content)
    with pytest.raises(HardwareProfileError, match=message) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"this is not a checkpoint")
    for argv, needle in ((["energy", "cv-c3d", "--hardware", "nope"], "unknown hardware profile"),
                         (["energy", "cv-c3d", "--hardware", str(bad)], "malformed hardware profile"),
                         (["energy", str(ckpt)], "not a readable checkpoint")):
        code, cap = _cli(argv, capsys)
        lines = cap.err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_cli_card_outputs_parse(capsys):
    main(["energy", "cv-c3d", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["total"]["energy_j"] == pytest.approx(0.501, rel=0.02) and d["layers"]
    main(["energy", "cv-c3d", "--csv", "--segments", "2"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(rows[-1]["energy_j"]) == pytest.approx(2 * d["total"]["energy_j"], rel=1e-9)
    main(["energy", "cv-c3d", "--markdown"])
    assert "| paper, Table 1 |" in capsys.readouterr().out


def test_from_run(tmp_path):
    ops = {"schema": "neurocv.ops/1", "model": "not-a-model", "backend": "lava-float", "segments": 8, "crops": 1,
           "n_videos": 1, "per_video": {"layers": [
               {"name": "temporal.mv.layers.0", "partition": "spiking", "kind": "conv-lif", "input": "analog",
                "neurons": 100, "macs": 1000, "acs": 0, "spikes": 30.0, "neuron_updates": 800.0},
               {"name": "temporal.mv.layers.1", "partition": "spiking", "kind": "conv-lif", "input": "spikes",
                "neurons": 50, "macs": 0, "acs": 5000.0, "spikes": 5.0, "neuron_updates": 400.0},
               {"name": "ann", "partition": "ann", "kind": "onnx", "input": "analog", "macs": 10 ** 9, "acs": 0}]},
           "videos": []}
    path = tmp_path / "ops.json"
    path.write_text(json.dumps(ops))
    rep = report_from_run(path, load_profile())
    assert rep.totals()["energy_j"] == pytest.approx((10 ** 9 + 1000) * 4.6e-12 + 5000 * 0.9e-12)
    assert rep.totals()["spikes"] == 35 and rep.params is None
    path.write_text('{"schema": "other"}')
    with pytest.raises(Exception, match="not a neurocv ops file"):
        report_from_run(path, load_profile())


def _effective_report(count: str) -> EnergyReport:
    rep = _report()
    for c, (m, a) in zip(rep.layers, ((2e5, 0.0), (0.0, 1.5e6), (9e8, 0.0))):
        c.effective_macs, c.effective_acs = m, a
    return EnergyReport(model="toy", source="torch", profile=rep.profile, layers=rep.layers, params=1234,
                        segments=8, crops=2, views=2, input_size=(224, 224), inputs="test", count=count)


def test_dense_and_effective_side_by_side():
    dense, eff = _effective_report("dense"), _effective_report("effective")
    # dense stays Table 1's convention; effective prices the zero-skipped counts
    assert dense.totals()["energy_j"] == pytest.approx(_report().totals()["energy_j"])
    assert eff.totals()["energy_j"] == pytest.approx(2 * ((2e5 + 9e8) * 4.6e-12 + 1.5e6 * 0.9e-12))
    assert eff.table1()["tflops_ann"] == pytest.approx(2 * (2e5 + 9e8) / 1e12) and eff.table1()["count"] == "effective"
    for rep in (dense, eff):
        d = json.loads(rep.to_json())
        assert d["total"]["effective_macs"] == pytest.approx(2 * (2e5 + 9e8)) and d["total"]["macs"] == 2 * 1.001e9
        assert d["layers"][1]["effective_acs"] == 3e6 and d["count"] == rep.count and "E_Total priced on" in \
            d["count_note"]
        rows = list(csv.DictReader(io.StringIO(rep.to_csv())))
        assert float(rows[-1]["effective_acs"]) == 3e6 and float(rows[0]["effective_macs"]) == 4e5
        md = rep.to_markdown()
        table = [line for line in md.splitlines() if line.startswith("|")]
        assert len({line.count("|") for line in table[:5]}) == 1 and "eff. MACs (M)" in md
        assert f"this report ({rep.count})" in md and f"priced on {rep.count} counts" in md
    with pytest.raises(Exception, match="no effective op counts"):
        EnergyReport(model="toy", source="card", profile=dense.profile, layers=_report().layers, params=1,
                     segments=8, crops=1, views=1, input_size=None, inputs="", count="effective")


def test_cli_count_option(capsys):
    for argv, needle in ((["energy", "cv-c3d", "--count", "effective"], "only dense counts there"),
                         (["energy", "cv-c3d", "--count", "sparse"], "--count must be dense or effective")):
        code, cap = _cli(argv, capsys)
        lines = cap.err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and needle in lines[0]
    main(["energy", "cv-c3d", "--segments", "2"])
    out = capsys.readouterr().out
    assert "E_Total priced on dense counts" in " ".join(out.split())
