"""The paper's Table 3 (modalities) and Table 4(c) (STM variants) on a dataset, with ``stm-tiny``.

Each row trains one model (same seed, epochs and schedule as every other row), evaluates its final and its best
checkpoint with the test protocol and records top-1. ``--extra-seeds 1,2`` trains the leading rows again with other
seeds to show how much a row moves with the seed alone. Runs live in ``RUNS/<row>/`` (``RUNS/<row>-seed<k>/``) and are
resumed or skipped when finished, so the script can be killed and restarted. Writes ``OUT.json``, ``OUT.md`` (the
tables) and ``OUT.png`` (a bar chart).

    .venv/bin/python scripts/ablations.py DATA --runs runs/ablations --out docs/ablations [--epochs 20]
        [--extra-seeds 1,2 --seed-rows i-mv-r,mv-r,mv]

The hardware-native STM (``neuron=lif``, not in the paper) has its own rows, ``lif`` (the last layer's spikes are the
readout) and ``lif-li`` (a last leaky-integrator layer's membrane), with the default power-of-two leak, and
``lif-free`` / ``lif-li-free`` with a free leak (``lif_leak=free``), beside the paper's STM over the same seeds::

    .venv/bin/python scripts/ablations.py DATA --holdout HELD --epochs 12 --rows i-mv-r,lif --seed-rows i-mv-r,lif \
        --extra-seeds 1,2 --reuse docs/ablations_4c_12ep.json --runs runs/ablations-lif --out docs/ablations_lif

``--reuse REPORT`` takes the rows an earlier report of this script already holds (same epochs and batch size; seed
``--seed`` only) instead of training them again. The report files are rewritten after every finished run.
"""

from __future__ import annotations

import argparse
import json
import sys
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
    ("lif", "4c+", "hardware-native LIF (hard reset, power-of-two leak), last layer's spikes out",
     {"neuron": "lif"}, True),
    ("lif-li", "4c+", "hardware-native LIF (hard reset, power-of-two leak), LI readout (membrane out)",
     {"neuron": "lif", "lif_readout": "li"}, True),
    ("lif-free", "4c+", "hardware-native LIF (hard reset, free leak), last layer's spikes out",
     {"neuron": "lif", "lif_leak": "free"}, True),
    ("lif-li-free", "4c+", "hardware-native LIF (hard reset, free leak), LI readout (membrane out)",
     {"neuron": "lif", "lif_readout": "li", "lif_leak": "free"}, True),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--runs", type=Path, default=Path("runs/ablations"))
    ap.add_argument("--out", type=Path, default=Path("docs/ablations"), help="writes OUT.json, OUT.md, OUT.png")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's (`neurocv train --model "
                    "stm-tiny` without --epochs)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", default="all", help="comma-separated row ids (default all): "
                    + ",".join(r[0] for r in ROWS))
    ap.add_argument("--extra-seeds", default="", help="comma-separated seeds: train --seed-rows again with each "
                    "and report the final top-1 per seed and its mean (runs in RUNS/<row>-seed<k>/)")
    ap.add_argument("--holdout", type=Path, default=None, help="a second dataset with the same classes (e.g. "
                    "`neurocv synth H --seed 1 --videos-per-class 40 --test-fraction 0.95`): every final checkpoint "
                    "is also evaluated on its test split")
    ap.add_argument("--seed-rows", default="i-mv-r,mv-r,mv", help="rows that --extra-seeds repeats")
    ap.add_argument("--reuse", type=Path, default=None, help="an earlier report (OUT.json) of this script: its rows "
                    "for the same epochs, batch size and seed are taken instead of training them again")
    ap.add_argument("--merge", type=Path, nargs="+", default=None, metavar="REPORT",
                    help="train nothing: write OUT from earlier reports of this script (same data, epochs, seed), "
                    "e.g. two runs with different --rows started side by side, one per core")
    args = ap.parse_args(argv)
    from neurocv.recipes import default_recipe

    recipe = default_recipe("stm-tiny")
    args.epochs = recipe.epochs if args.epochs is None else args.epochs
    args.batch_size = recipe.batch_size if args.batch_size is None else args.batch_size

    from neurocv._io import atomic_open

    if args.merge:
        print(markdown(save_report(merge_reports(args.merge), args.out, atomic_open)))
        return 0
    from neurocv.data import load_split

    rows = ROWS if args.rows == "all" else [r for r in ROWS if r[0] in args.rows.split(",")]
    n_classes = len(load_split(args.data, "test").classes)
    reused = reusable_rows(args)
    results = []
    seeds = [int(s) for s in args.extra_seeds.split(",") if s.strip()] if args.extra_seeds else []
    seed_rows = [r for r in ROWS if seeds and r[0] in args.seed_rows.split(",")]
    runs = {r[0]: {} for r in seed_rows}
    for rid, table, label, overrides, acc in rows:
        print(f"== {rid}: {label}", file=sys.stderr)
        row = {"id": rid, "table": table, "label": label, "overrides": overrides, "accumulate": acc}
        if rid in reused:
            row.update({k: v for k, v in reused[rid].items() if k not in row})
            row["reused_from"] = str(args.reuse)
            row["data"] = reused["__data__"]
        else:
            row.update(run_row(args, args.runs / rid, overrides, acc, args.seed))
        results.append(row)
        if rid in runs:
            runs[rid][args.seed] = row
        write_report(args, n_classes, results, seed_rows, runs, atomic_open)
    for seed in seeds:                   # seed-major: a killed run has whole seeds done
        for rid, table, label, overrides, acc in seed_rows:
            print(f"== {rid}: {label}, seed {seed}", file=sys.stderr)
            runs[rid][seed] = run_row(args, args.runs / f"{rid}-seed{seed}", overrides, acc, seed)
            write_report(args, n_classes, results, seed_rows, runs, atomic_open)
    print(markdown(write_report(args, n_classes, results, seed_rows, runs, atomic_open)))
    return 0


def reusable_rows(args) -> dict:
    """Rows of ``--reuse`` trained with this run's epochs, batch size and seed, by id."""
    if args.reuse is None:
        return {}
    old = json.loads(args.reuse.read_text())
    if old.get("epochs") != args.epochs or old.get("seed") != args.seed:
        sys.exit(f"error: {args.reuse}: trained {old.get('epochs')} epochs with seed {old.get('seed')}, this run "
                 f"asks for {args.epochs} epochs with seed {args.seed}; nothing to reuse")
    return {**{r["id"]: r for r in old.get("rows", [])}, "__data__": old.get("data")}


def merge_reports(paths: list) -> dict:
    """One report from several (same data, epochs, seed and hold-out set): rows and seed rows in ``ROWS`` order."""
    reports = []
    for p in paths:
        try:
            reports.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            sys.exit(f"error: {p}: not a readable report of this script ({e.__class__.__name__}: {e})")
    keys = ("data", "model", "epochs", "seed", "chance", "holdout")
    for p, r in zip(paths[1:], reports[1:]):
        if any(r.get(k) != reports[0].get(k) for k in keys):
            sys.exit(f"error: {p}: another recipe than {paths[0]} ({', '.join(f'{k}={r.get(k)}' for k in keys)})")
    order = [r[0] for r in ROWS]
    rows = {r["id"]: r for rep in reports for r in rep["rows"]}
    spread: dict = {}
    for entry in (r for rep in reports for r in rep.get("seed_spread", [])):
        # one row's seeds may come from several reports (e.g. seeds 1 and 2 trained side by side): their union
        merged = spread.setdefault(entry["id"], {"id": entry["id"], "label": entry["label"]})
        for key, mean_key in (("top1_final", "mean"), ("top1_holdout", "mean_holdout")):
            if key in entry:
                seeds = {**merged.get(key, {}), **entry[key]}
                merged[key] = dict(sorted(seeds.items(), key=lambda kv: int(kv[0])))
                merged[mean_key] = sum(seeds.values()) / len(seeds)
    by_order = lambda d: [d[k] for k in sorted(d, key=order.index)]  # noqa: E731
    return {**{k: reports[0].get(k) for k in keys}, "rows": by_order(rows), "seed_spread": by_order(spread)}


def write_report(args, n_classes: int, results: list, seed_rows: list, runs: dict, atomic_open) -> dict:
    """OUT.json, OUT.md and OUT.png for the runs finished so far; returns the report."""
    spread = []
    for rid, table, label, overrides, acc in seed_rows:
        done = {str(s): r for s, r in sorted(runs[rid].items()) if r is not None}
        if not done:
            continue
        entry = {"id": rid, "label": label, "top1_final": {s: r["top1_final"] for s, r in done.items()}}
        entry["mean"] = sum(entry["top1_final"].values()) / len(done)
        if args.holdout is not None:
            entry["top1_holdout"] = {s: r["top1_holdout"] for s, r in done.items()}
            entry["mean_holdout"] = sum(entry["top1_holdout"].values()) / len(done)
        spread.append(entry)
    report = {"data": str(args.data), "model": "stm-tiny", "epochs": args.epochs, "seed": args.seed,
              "chance": 1.0 / n_classes, "holdout": None if args.holdout is None else str(args.holdout),
              "rows": results, "seed_spread": spread}
    return save_report(report, args.out, atomic_open)


def save_report(report: dict, out: Path, atomic_open) -> dict:
    """``OUT.json``, ``OUT.md`` and ``OUT.png`` of ``report`` (each written atomically); returns ``report``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out.with_suffix(".json"), "w") as fh:
        json.dump(report, fh, indent=1)
    with atomic_open(out.with_suffix(".md"), "w") as fh:
        fh.write(markdown(report))
    plot(report, out.with_suffix(".png"))
    return report


def run_row(args, run: Path, overrides: dict, accumulate: bool, seed: int) -> dict:
    """Train one row (resumed or skipped when ``run`` holds it), evaluate its best and final checkpoints."""
    from neurocv.training import TrainConfig, evaluate, train
    from neurocv.recipes import default_optimizer

    lr, eps = default_optimizer("stm-tiny")
    cfg = TrainConfig(model="stm-tiny", epochs=args.epochs, batch_size=args.batch_size, lr=lr, eps=eps, seed=seed,
                      accumulate=accumulate, model_overrides=tuple(overrides.items()))
    train(args.data, run, cfg)
    metrics = json.loads((run / "metrics.json").read_text())
    epochs = metrics["epochs"] if isinstance(metrics, dict) else metrics
    best_epoch = max(epochs, key=lambda m: m["val_top1"])["epoch"]    # the first best, as train() keeps it
    # the dataset has no validation split apart from test, so "best" is picked on the test clips; the final
    # checkpoint (end of the fixed schedule) involves no such choice and is reported beside it
    ev_last = evaluate(run / "last.pt", args.data, out_dir=run / "final")
    ev = ev_last if best_epoch == epochs[-1]["epoch"] else evaluate(run / "best.pt", args.data, out_dir=run)
    held = {}
    if args.holdout is not None:      # a larger, independent test set: resolves differences the 60 clips cannot
        ev_h = evaluate(run / "last.pt", args.holdout, out_dir=run / "holdout")
        held = {"top1_holdout": ev_h["top1"], "n_holdout": ev_h["n_videos"]}
    return {**held, "seed": seed, "top1": ev["top1"], "top5": ev["top5"], "n_videos": ev["n_videos"],
            "top1_final": ev_last["top1"], "top5_final": ev_last["top5"],
            "best_epoch": best_epoch,
            "train_top1_final": epochs[-1]["train_top1"], "train_seconds": sum(m["seconds"] for m in epochs)}


def markdown(report: dict) -> str:
    held = report.get("holdout")
    n_held = next((r.get("n_holdout") for r in report["rows"] if r.get("n_holdout")), None)
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
    lines = [f"stm-tiny, {report['epochs']} epochs, seed {report['seed']}, on `{report['data']}` (test split); test "
             f"top-1 of the final checkpoint (end of the schedule) and of the best one (picked on the same test "
             f"clips: the dataset has no other validation split), 8x1 views; chance {100 * report['chance']:.1f} %."]
    if held:
        lines[0] += (f" Held-out: the final checkpoint on the {n_held} test clips of `{held}`, an independent "
                     f"synthetic set (other seed) with the same classes.")
    for r in report["rows"]:
        if r.get("reused_from"):
            lines[0] += (f" Row \"{r['label']}\" is taken from `{r['reused_from']}` (same recipe and seed, trained "
                         f"on `{r.get('data', '?')}`).")
    hcol = " held-out top-1 (%) |" if held else ""
    lines += ["", "| table | row | final top-1 (%) | final top-5 (%) |" + hcol + " best top-1 (%) | best epoch "
              "| train top-1 at end (%) |", "|---|---|---|---|" + ("---|" if held else "") + "---|---|---|"]
    for r in report["rows"]:
        h = f" {pct(r.get('top1_holdout'))} |" if held else ""
        lines.append(f"| {r['table']} | {r['label']} | {pct(r['top1_final'])} | {pct(r['top5_final'])} |{h} "
                     f"{pct(r['top1'])} | {r['best_epoch']} | {pct(r['train_top1_final'])} |")
    spread = report.get("seed_spread") or []
    if spread:
        seeds = sorted({s_ for r in spread for s_ in r["top1_final"]}, key=int)
        lines += ["", "The leading rows trained again with other seeds (only the seed changes); final top-1 (%) on "
                  "the test split" + (" / on the held-out set" if held else "") + ":", "",
                  "| row | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
                  "|---|" + "---|" * (len(seeds) + 1)]
        for r in spread:
            cells = []
            for s_ in seeds:
                c = pct(r["top1_final"].get(s_))
                if held:
                    c += " / " + pct(r.get("top1_holdout", {}).get(s_))
                cells.append(c)
            mean = pct(r["mean"]) + (" / " + pct(r.get("mean_holdout")) if held else "")
            if len(r["top1_final"]) < len(seeds):
                n = len(r["top1_final"])
                mean += f" ({n} seed{'s' if n != 1 else ''})"
            lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurocv._io import atomic_path

    rows = report["rows"]
    label_in = 0.075 * max(len(r["label"]) for r in rows)        # room for the row labels, left of the axes
    fig, ax = plt.subplots(figsize=(label_in + 7, 0.45 * len(rows) + 1.4))
    y = range(len(rows))
    colors = ["tab:blue" if r["table"].startswith("3") else "tab:orange" for r in rows]
    seeds = {r["id"]: r for r in report.get("seed_spread") or [] if len(r["top1_final"]) > 1}
    # a row trained with several seeds: the bar is their mean, each seed a dot
    ax.barh(list(y), [100 * (seeds[r["id"]]["mean"] if r["id"] in seeds else r["top1_final"]) for r in rows],
            color=colors)
    dots = [(i, 100 * v) for i, r in enumerate(rows) if r["id"] in seeds for v in seeds[r["id"]]["top1_final"].values()]
    if dots:
        ax.plot([v for _, v in dots], [i for i, _ in dots], "o", mfc="none", mec="k", ms=5, label="each seed")
    held = [(i, 100 * (seeds[r["id"]]["mean_holdout"] if r["id"] in seeds and "mean_holdout" in seeds[r["id"]]
                       else r["top1_holdout"]))
            for i, r in enumerate(rows) if r.get("top1_holdout") is not None]
    if held:
        ax.plot([v for _, v in held], [i for i, _ in held], "kD", ms=5, label="held-out set")
    ax.axvline(100 * report["chance"], color="k", ls="--", lw=1, label="chance")
    ax.set_yticks(list(y), [r["label"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("test top-1 of the final checkpoint (%" + ("; bar: mean of the seeds)" if seeds else ")"))
    ax.set_xlim(0, 100)
    tables = sorted({("Table 3" if r["table"].startswith("3") else "Table 4c") for r in rows})
    key = " (blue: Table 3, orange: Table 4c)" if len(tables) > 1 else f" ({tables[0]})"
    ax.set_title(f"stm-tiny ablations, {report['epochs']} epochs{key}", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
