"""The energy report: per-layer operations and energy, totals per view and per video, in the paper's Table 1 terms.

Energy of a layer for one video, on a hardware profile (pJ -> J)::

    E = views * (MACs * mac_pj + ACs * ac_pj + neuron_updates * neuron_update_pj) * 1e-12

``views`` = the views of that layer per video (``segments x crops`` for per-frame baselines, ``crops`` for our
clip models, which take all T segments in one pass). The optional memory term - every operand a counted op reads
and every result it writes, once, as 64-bit SRAM accesses (spikes as bits) - is its own column (``memory_j``),
never part of ``energy_j`` (the paper leaves it out). Table 1 columns: Params (M), TFLOPs_ANN (MACs, 1e12),
GFLOPs_Spike (ACs, 1e9), E_Total (J).

Every layer carries two counts (see :mod:`.counter`): dense (``macs``, ``acs``: the paper's convention, zero inputs
and padding included) and effective (``effective_macs``, ``effective_acs``: zero operands skipped, padding not
counted, NeuroBench's definition). ``count`` (``dense`` by default, Table 1's convention) chooses which prices
``energy_j`` and the Table 1 columns; both are always in the layers, totals, JSON, CSV and Markdown.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from .counter import LayerCount
from .profiles import HardwareProfile

__all__ = ["EnergyReport", "REPORT_SCHEMA"]

REPORT_SCHEMA = "neurocv.energy/1"
_SUMS = ("macs", "acs", "dense_macs", "spikes", "neuron_updates")
_CSV_COLS = ("name", "partition", "kind", "input", "params", "views", "macs", "acs", "effective_macs",
             "effective_acs", "spikes", "firing_rate", "neuron_updates", "energy_j", "memory_j")
_EFFECTIVE = ("effective_macs", "effective_acs")
COUNTS = ("dense", "effective")


def _fmt_m(v) -> str:
    return "-" if v is None else f"{v / 1e6:,.2f}"


def energy_unit(joules: float) -> tuple[str, float]:
    """The unit a figure shows ``joules`` in (J, mJ, uJ or nJ: the largest that keeps the value >= 1) and its
    factor from joules."""
    return next(((u, f) for u, f in (("J", 1.0), ("mJ", 1e3), ("uJ", 1e6)) if joules * f >= 1), ("nJ", 1e9))


@dataclass
class EnergyReport:
    """Layers hold per-view counts and their ``views`` per video; everything derived is computed here."""

    model: str
    source: str
    profile: HardwareProfile
    layers: list[LayerCount]
    params: int | None
    segments: int
    crops: int
    views: int
    input_size: tuple[int, int] | None
    inputs: str
    notes: list[str] = field(default_factory=list)
    n_videos: int = 0
    paper: dict | None = None
    speed: dict = field(default_factory=lambda: {"torch_cpu_videos_per_s": None, "onnxruntime_videos_per_s": None})
    count: str = "dense"                  # which counts price energy_j: "dense" (Table 1) | "effective"
    int8_profile: HardwareProfile | None = None   # prices the layers with precision "int8" (an int8 deployment)
    float_ops: list[str] = field(default_factory=list)   # ONNX op types an int8 deployment kept float (no MACs)

    def __post_init__(self):
        from ..errors import ConfigError

        if self.count not in COUNTS:
            raise ConfigError(f"--count must be one of {', '.join(COUNTS)}, got {self.count!r}")
        if self.count == "effective" and not self.has_effective:
            raise ConfigError(f"{self.model}: no effective op counts here ({self.source}: they need a real forward "
                              f"pass of one of our models); use --count dense")

    @property
    def has_effective(self) -> bool:
        return bool(self.layers) and all(c.effective_macs is not None for c in self.layers)

    def _ops(self, c: LayerCount) -> tuple[float, float]:
        """``(MACs, ACs)`` of one view of ``c`` in the chosen convention."""
        if self.count == "effective":
            return c.effective_macs, c.effective_acs
        return c.macs, c.acs

    @property
    def count_note(self) -> str:
        if self.count == "effective":
            return ("E_Total priced on effective counts (zero inputs skipped, padding not counted; NeuroBench's "
                    "Effective_MACs / Effective_ACs); Table 1 of the paper uses dense counts (--count dense)")
        return ("E_Total priced on dense counts (Table 1's convention: zero inputs and padding counted); "
                "--count effective prices the effective counts (zero inputs skipped, as event-driven hardware)")

    # -- energy -----------------------------------------------------------------------------------------------
    @property
    def has_int8(self) -> bool:
        return self.int8_profile is not None and any(c.precision == "int8" for c in self.layers)

    def layer_energy_j(self, c: LayerCount, per_video: bool = True, precision: str | None = None) -> float:
        """Energy of ``c`` on its own precision's profile (``precision="float"``: as if the whole model stayed
        float, the side-by-side figure of an int8 deployment)."""
        int8 = (precision or c.precision) == "int8" and self.int8_profile is not None
        p = self.int8_profile if int8 else self.profile
        macs, acs = self._ops(c)
        e = (macs * p.mac_pj + acs * p.ac_pj + c.neuron_updates * p.neuron_update_pj) * 1e-12
        return e * c.views if per_video else e

    def layer_memory_j(self, c: LayerCount, per_video: bool = True) -> float | None:
        p = self.profile
        if p.sram_read_pj_per_64bit is None:
            return None
        words = (c.mem_values * p.bytes_per_value + c.mem_spikes / 8) / 8
        e = words * p.sram_read_pj_per_64bit * 1e-12
        return e * c.views if per_video else e

    def layer_rows(self) -> list[dict]:
        """One dict per layer, counts per video (per-view counts x views)."""
        rows = []
        for c in self.layers:
            d = c.to_dict()
            for k in _SUMS + ("mem_values", "mem_spikes"):
                d[k] = getattr(c, k) * c.views
            for k in _EFFECTIVE:
                d[k] = None if getattr(c, k) is None else getattr(c, k) * c.views
            d["energy_j"] = self.layer_energy_j(c)
            d["memory_j"] = self.layer_memory_j(c)
            if self.has_int8:
                d["energy_float_j"] = self.layer_energy_j(c, precision="float")
            rows.append(d)
        return rows

    def totals(self, per_video: bool = True) -> dict:
        """Sums over layers: per video (every layer x its views) or per view (one view of each stream)."""
        k = (lambda c: c.views) if per_video else (lambda c: 1.0)
        t = {s: sum(getattr(c, s) * k(c) for c in self.layers) for s in _SUMS}
        for s in _EFFECTIVE:
            t[s] = sum(getattr(c, s) * k(c) for c in self.layers) if self.has_effective else None
        t["params"] = self.params
        t["energy_j"] = sum(self.layer_energy_j(c, per_video) for c in self.layers)
        if self.has_int8:
            t["energy_float_j"] = sum(self.layer_energy_j(c, per_video, "float") for c in self.layers)
        mem = [self.layer_memory_j(c, per_video) for c in self.layers]
        t["memory_j"] = None if any(m is None for m in mem) else sum(mem)
        spiking = [c for c in self.layers if c.partition == "spiking"]
        t["spiking_macs"] = sum(c.macs * k(c) for c in spiking)
        t["spiking_dense_macs"] = sum(c.dense_macs * k(c) for c in spiking)
        t["ann_macs"] = t["macs"] - t["spiking_macs"]
        t["firing_rate"] = t["spikes"] / t["neuron_updates"] if t["neuron_updates"] else None
        return t

    def table1(self) -> dict:
        """The paper's Table 1 columns for one video."""
        t = self.totals()
        macs, acs = (t["effective_macs"], t["effective_acs"]) if self.count == "effective" else (t["macs"], t["acs"])
        return {"views": f"{self.segments}x{self.crops}",
                "params_m": None if self.params is None else self.params / 1e6,
                "tflops_ann": macs / 1e12, "gflops_spike": acs / 1e9, "energy_j": t["energy_j"], "count": self.count}

    # -- outputs ----------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        total = self.totals()
        total["views"] = self.views
        return {"schema": REPORT_SCHEMA, "model": self.model, "source": self.source,
                "hardware": self.profile.to_dict(),
                "protocol": {"segments": self.segments, "crops": self.crops, "views": self.views,
                             "input_size": list(self.input_size) if self.input_size else None},
                "inputs": self.inputs, "n_videos": self.n_videos, "notes": [n for n in self.notes if n],
                "count": self.count, "count_note": self.count_note,
                "layers": self.layer_rows(), "per_view": self.totals(per_video=False), "total": total,
                "table1": self.table1(), "paper": self.paper, "speed": self.speed,
                **({"int8": self.int8_summary()} if self.has_int8 else {})}

    def int8_summary(self) -> dict:
        """An int8 deployment against the same model all float: joules per video, and which layers stayed float."""
        t = self.totals()
        return {"profile": self.int8_profile.name, "float_profile": self.profile.name,
                "energy_j": t["energy_j"], "energy_float_j": t["energy_float_j"],
                "ratio": t["energy_float_j"] / t["energy_j"] if t["energy_j"] else None,
                "int8_layers": [c.name for c in self.layers if c.precision == "int8"],
                "float_layers": [c.name for c in self.layers if c.precision != "int8"]}

    def int8_lines(self) -> list[str]:
        """The side-by-side figures of an int8 deployment and what stayed float, as sentences."""
        if not self.has_int8:
            return []
        s = self.int8_summary()
        unit, k = energy_unit(s["energy_float_j"])
        spiking = [c.name for c in self.layers if c.partition == "spiking"]
        ann_float = [c.name for c in self.layers if c.partition == "ann" and c.precision != "int8"]
        lines = [f"int8 deployment: {s['energy_j'] * k:.4g} {unit} per video against {s['energy_float_j'] * k:.4g} "
                 f"{unit} all float ({s['ratio']:.1f}x less); {len(s['int8_layers'])} ANN layer(s) priced on "
                 f"{s['profile']}, the rest on {s['float_profile']}"]
        lines.append(f"stayed float: the {len(spiking)} STM layer(s) ({', '.join(spiking)})"
                     + (f"; ANN layers {', '.join(ann_float)}" if ann_float else "")
                     + (f"; float ONNX ops without MACs: {', '.join(self.float_ops)}" if self.float_ops else ""))
        return lines

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=_CSV_COLS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in self.layer_rows():
            w.writerow(r)
        t = self.totals()
        w.writerow({"name": "TOTAL (per video)", "params": self.params, "views": self.views,
                    **{k: t[k] for k in ("macs", "acs", *_EFFECTIVE, "spikes", "neuron_updates", "energy_j",
                                         "memory_j")},
                    "firing_rate": t["firing_rate"]})
        return buf.getvalue()

    def _table1_rows(self) -> list[tuple[str, ...]]:
        def f(v, fmt):
            return "-" if v is None else format(v, fmt)

        ours = self.table1()
        rows = [(f"this report ({self.count})", ours["views"], f(ours["params_m"], ".2f"), f(ours["tflops_ann"], ".4f"),
                 f(ours["gflops_spike"], ".3f"), f(ours["energy_j"], ".4f"))]
        if self.paper:
            p = self.paper
            rows.append(("paper, Table 1", p.get("views", "-"), f(p.get("params_m"), ".2f"),
                         f(p.get("tflops_ann"), ".2f"), f(p.get("gflops_spike"), ".2f"), f(p.get("energy_j"), ".3f")))
        return rows

    def to_markdown(self, max_layers: int | None = None) -> str:
        head = ("| layer | part | input | params | MACs (M) | ACs (M) | eff. MACs (M) | eff. ACs (M) | spikes | rate "
                "| E (mJ) |")
        show_mem = self.profile.sram_read_pj_per_64bit is not None
        lines = [f"**{self.model}** on `{self.profile.name}` - {self.segments} segments x {self.crops} crops "
                 f"({self.views} view(s)); inputs: {self.inputs}", "",
                 head + (" memory (mJ) |" if show_mem else ""),
                 "|" + "---|" * (11 + show_mem)]
        rows = self.layer_rows()
        for r in rows[:max_layers] if max_layers else rows:
            fr = r["firing_rate"]
            line = (f"| {r['name']} | {r['partition']} | {r['input']} | {r['params']:,} | {r['macs'] / 1e6:,.1f} | "
                    f"{r['acs'] / 1e6:,.2f} | {_fmt_m(r['effective_macs'])} | {_fmt_m(r['effective_acs'])} | "
                    f"{r['spikes']:,.0f} | {'-' if fr is None else f'{fr:.3f}'} | "
                    f"{r['energy_j'] * 1e3:.3f} |")
            lines.append(line + (f" {r['memory_j'] * 1e3:.3f} |" if show_mem else ""))
        if max_layers and len(rows) > max_layers:
            lines.append(f"| ... {len(rows) - max_layers} more layers" + " |" * (11 + show_mem))
        lines += ["", "| | views | Params (M) | TFLOPs_ANN | GFLOPs_Spike | E_Total (J) |", "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in self._table1_rows()]
        lines.append(f"\n{self.count_note}.")
        lines += [f"\n{line}." for line in self.int8_lines()]
        t = self.totals()
        if t["memory_j"] is not None:
            lines.append(f"\nMemory term (not in E_Total): {t['memory_j']:.4f} J per video.")
        return "\n".join(lines) + "\n"

    def render(self, console, memory: bool = False) -> None:
        """A rich table per layer, then the totals per view / per video and the Table 1 comparison."""
        from rich.table import Table

        table = Table(title=f"{self.model} - {self.profile.name} - {self.segments}x{self.crops} "
                            f"({self.views} view(s) per video)", title_justify="left")
        cols = ["layer", "part", "input", "params", "views", "MACs (M)", "ACs (M)", "eff. MACs (M)", "eff. ACs (M)",
                "spikes", "rate", "E (mJ)"]
        int8 = self.has_int8
        if int8:
            cols[1:2] = ["part", "prec."]
            cols.append("E float (mJ)")
        if memory:
            cols.append("memory (mJ)")
        for c in cols:
            table.add_column(c, justify="left" if c in ("layer", "part", "input") else "right")
        for r in self.layer_rows():
            fr = r["firing_rate"]
            cells = [r["name"], r["partition"], r["input"], f"{r['params']:,}", f"{r['views']:g}",
                     f"{r['macs'] / 1e6:,.1f}", f"{r['acs'] / 1e6:,.2f}", _fmt_m(r["effective_macs"]),
                     _fmt_m(r["effective_acs"]), f"{r['spikes']:,.0f}",
                     "-" if fr is None else f"{fr:.3f}", f"{r['energy_j'] * 1e3:.3f}"]
            if int8:
                cells.insert(2, r["precision"])
                cells.append(f"{r['energy_float_j'] * 1e3:.3f}")
            if memory:
                cells.append("-" if r["memory_j"] is None else f"{r['memory_j'] * 1e3:.3f}")
            table.add_row(*cells)
        console.print(table)
        summary = Table(title="totals", title_justify="left")
        for c in ("", "MACs (G)", "ACs (G)", "eff. MACs (G)", "eff. ACs (G)", "spikes", "E (J)") + (
                ("memory (J)",) if memory else ()):
            summary.add_column(c, justify="right")
        for label, t in (("per view", self.totals(False)), ("per video", self.totals(True))):
            eff = ["-", "-"] if t["effective_macs"] is None else [f"{t['effective_macs'] / 1e9:.3f}",
                                                                  f"{t['effective_acs'] / 1e9:.4f}"]
            cells = [label, f"{t['macs'] / 1e9:.3f}", f"{t['acs'] / 1e9:.4f}", *eff, f"{t['spikes']:,.0f}",
                     f"{t['energy_j']:.4f}"]
            if memory:
                cells.append("-" if t["memory_j"] is None else f"{t['memory_j']:.4f}")
            summary.add_row(*cells)
        console.print(summary)
        t1 = Table(title="Table 1 columns (per video)", title_justify="left")
        for c in ("", "views", "Params (M)", "TFLOPs_ANN", "GFLOPs_Spike", "E_Total (J)"):
            t1.add_column(c, justify="right")
        for row in self._table1_rows():
            t1.add_row(*row)
        console.print(t1)
        for line in self.int8_lines():
            console.print(line, soft_wrap=True, highlight=False)
        for note in [self.count_note, f"inputs: {self.inputs}", *self.notes,
                     *(f"source: {s}" for s in self.profile.sources),
                     *(f"source ({self.int8_profile.name}): {s}"
                       for s in (self.int8_profile.sources if self.has_int8 else ()))]:
            if note:
                console.print(f"[dim]{note}[/]", soft_wrap=True, highlight=False)

    def plot(self, path, top: int = 12) -> dict:
        """The ANN / spiking split of the energy per video first (one bar each, with their share), then the
        ``top`` largest layers of each partition on their own axes (the rest of a partition summed in one grey
        bar), so that the spiking layers stay visible next to an ANN hundreds of times larger. One unit (J, mJ or
        uJ, from the total) on every axis and in the title. Written atomically as PNG (matplotlib, Agg).
        Returns what was drawn: ``{"unit", "title", "split": {partition: joules}, "panels": {partition: labels}}``."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .._io import atomic_path

        rows = self.layer_rows()
        t = self.totals()
        total = t["energy_j"]
        unit, scale = energy_unit(max(total, t.get("energy_float_j") or 0.0))
        colour = {"ann": "tab:blue", "spiking": "tab:orange"}
        parts = [p for p in ("ann", "spiking") if any(r["partition"] == p for r in rows)]
        sums = {p: sum(r["energy_j"] for r in rows if r["partition"] == p) for p in parts}

        def top_rows(part):
            mine = [r for r in rows if r["partition"] == part]
            if part == "ann":   # the same layer of every block as one bar ("encoder.blocks.*.mlp.0 (x12)")
                groups: dict[str, list] = {}
                for r in mine:
                    groups.setdefault(re.sub(r"\.\d+(?=\.|$)", ".*", r["name"]), []).append(r)
                mine = [{"name": k if len(g) == 1 else f"{k} (x{len(g)})", "energy_j": sum(r["energy_j"] for r in g)}
                        for k, g in groups.items()]
            mine = sorted(mine, key=lambda r: r["energy_j"], reverse=True)
            labels = [r["name"] for r in mine[:top]]
            values = [r["energy_j"] * scale for r in mine[:top]]
            colours = [colour[part]] * len(labels)
            if len(mine) > top:
                labels.append(f"{len(mine) - top} other {'ANN layer groups' if part == 'ann' else 'spiking layers'}")
                values.append(sum(r["energy_j"] for r in mine[top:]) * scale)
                colours.append("tab:gray")
            return labels, values, colours

        panels = [top_rows(p) for p in parts]
        height = max(len(lb) for lb, _, _ in panels) if panels else 1
        n_bars = len(parts) * (2 if self.has_int8 else 1)
        fig = plt.figure(figsize=(11, 1.9 + 0.26 * height + 0.4 * n_bars))
        grid = fig.add_gridspec(2, max(1, len(parts)), height_ratios=[0.35 * n_bars + 0.3, 0.26 * height + 0.4])
        ax = fig.add_subplot(grid[0, :])
        names = {"ann": "ANN (MACs)", "spiking": "spiking STMs (ACs, MACs)"}
        bars = [(names[p], sums[p], colour[p], 1.0, total) for p in parts]
        if self.has_int8:    # the same model all float beside the int8 deployment, partition by partition
            t_float = t["energy_float_j"]
            floats = {p: sum(r["energy_float_j"] for r in rows if r["partition"] == p) for p in parts}
            bars = [b for p in parts for b in (
                (f"{names[p]}, int8 deployment", sums[p], colour[p], 1.0, total),
                (f"{names[p]}, all float", floats[p], colour[p], 0.35, t_float))]
        ys = range(len(bars))[::-1]
        for y, (label, value, col, alpha, whole) in zip(ys, bars):
            ax.barh(y, value * scale, color=col, alpha=alpha)
            ax.text(value * scale, y, f" {value * scale:.3g} {unit} ({100 * value / whole if whole else 0:.1f} %)",
                    va="center", fontsize=8)
        ax.set_yticks(ys, [b[0] for b in bars], fontsize=8)
        ax.set_xlim(0, max((b[1] for b in bars), default=0) * scale * 1.35 or 1)
        ax.set_xlabel(f"energy per video ({unit})", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        title = (f"{self.model}: {total * scale:.3g} {unit}/video on {self.profile.name} ({self.segments}x"
                 f"{self.crops} views; {t['macs'] / 1e9:.3g} G MACs, {t['acs'] / 1e9:.3g} G ACs)")
        if self.has_int8:
            title = (f"{self.model}: int8 deployment {total * scale:.3g} {unit}/video ({self.int8_profile.name} + "
                     f"{self.profile.name}) vs all float {t['energy_float_j'] * scale:.3g} {unit}")
        ax.set_title(title, fontsize=9)
        for k, (p, (labels, values, colours)) in enumerate(zip(parts, panels)):
            a = fig.add_subplot(grid[1, k])
            a.barh(range(len(labels))[::-1], values, color=colours)
            a.set_yticks(range(len(labels))[::-1], labels, fontsize=6.5)
            a.set_xlabel(f"energy per video ({unit})", fontsize=8)
            a.set_title({"ann": "largest ANN layers (the same layer of every block summed: x blocks)",
                         "spiking": "spiking (STM) layers"}[p], fontsize=8)
            a.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        return {"unit": unit, "title": title, "split": sums,
                "panels": {p: labels for p, (labels, _, _) in zip(parts, panels)}}
