"""Check a portable STM NIR file (``neuron="lif"``, :func:`~.nir_export.lif_spec_to_nir`) in the SNN libraries that
import NIR: their spikes against the numpy reference of the model it came from. How each library loads and runs the
file (norse, snnTorch, nirtorch; which ``dt`` each assumes) is :mod:`neurocv.hardware.nir_libraries`, re-exported
here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..dynamics.kinds import get_kind
from ..errors import ExportError
from ..hardware.nir_libraries import LIBRARIES, LibraryRun, library_adapter, load_library, run_library
from ..hardware.sims._nirtorch_nodes import NIRLIF, NIRScale, NIRThreshold
from ..hardware.sims.nirtorch_sim import nirtorch_node_map
from ..hardware.formats.stm_spec import STMSpec, simulate_numpy

__all__ = ["LIBRARIES", "LibraryRun", "nirtorch_node_map", "load_library", "run_library", "compare_with_reference",
           "check_libraries", "NIRLIF", "NIRThreshold", "NIRScale"]


def compare_with_reference(run: LibraryRun, reference: dict, spec: STMSpec) -> dict:
    """One row: ``library``, ``loaded``, ``reason``; per layer the spike counts (library, reference), spikes that
    differ and the largest membrane difference; ``spikes_equal`` over all layers."""
    row = {"library": run.library, "loaded": run.loaded, "reason": run.reason, "layers": []}
    if not run.loaded:
        row["spikes_equal"] = False
        return row
    equal = True
    for k, layer in enumerate(spec.layers):
        ref_o, ref_v = reference["spikes"][k], reference["membrane"][k]
        if not get_kind(layer.neuron).fires:
            o = np.zeros_like(ref_o)
        else:
            o = run.spikes[k]
        diff = int((o != ref_o).sum())
        equal &= diff == 0
        row["layers"].append({"name": layer.name, "spikes": float(o.sum()), "spikes_reference": float(ref_o.sum()),
                              "spikes_differing": diff,
                              "max_membrane_diff": float(np.abs(run.membrane[k] - ref_v).max())})
    row["spikes_equal"] = bool(equal)
    return row


def check_libraries(nir_path: str | Path, spec: STMSpec, x: np.ndarray, libraries=LIBRARIES,
                    require: bool = False, float64: bool = True) -> list[dict]:
    """Run ``nir_path`` in each library on ``x (T, C, H, W)`` and compare every layer's spikes with
    :func:`~neurocv.hardware.formats.stm_spec.simulate_numpy` of ``spec`` (the model's own STM, not the file).

    ``float64`` (default) runs the libraries and the reference in float64 from the same float32 parameters, so the
    check asks whether the file means the model's neuron, not whether two float32 sums taken in another order round
    alike (norse's ``v + dt/tau (I - v)`` against ``lambda v + I``; see ``neurocv crosscheck --float64``).

    ``require=True`` raises :class:`ExportError` naming the file when an installed library that should read it
    (its adapter maps every NIR neuron node of the file: norse and snnTorch need the ``"spikes"`` readout, nirtorch
    reads both) cannot load or run it, or gives
    different spikes. A library that is not installed gets a row saying so (the test suite has all three).
    """
    reference: dict = {}
    simulate_numpy(spec, x, trace=reference, dtype=np.float64 if float64 else np.float32)
    rows = []
    problems = []
    for lib in libraries:
        run = run_library(lib, nir_path, spec, x, dtype=torch.float64 if float64 else torch.float32)
        row = compare_with_reference(run, reference, spec)
        row["precision"] = "float64" if float64 else "float32"
        rows.append(row)
        expected = run.installed and library_adapter(lib).reads(spec)
        if require and expected and not row["spikes_equal"]:
            if not row["loaded"]:
                problems.append(f"{lib}: {row['reason']}")
            else:
                worst = max(row["layers"], key=lambda r: r["spikes_differing"])
                problems.append(f"{lib}: {worst['spikes_differing']} spikes differ in {worst['name']} (largest "
                                f"membrane difference {worst['max_membrane_diff']:.3g})")
    if problems:
        raise ExportError(f"{nir_path}: the portable NIR file does not reproduce the model's spikes: "
                          + "; ".join(problems))
    return rows
