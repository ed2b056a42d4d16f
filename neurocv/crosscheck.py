"""``neurocv crosscheck``: the same STM files in every simulator that can load them, against the torch model.

For a deployment folder and some videos, every registered simulator (:mod:`neurocv.hardware.sims`: the STMs in
torch from NIR, the numpy reference, Lava floating_pt and fixed_pt, lava-dl netx floating_pt and fixed_pt, norse,
snnTorch, nirtorch) runs each STM on each video's clip; the reference is the torch model itself
(``reference.safetensors``), stepped layer by layer. Per simulator and STM layer it reports whether it loaded (or
the one-line reason it could not), the spike counts (summed over the videos) and whether they equal the model's on
every video, and the largest membrane difference where the simulator exposes the membrane (every layer for the
in-process simulators; the readout alone for Lava and netx, when the readout is a membrane). The simulator's STM
outputs then go through the ANN partition (onnxruntime): top-1 per video, and how many agree with the model's.

This is the NIR paper's cross-simulator table for our model. ``crosscheck(...)`` returns one JSON-able object
(``"simulators"``: one row per simulator).

``float64=True`` (``--float64``) runs the reference and every simulator that can (torch, numpy, norse, snnTorch,
nirtorch) in float64 from the same float32 parameters; Lava and netx keep their own arithmetic. In float32, two
libraries that sum the same three terms in another order (norse computes ``v + dt/tau (I - v)``, the model
``lambda v + I``) round differently, and a membrane within that rounding of the threshold can flip a spike; in
float64 that rounding is 2**-53 instead of 2**-24, so the comparison shows whether the files mean the same neuron.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .dynamics.kinds import MEMBRANE_READOUTS
from .errors import NeuroCVError

__all__ = ["crosscheck", "reference_traces", "SCHEMA"]

SCHEMA = "neurocv.crosscheck/1"


def reference_traces(stm, x: np.ndarray) -> dict:
    """The torch model's STM stepped on one padded clip ``(T, C, H, W)`` in the STM's dtype: output and per-layer
    spikes / membranes."""
    import torch

    dtype = next(stm.parameters()).dtype
    mems, spikes, out = [[] for _ in stm.layers], [[] for _ in stm.layers], []
    state = None
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = stm.step(torch.from_numpy(x[t])[None].to(dtype), state)
            out.append(y[0].numpy())
            for k, s in enumerate(state):
                v = s.u if hasattr(s, "u") else s.v
                mems[k].append(v[0].numpy())
                spikes[k].append(s.o[0].numpy() if hasattr(s, "o") else np.zeros_like(v[0].numpy()))
    return {"output": np.stack(out), "membranes": [np.stack(m) for m in mems],
            "spikes": [np.stack(s) for s in spikes]}


def _one_line(e: BaseException) -> str:
    msg = (str(e).strip().splitlines() or [""])[0]
    return (msg if isinstance(e, NeuroCVError) else f"{type(e).__name__}: {msg}")[:300]


def crosscheck(deploy: str | Path, videos: list, simulators: list[str] | None = None,
               python: str | Path | None = None, progress=None, float64: bool = False) -> dict:
    """Run ``videos`` through every simulator (or those named) on the deployment ``deploy``; see the module
    docstring (``float64``: the reference and the simulators that can, in float64). ``progress(message)`` is called as each simulator starts (stderr in the CLI). Raises
    :class:`~neurocv.errors.DeploymentError` for an unusable folder and :class:`~neurocv.errors.VideoDecodeError`
    for an unreadable video; a simulator that fails is a row with its reason, never an exception."""
    import torch

    from .exporters.partition import ANN_INPUTS
    from .hardware.sims import ALIASES, available, open_simulator
    from .runtime import Deployment, RuntimeSession

    dep = Deployment.load(deploy)
    model = dep.reference_model()
    names = list(available()) if not simulators else [ALIASES.get(s, s) for s in simulators]
    infos = available()
    unknown = [n for n in names if n not in infos]
    if unknown:
        raise ValueError(f"unknown simulator(s) {', '.join(unknown)}; choose from {', '.join(infos)}")
    stms = {m: model.temporal[m] for m in dep.spiking}
    if float64:      # neuron parameters stay the float32 values the files hold (models.neuron evaluates them so)
        import copy

        stms = {m: copy.deepcopy(s).double() for m, s in stms.items()}
    reader = RuntimeSession(dep, "numpy")
    clips, refs, ref_top1 = [], [], []
    for v in videos:
        clip = reader.read(v)
        padded = {m: reader._pad(clip[m]) for m in dep.spiking}
        clips.append((clip, padded))
        refs.append({m: reference_traces(stms[m], padded[m]) for m in dep.spiking})
        with torch.no_grad():
            logits = model(*(torch.from_numpy(clip[k])[None] for k in ("i", "mv", "r")))[0].numpy()
        ref_top1.append(dep.classes[int(np.argmax(logits))])
    specs = dep.specs
    rows = []
    for name in names:
        if progress:
            progress(f"crosscheck: {name}")
        row = {"simulator": name, "description": infos[name].description, "loaded": False, "reason": "",
               "layers": [], "top1": [], "same_top1": 0, "n_videos": len(videos), "seconds": 0.0,
               "precision": "float64" if float64 and infos[name].float64 else
               ("float32" if infos[name].float64 else "its own")}
        t0 = time.perf_counter()
        sim = None
        try:
            worker = infos[name].worker      # runs in .venv-lava
            opts = {"python": python} if python and worker else {}
            if infos[name].trace:
                opts["trace"] = True
            if float64 and infos[name].float64:
                opts["float64"] = True
            sim = open_simulator(name, dep.stm_files(), **opts)
            row["loaded"] = True
            per_layer = {}
            for (clip, padded), ref in zip(clips, refs):
                maps = {}
                for m in dep.spiking:
                    run = sim.run(m, padded[m])
                    maps[m] = run.output.astype(np.float32, copy=False)     # the ANN partition reads float32
                    for k, spec_layer in enumerate(specs[m].layers):
                        key = (m, k)
                        entry = per_layer.setdefault(key, {"stm": m, "layer": spec_layer.name, "spikes": 0.0,
                                                           "torch_spikes": 0.0, "spikes_equal": True,
                                                           "max_membrane_diff": None})
                        got = float(run.counts["layers"][k]["spikes"])
                        want = float(ref[m]["spikes"][k].sum())
                        entry["spikes"] += got
                        entry["torch_spikes"] += want
                        entry["spikes_equal"] &= got == want
                        mem = run.membranes[k] if k < len(run.membranes) else None
                        last = k == len(specs[m].layers) - 1
                        if mem is None and last and specs[m].readout in MEMBRANE_READOUTS:
                            mem = run.output
                        if mem is not None:     # float64 membranes against the float64 reference (--float64)
                            d = float(np.abs(np.asarray(mem, np.float64) - ref[m]["membranes"][k]).max())
                            entry["max_membrane_diff"] = max(d, entry["max_membrane_diff"] or 0.0)
                feeds = {ANN_INPUTS[m]: (clip["i"] if m == "i" else maps[m])[None] for m in dep.modalities}
                logits = dep.ann.run(feeds)["logits"][0]
                row["top1"].append(dep.classes[int(np.argmax(logits))])
            row["layers"] = [per_layer[k] for k in sorted(per_layer, key=lambda mk: (list(dep.spiking).index(mk[0]),
                                                                                     mk[1]))]
            row["same_top1"] = sum(a == b for a, b in zip(row["top1"], ref_top1))
        except Exception as e:  # noqa: BLE001  (any simulator failure is a row with its reason)
            row["reason"] = _one_line(e)
            if row["loaded"]:
                row["reason"] = f"loaded, but running failed: {row['reason']}"
                row["loaded"] = False
            row["layers"], row["top1"] = [], []
        finally:
            if sim is not None:
                try:
                    sim.close()
                except Exception:  # noqa: BLE001  (a dead worker's close must not hide the row)
                    pass
        row["seconds"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
    return {"schema": SCHEMA, "deployment": str(deploy), "model": dep.manifest["model"]["name"],
            "neuron": {m: s.neuron for m, s in specs.items()}, "readout": {m: s.readout for m, s in specs.items()},
            "videos": [str(v) for v in videos],
            "reference": "torch model (reference.safetensors)" + (", STMs in float64" if float64 else ""),
            "precision": "float64" if float64 else "float32",
            "torch_top1": ref_top1, "simulators": rows}

