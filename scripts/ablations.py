"""The paper's Table 3 (modalities) and Table 4(c) (STM variants) on a dataset, with ``stm-tiny``.

Each row trains one model (same seed, epochs and schedule as every other row), evaluates its best checkpoint with the
test protocol and records top-1. Runs live in ``RUNS/<row>/`` and are resumed or skipped when finished, so the script
can be killed and restarted. Writes ``OUT.json``, ``OUT.md`` (the table) and ``OUT.png`` (a bar chart).

    .venv/bin/python scripts/ablations.py DATA --runs runs/ablations --out docs/ablations [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROWS = [
    # (row id, table, label, model overrides, accumulate)
    ("i-mv-r", "3 / 4c", "I + MV + R (ours: STM, learned v_th and lambda)", {}, True),
    ("i", "3", "I-frame only", {"modalities": "i"}, True),
    ("mv", "3", "MV only", {"modalities": "mv"}, True),
    ("r", "3", "R only", {"modalities": "r"}, True),
    ("mv-r", "3", "MV + R", {"modalities": "mv,r"}, True),
    ("i-mv", "3", "I + MV", {"modalities": "i,mv"}, True),
    ("i-r", "3", "I + R", {"modalities": "i,r"}, True),
    ("stm-none", "4c", "no STM (per-frame convs)", {"stm": "none"}, True),
    ("stm-common", "4c", "one common STM for MV and R", {"stm": "common"}, True),
    ("stm-lstm", "4c", "STM replaced by ConvLSTM", {"stm": "lstm"}, True),
    ("stm-fixed", "4c", "fixed v_th and lambda", {"stm": "fixed"}, True),
    ("no-accumulate", "4c", "no accumulation (raw P-frames)", {}, False),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--runs", type=Path, default=Path("runs/ablations"))
    ap.add_argument("--out", type=Path, default=Path("docs/ablations"), help="writes OUT.json, OUT.md, OUT.png")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", default="all", help="comma-separated row ids (default all): "
                    + ",".join(r[0] for r in ROWS))
    args = ap.parse_args(argv)

    from neurocv._io import atomic_open
    from neurocv.training import TrainConfig, evaluate, train
    from neurocv.training.loop import default_optimizer

    rows = ROWS if args.rows == "all" else [r for r in ROWS if r[0] in args.rows.split(",")]
    n_classes = len((args.data / "splits" / "classInd.txt").read_text().split("\n")) - 1
    results = []
    old = {}
    if args.out.with_suffix(".json").exists():
        old = {r["id"]: r for r in json.loads(args.out.with_suffix(".json").read_text()).get("rows", [])}
    for rid, table, label, overrides, acc in rows:
        run = args.runs / rid
        t0 = time.perf_counter()
        lr, eps = default_optimizer("stm-tiny")
        cfg = TrainConfig(model="stm-tiny", epochs=args.epochs, batch_size=args.batch_size, lr=lr, eps=eps,
                          seed=args.seed, accumulate=acc, model_overrides=tuple(overrides.items()))
        print(f"== {rid}: {label}", file=sys.stderr)
        train(args.data, run, cfg)
        ev = evaluate(run / "best.pt", args.data, out_dir=run)
        metrics = json.loads((run / "metrics.json").read_text())
        rows_m = metrics["epochs"] if isinstance(metrics, dict) else metrics
        row = {"id": rid, "table": table, "label": label, "overrides": overrides, "accumulate": acc,
               "top1": ev["top1"], "top5": ev["top5"], "n_videos": ev["n_videos"],
               "best_epoch": max(rows_m, key=lambda m: m["val_top1"])["epoch"],
               "train_top1_final": rows_m[-1]["train_top1"],
               "train_seconds": sum(m["seconds"] for m in rows_m)}
        if time.perf_counter() - t0 < 5 and rid in old:      # finished earlier: keep its measured time
            row["train_seconds"] = old[rid].get("train_seconds", row["train_seconds"])
        results.append(row)
    report = {"data": str(args.data), "model": "stm-tiny", "epochs": args.epochs, "seed": args.seed,
              "chance": 1.0 / n_classes, "rows": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(args.out.with_suffix(".json"), "w") as fh:
        json.dump(report, fh, indent=1)
    with atomic_open(args.out.with_suffix(".md"), "w") as fh:
        fh.write(markdown(report))
    plot(report, args.out.with_suffix(".png"))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    lines = [f"stm-tiny on `{report['data']}`, {report['epochs']} epochs, seed {report['seed']}; test top-1 of the "
             f"best checkpoint, 8x1 views; chance {100 * report['chance']:.1f} %.", "",
             "| table | row | top-1 (%) | top-5 (%) | best epoch | train top-1 at end (%) |", "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['table']} | {r['label']} | {100 * r['top1']:.1f} | {100 * r['top5']:.1f} | "
                     f"{r['best_epoch']} | {100 * r['train_top1_final']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurocv._io import atomic_path

    rows = report["rows"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    y = range(len(rows))
    colors = ["tab:blue" if r["table"].startswith("3") else "tab:orange" for r in rows]
    ax.barh(list(y), [100 * r["top1"] for r in rows], color=colors)
    ax.axvline(100 * report["chance"], color="k", ls="--", lw=1, label="chance")
    ax.set_yticks(list(y), [r["label"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("test top-1 (%)")
    ax.set_xlim(0, 100)
    ax.set_title(f"stm-tiny ablations, {report['epochs']} epochs (blue: Table 3, orange: Table 4c)", fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
