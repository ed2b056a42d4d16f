"""scripts/ablations.py --merge: reports of runs started side by side become one table (rows in the paper's order,
seed rows with their mean), and reports of another recipe are refused."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ablations.py"


def _module():
    spec = importlib.util.spec_from_file_location("ablations_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _report(path: Path, rows: list, epochs: int = 20) -> Path:
    report = {"data": "data/am", "model": "stm-tiny", "epochs": epochs, "seed": 0, "chance": 1 / 12,
              "holdout": "data/am-holdout",
              "rows": [{"id": rid, "table": "3", "label": rid, "top1": top1, "top5": 0.5, "top1_final": top1,
                        "top5_final": 0.5, "top1_holdout": top1, "best_epoch": 3, "train_top1_final": top1}
                       for rid, top1 in rows],
              "seed_spread": [{"id": rid, "label": rid, "top1_final": {"0": top1, "1": top1 / 2},
                               "mean": 0.75 * top1, "top1_holdout": {"0": top1, "1": top1},
                               "mean_holdout": top1} for rid, top1 in rows]}
    path.write_text(json.dumps(report))
    return path


def test_merge_takes_the_union_of_a_rows_seeds(tmp_path):
    a = _report(tmp_path / "a.json", [("mv-r", 0.4)])               # seeds 0 and 1
    b = json.loads(a.read_text())
    b["seed_spread"][0]["top1_final"] = {"0": 0.4, "2": 0.1}
    b["seed_spread"][0]["top1_holdout"] = {"2": 0.1, "0": 0.4}
    (tmp_path / "b.json").write_text(json.dumps(b))
    merged = _module().merge_reports([a, tmp_path / "b.json"])
    (entry,) = merged["seed_spread"]
    assert entry["top1_final"] == {"0": 0.4, "1": 0.2, "2": 0.1} and abs(entry["mean"] - 0.7 / 3) < 1e-12
    assert list(entry["top1_holdout"]) == ["0", "1", "2"] and abs(entry["mean_holdout"] - 0.9 / 3) < 1e-12


def test_merge_orders_rows_and_refuses_another_recipe(tmp_path):
    a = _report(tmp_path / "a.json", [("mv", 0.2), ("i", 0.1)])
    b = _report(tmp_path / "b.json", [("i-mv-r", 0.4)])
    merged = _module().merge_reports([a, b])
    assert [r["id"] for r in merged["rows"]] == ["i-mv-r", "i", "mv"]           # the order of ROWS, not of files
    assert [r["id"] for r in merged["seed_spread"]] == ["i-mv-r", "i", "mv"] and merged["epochs"] == 20
    out = tmp_path / "t3"
    proc = subprocess.run([sys.executable, str(SCRIPT), "unused", "--merge", str(a), str(b), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.with_suffix(".json").read_text())["rows"][0]["id"] == "i-mv-r"
    assert "| I + MV + R" not in proc.stdout and "| i-mv-r | 40.0 / 40.0 | 20.0 / 40.0 | 30.0 / 40.0 |" in proc.stdout
    assert out.with_suffix(".png").stat().st_size > 0
    c = _report(tmp_path / "c.json", [("mv-r", 0.3)], epochs=12)
    bad = subprocess.run([sys.executable, str(SCRIPT), "unused", "--merge", str(a), str(c), "--out", str(out)],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "c.json: another recipe" in bad.stderr and "Traceback" not in bad.stderr
