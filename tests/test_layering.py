"""Which package stands on which: the import-linter contracts of pyproject.toml, import cycles (grimp), file lengths,
and a few imports checked in a fresh interpreter, so other tests' imports cannot hide a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "neurocv"
MAX_LINES = 500


def import_cycles(package: str = "neurocv") -> list[list[str]]:
    """The import cycles among ``package``'s modules: each strongly connected component of the graph of direct imports
    (function-level ones too) that holds more than one module, as a sorted list of module names."""
    import grimp

    graph = grimp.build_graph(package)
    succ = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in succ:                    # Tarjan's algorithm, iterative (no recursion limit on a deep chain)
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return sorted(cycles)


def long_files() -> dict[str, int]:
    """Every ``.py`` file under ``neurocv/`` longer than :data:`MAX_LINES` lines, with its length."""
    lengths = {str(f.relative_to(REPO)): len(f.read_text().splitlines()) for f in PACKAGE.rglob("*.py")}
    return {f: n for f, n in sorted(lengths.items()) if n > MAX_LINES}


def test_import_contracts_hold(capsys):
    """pyproject.toml's [tool.importlinter] contracts: the layers, hardware/ not importing exporters/, no torch under
    the Lava worker. On failure the report below names every import that breaks one."""
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "0 broken" in report, report


def test_the_cycle_check_finds_a_cycle():
    """The cycle finder itself, on a three-module circle and a self-contained tail."""
    import grimp

    graph = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c", "p.d"):
        graph.add_module(m)
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.d", "p.a")):
        graph.add_import(importer=a, imported=b)
    from unittest import mock

    with mock.patch("grimp.build_graph", return_value=graph):
        assert import_cycles("p") == [["p.a", "p.b", "p.c"]]


def test_no_import_cycle_at_all():
    cycles = import_cycles()
    assert not cycles, f"{len(cycles)} import cycle(s): {cycles}"


def test_no_file_over_500_lines():
    too_long = long_files()
    assert not too_long, f"split these (at most {MAX_LINES} lines a file): {too_long}"


def test_the_cli_app_registers_every_stage_command_once():
    """neurocv/cli/__init__.py assembles the app from the stage modules' COMMANDS: each command once, in the stages'
    order, and no stage module left out of STAGES (a new one would otherwise add no command)."""
    import pkgutil

    import neurocv.cli as cli

    stages = {m.name for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_")}
    assert {s.__name__.rsplit(".", 1)[1] for s in cli.STAGES} == stages
    names = [name for stage in cli.STAGES for name in stage.COMMANDS]
    assert len(names) == len(set(names)), names
    assert [c.name for c in cli.app.registered_commands] == names
    assert names[:2] == ["info", "extract"] and names[-1] == "energy"


def _modules_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint('\\n'.join(sorted(m for m in sys.modules if m.startswith('neurocv'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_export_energy_and_runtime_do_not_need_the_training_package():
    loaded = _modules_after("import neurocv.exporters.deploy, neurocv.energy.measure, neurocv.runtime, "
                            "neurocv.checkpoint")
    assert "neurocv.checkpoint" in loaded
    assert not {m for m in loaded if m.startswith("neurocv.training")}


def test_training_still_reexports_checkpoints():
    from neurocv import checkpoint
    from neurocv.training import build_model_from_checkpoint, load_checkpoint, save_checkpoint

    assert load_checkpoint is checkpoint.load_checkpoint and save_checkpoint is checkpoint.save_checkpoint
    assert build_model_from_checkpoint is checkpoint.build_model_from_checkpoint


def test_exporter_and_runtime_import_no_circle():
    """The exporter validates with the simulator adapters, not with the runtime; the runtime reads the format
    of the exporter's folder. One direction only."""
    loaded = _modules_after("import neurocv.exporters.deploy; neurocv.exporters.deploy._validate_spiking")
    assert "neurocv.runtime" not in loaded
    src = __import__("pathlib").Path(__import__("neurocv").__file__).parent
    for f in (src / "exporters").glob("*.py"):
        assert "from ..runtime" not in f.read_text() and "neurocv.runtime import" not in f.read_text(), f


def test_every_simulator_adapter_is_one_file_of_the_registry():
    from neurocv.hardware import sims

    names = list(sims.available())
    assert names[:6] == ["torch", "numpy", "lava-float", "lava-fixed", "netx-float", "netx-fixed"]
    assert {"norse", "snntorch", "nirtorch"} <= set(names)
    loaded = _modules_after("import neurocv.hardware.sims as s; s.available()")
    assert not {m for m in loaded if m.startswith("neurocv.training") or m == "neurocv.runtime"}


def test_spike_formats_keep_their_old_import_paths():
    """The spike formats live in neurocv/hardware/formats/; their old paths name the same modules, in a fresh
    interpreter whichever is imported first, and neither pulls in torch."""
    for first, second in (("neurocv.hardware.stm_spec", "neurocv.hardware.formats.stm_spec"),
                          ("neurocv.hardware.formats.netx_format", "neurocv.hardware.netx_format")):
        code = (f"import sys, importlib; a = importlib.import_module({first!r})"
                f"; b = importlib.import_module({second!r})"
                "; from neurocv.hardware.fixed_point import simulate_fixed_numpy as f"
                "; from neurocv.hardware.formats import fixed_point as g"
                "; print(a is b, f is g.simulate_fixed_numpy, 'torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["True", "True", "False"], (first, out)
    assert not (PACKAGE / "hardware" / "stm_spec.py").exists()
