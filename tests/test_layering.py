"""Which package stands on which: checked in a fresh interpreter, so other tests' imports cannot hide a cycle."""

from __future__ import annotations

import subprocess
import sys


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
