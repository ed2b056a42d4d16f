"""The stitched runtime: a deployment folder (see :mod:`neurocv.exporters.deploy`) runs videos as

    reader (test transform of ``neurocv eval``: ``segments`` centre P-frames, centre crop, normalisation)
      -> spiking backend: each STM on its modality's clip ``(T, C, H_pad, W_pad)`` -> its output ``(T, C', H', W')``
         (membrane, or spikes for a LIF model), through a simulator adapter of :mod:`neurocv.hardware.sims`:
         ``lava-float`` / ``lava-fixed``: Lava processes in the ``.venv-lava`` worker
         ``netx`` (= ``netx-fixed``) / ``netx-float``: the lava-dl netx files in Lava (LIF models)
         ``torch`` / ``numpy``: the STMs from the NIR files with the model's step functions / the numpy reference
      -> onnxruntime on the ANN partition -> logits -> top-5 classes

>>> dep = Deployment.load("deploy/")
>>> with dep.session("lava-float", check=True) as s:
...     result = s.run_video("clip.mp4")      # {"video", "top1", "top5", "timing_s", "torch_top1", "max_abs_diff"}
...     ops = s.ops_report()                  # the ops JSON (schema neurocv.ops/1) that `neurocv energy` reads

``Deployment.load(path, ann="int8")`` runs the int8 ANN partition (``ann.int8.onnx``) instead of the float one.
``check=True`` also runs the whole torch model (weights from ``reference.safetensors``) and reports each stage's
largest absolute difference: ``stm_mv`` / ``stm_r`` (membrane maps), ``ann`` (onnxruntime vs torch on the torch
maps) and ``logits`` (the whole pipeline vs torch).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .errors import DeploymentError, NeuroCVError

__all__ = ["BACKENDS", "ANN_PRECISIONS", "Deployment", "RuntimeSession", "OPS_SCHEMA"]


def _backends() -> tuple[str, ...]:
    """The registry's runtime backends (:attr:`~neurocv.hardware.sims.SimInfo.backend`) as users see them listed:
    those that run in the ``.venv-lava`` worker (what a chip runs) first, then the in-process ones, each group in the
    registry's order; an alias (``netx``) just before the first name of its family (``netx-float``)."""
    from .hardware.sims import ALIASES, available

    infos = [i for i in available().values() if i.backend]
    out: list[str] = []
    for name in [i.name for i in infos if i.worker] + [i.name for i in infos if not i.worker]:
        family = name.split("-")[0]
        out += [a for a, target in ALIASES.items() if a not in out and target.split("-")[0] == family]
        out.append(name)
    return tuple(out)


def _is_worker(backend: str) -> bool:
    """Whether ``backend`` (a name of :data:`BACKENDS`) runs in a ``.venv-lava`` worker process."""
    from .hardware.sims import ALIASES, available

    return available()[ALIASES.get(backend, backend)].worker


#: the runtime's spiking backends: the simulator adapters (neurocv/hardware/sims/) marked as backends, and aliases
BACKENDS = _backends()
#: the ANN partitions a deployment may hold: float32 ``ann.onnx`` and, from ``export --int8``, ``ann.int8.onnx``
ANN_PRECISIONS = ("float", "int8")
OPS_SCHEMA = "neurocv.ops/1"
_STAGE = {"mv": "stm_mv", "r": "stm_r"}


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("+")[0].split(".")[:2] if p.isdigit())


def _verify_file(f: Path, info: dict, hash_it: bool = True) -> None:
    """``f`` exists with the manifest's size (and, with ``hash_it``, its sha256); else :class:`DeploymentError`."""
    from .exporters.deploy import sha256

    if not f.is_file():
        raise DeploymentError(f"{f}: listed in the manifest but missing")
    if f.stat().st_size != info.get("bytes") or (hash_it and sha256(f) != info.get("sha256")):
        raise DeploymentError(f"{f}: checksum mismatch (expected sha256 {str(info.get('sha256'))[:12]}..., "
                              f"{info.get('bytes')} bytes; found {f.stat().st_size} bytes): the file was "
                              f"modified or truncated; re-export")


def _member(folder: Path, name, manifest: Path) -> Path:
    """``folder / name`` for a bare file name that stays inside ``folder`` and is no symbolic link; else
    :class:`DeploymentError` (a crafted manifest must not make neurocv read or hash files elsewhere)."""
    bad = None
    if not isinstance(name, str) or not name or name in (".", ".."):
        bad = "is not a file name"
    elif "/" in name or "\\" in name or os.sep in name or Path(name).is_absolute() or Path(name).name != name:
        bad = "is not a bare file name inside the deployment folder"
    elif (folder / name).is_symlink():
        bad = "is a symbolic link; a deployment folder must hold its own files"
    if bad:
        raise DeploymentError(f"{manifest}: {name!r} {bad} (refused: a deployment folder is self-contained)")
    return folder / name


def _check_consistent(manifest: dict, mpath: Path) -> None:
    """The manifest's input settings agree with its partition's shapes (an edited manifest is refused here, not
    by a shape error in the middle of a run)."""
    inp, part = manifest["input"], manifest["partition"]
    try:
        t, crop = int(inp["segments"]), int(inp["crop"])
        padded = [int(v) for v in inp["padded_size"]]
        shapes = [(s["name"], s["shape"]) for s in part["boundary"]]
        shapes += [(f"{m} STM input", [None] + list(i["input"]["shape"])) for m, i in part["spiking"].items()]
        shapes += [(f"{m} STM output", [None] + list(i["output"]["shape"])) for m, i in part["spiking"].items()]
        n_logits = {s["name"]: s["shape"] for s in part["outputs"]}["logits"][-1]
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise DeploymentError(f"{mpath}: unreadable or incomplete manifest ({type(e).__name__}: {e})") from None
    problems = []
    if int(part.get("segments", t)) != t:
        problems.append(f"input.segments {t} but partition.segments {part.get('segments')}")
    problems += [f"input.segments {t} but {name} has {shape[1]} time steps" for name, shape in shapes
                 if len(shape) > 1 and shape[1] != t]
    if list(inp.get("size", [crop, crop])) != [crop, crop]:
        problems.append(f"input.crop {crop} but input.size {inp.get('size')}")
    for m, info in part["spiking"].items():
        if list(info["input"]["shape"][-2:]) != padded:
            problems.append(f"input.padded_size {padded} but the {m} STM takes {info['input']['shape'][-2:]}")
    if n_logits != len(manifest["model"]["classes"]):
        problems.append(f"{len(manifest['model']['classes'])} class names for {n_logits} logits")
    if problems:
        raise DeploymentError(f"{mpath}: the manifest contradicts itself ({'; '.join(problems[:3])}): it was "
                              f"edited; re-export the model (e.g. `neurocv export CKPT -o DIR --segments N`)")


def _check_onnx_external_data(folder: Path, onnx_path: Path, files: dict) -> None:
    """Refuse an ONNX model whose tensors live in external files outside the folder (or not listed)."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception:  # noqa: BLE001  (an unreadable file is reported by OnnxSession with its own message)
        return
    graphs, seen = [model.graph], set()
    while graphs:
        g = graphs.pop()
        tensors = list(g.initializer) + [a.t for n in g.node for a in n.attribute if a.HasField("t")]
        graphs += [a.g for n in g.node for a in n.attribute if a.HasField("g")]
        graphs += [sg for n in g.node for a in n.attribute for sg in a.graphs]
        for t in tensors:
            if t.data_location != onnx.TensorProto.EXTERNAL:
                continue
            loc = {e.key: e.value for e in t.external_data}.get("location", "")
            if loc in seen:
                continue
            seen.add(loc)
            _member(folder, loc, onnx_path)
            if loc not in files:
                raise DeploymentError(f"{onnx_path}: external data {loc!r} is not listed (with its checksum) in "
                                      f"the manifest (refused: a deployment folder is self-contained)")


class Deployment:
    """A verified deployment folder. :meth:`load` checks the manifest (format, neurocv version, files and their
    sha256, boundary shapes against the ONNX model and the NIR files) and raises :class:`DeploymentError` naming
    the file and the mismatch."""

    def __init__(self, path: Path, manifest: dict, specs: dict, ann, precision: str = "float"):
        self.path, self.manifest, self.specs, self.ann = path, manifest, specs, ann
        self.precision: str = precision      # of the ANN partition: "float" (ann.onnx) | "int8" (ann.int8.onnx)
        inp = manifest["input"]
        self.classes: list[str] = list(manifest["model"]["classes"])
        self.segments: int = int(inp["segments"])
        self.crop: int = int(inp["crop"])
        self.accumulate: bool = bool(inp["accumulate"])
        self.padded_size = tuple(inp["padded_size"])
        self.spiking: dict = manifest["partition"]["spiking"]
        self.modalities: tuple[str, ...] = tuple(manifest["model"]["config"]["modalities"])

    @classmethod
    def load(cls, path: str | Path, ann: str | None = "float") -> "Deployment":
        """``ann``: which ANN partition runs, ``"float"`` (``ann.onnx``) or ``"int8"`` (``ann.int8.onnx``, written
        by ``neurocv export --int8``; a deployment without it raises one line); ``None``: no ANN session (the
        spiking partition only, e.g. for placement)."""
        from . import __version__
        from .exporters.deploy import FORMAT
        from .hardware.onnx_backend import OnnxSession
        from .hardware.formats.stm_spec import load_stm_spec

        given = Path(path)
        # absolute from here on: the paths cross into the Lava worker, which does not share our working folder
        path = Path(os.path.abspath(given))
        if path.is_file():
            hint = (f"; a checkpoint? export it first: `neurocv export {given} -o DEPLOY/`"
                    if given.suffix in (".pt", ".pth", ".ckpt") else "")
            raise DeploymentError(f"{given}: a file, not a deployment folder (a folder holding manifest.json){hint}")
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise DeploymentError(f"{given}: not a deployment folder (no manifest.json); create one with "
                                  f"`neurocv export CKPT -o {given}`")
        try:
            manifest = json.loads(mpath.read_text())
            fmt, versions, files = manifest["format"], manifest["versions"], manifest["files"]
            boundary = {s["name"]: s["shape"] for s in manifest["partition"]["boundary"]}
            outputs = {s["name"]: s["shape"] for s in manifest["partition"]["outputs"]}
            spiking = manifest["partition"]["spiking"]
            manifest["input"]["crop"], manifest["model"]["classes"]
            onnx_file = manifest["onnx"]["file"]
            if ann is not None and ann not in ANN_PRECISIONS:
                raise DeploymentError(f"--ann must be one of {', '.join(ANN_PRECISIONS)}, got {ann!r}")
            if ann == "int8":
                if not manifest["onnx"].get("int8"):
                    raise DeploymentError(f"{given}: has no int8 ANN partition; export one with `neurocv export "
                                          f"CKPT -o {given} --int8`, or run with --ann float")
                onnx_file = manifest["onnx"]["int8"]["file"]
            if not isinstance(files, dict) or not all(isinstance(i, dict) for i in files.values()):
                raise TypeError("'files' must map file names to {bytes, sha256}")
        except (ValueError, KeyError, TypeError) as e:
            raise DeploymentError(f"{mpath}: unreadable or incomplete manifest ({type(e).__name__}: {e})") from None
        if fmt != FORMAT:
            raise DeploymentError(f"{mpath}: format {fmt!r}, this neurocv reads {FORMAT!r}; re-export the model")
        made = str(versions.get("neurocv", "?"))
        if _version_tuple(made) != _version_tuple(__version__):
            raise DeploymentError(f"{mpath}: exported by neurocv {made}, this is neurocv {__version__} (versions "
                                  f"must agree in major.minor); re-export with this version")
        # a deployment folder is self-contained: every file it names is a plain file inside it, listed and hashed
        for name in files:
            _member(path, name, mpath)
        named = [onnx_file] + [info.get("file") for info in spiking.values()]
        named += [info["netx_file"] for info in spiking.values() if info.get("netx_file")]
        for name in named:
            _member(path, name, mpath)
            if name not in files:
                raise DeploymentError(f"{mpath}: {name!r} is not listed (with its checksum) under 'files'")
        _check_consistent(manifest, mpath)
        for name, info in files.items():
            # the reference weights (the largest file by far) are only read by --check: hashed there, not here;
            # without them (deleted, or exported with --no-reference) everything but --check still runs
            if info.get("role") == "reference" and not (path / name).exists():
                continue
            _verify_file(path / name, info, hash_it=info.get("role") != "reference")
        session = None
        if ann is not None:          # None: the spiking partition only (placement), no onnxruntime session
            _check_onnx_external_data(path, path / onnx_file, files)
            session = OnnxSession(path / onnx_file)
            for kind, want, got in (("input", boundary, session.inputs), ("output", outputs, session.outputs)):
                got_s = {n: [d if isinstance(d, int) else "B" for d in s] for n, s in got.items()}
                if got_s != want:
                    raise DeploymentError(f"{path / onnx_file}: {kind}s {got_s} do not match the "
                                          f"manifest's {want}")
        specs = {}
        for m, info in spiking.items():
            spec = load_stm_spec(path / info["file"])
            want_in, want_out = tuple(info["input"]["shape"][1:]), tuple(info["output"]["shape"][1:])
            if tuple(spec.input_shape) != want_in or tuple(spec.output_shape) != want_out:
                raise DeploymentError(f"{path / info['file']}: STM maps {spec.input_shape} -> {spec.output_shape}, "
                                      f"the manifest says {want_in} -> {want_out}")
            specs[m] = spec
        return cls(path, manifest, specs, session, ann)

    def stm_files(self) -> dict:
        """``{modality: STMFiles}``: each STM's NIR file and, where exported (LIF models), its netx file."""
        from .hardware.sims import STMFiles

        return {m: STMFiles(m, self.path / info["file"],
                            self.path / info["netx_file"] if info.get("netx_file") else None)
                for m, info in self.spiking.items()}

    def session(self, backend: str = "lava-float", check: bool = False, python: str | Path | None = None
                ) -> "RuntimeSession":
        """A :class:`RuntimeSession` (context manager) holding one spiking backend for many videos."""
        return RuntimeSession(self, backend, check, python)

    def run_video(self, video: str | Path, backend: str = "lava-float", check: bool = False) -> dict:
        """Run one video (starts and stops the backend; use :meth:`session` for many)."""
        with self.session(backend, check) as s:
            return s.run_video(video)

    def reference_model(self):
        """The whole torch model from ``reference.safetensors`` (eval mode)."""
        from safetensors.torch import load_file

        from .models import model_from_config

        f = _member(self.path, "reference.safetensors", self.path / "manifest.json")
        if not f.is_file():
            raise DeploymentError(f"{f}: missing: --check needs the reference weights (re-export "
                                  f"without --no-reference), or run without --check")
        if f.name in self.manifest["files"]:
            _verify_file(f, self.manifest["files"][f.name])
        model = model_from_config(self.manifest["model"]["config"])
        try:
            model.load_state_dict(load_file(str(f)))
        except Exception as e:
            raise DeploymentError(f"{f}: does not hold this model's weights ({type(e).__name__})") from None
        return model.eval().set_surrogate(False)


class RuntimeSession:
    """One spiking backend (a Lava worker is started once) for many videos; collects per-video op counts."""

    def __init__(self, dep: Deployment, backend: str, check: bool = False, python: str | Path | None = None):
        from .data.transforms import ClipTransform, Normalization

        if backend not in BACKENDS:    # the NIR libraries (norse, snnTorch, nirtorch) are crosscheck's, not backends
            raise DeploymentError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.dep, self.backend, self.check, self.python = dep, backend, check, python
        self.worker = _is_worker(backend)      # runs in a .venv-lava worker process
        norm = Normalization(**dep.manifest["input"]["normalization"])
        self.transform = ClipTransform(crop=dep.crop, train=False, norm=norm)
        self.runner = None
        self.reference = dep.reference_model() if check else None
        self.videos: list[dict] = []

    def _start(self):
        from .hardware.sims import open_simulator

        options = {"python": self.python} if self.worker else {}
        self.runner = open_simulator(self.backend, self.dep.stm_files(), **options)

    def __enter__(self) -> "RuntimeSession":
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            runner.close()

    def read(self, video: str | Path) -> dict[str, np.ndarray]:
        """Decode and transform one video: ``{"i", "mv", "r"}`` -> ``(T, C, crop, crop)`` float32, normalised."""
        from .codec import read_clip
        from .data.transforms import to_tensors

        clip = read_clip(video, self.dep.segments, accumulate=self.dep.accumulate)
        i, m, r = self.transform(*to_tensors(clip.iframes, clip.mvs, clip.residuals))
        return {"i": i.numpy(), "mv": m.numpy(), "r": r.numpy()}

    def _pad(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.dep.padded_size[0] - x.shape[-2], self.dep.padded_size[1] - x.shape[-1]
        return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw))) if ph or pw else x

    def run_video(self, video: str | Path) -> dict:
        """Classify one video. Raises a NeuroCVError (unreadable video, worker died, ...); after a worker error the
        next call starts a fresh worker."""
        if self.runner is None:
            self._start()
        t0 = time.perf_counter()
        clip = self.read(video)
        t1 = time.perf_counter()
        maps, layers, worker_s = {}, [], 0.0
        try:
            for m in self.dep.spiking:
                run = self.runner.run(m, self._pad(clip[m]))
                maps[m], counts = run.output, run.counts
                worker_s += run.seconds
                layers += [{"name": e["name"], "partition": "spiking", "kind": "conv-lif", "input": e["input"],
                            "neurons": e["neurons"], "macs": e["macs"], "acs": e["acs"], "spikes": e["spikes"],
                            "neuron_updates": e["neuron_updates"]} for e in counts["layers"]]
        except NeuroCVError:
            if self.worker:      # the worker may be dead: start a fresh one for the next video
                try:
                    self.close()
                except Exception:  # noqa: BLE001  (closing a dead worker must not hide the real error)
                    pass
            raise
        t2 = time.perf_counter()
        feeds = self._feeds(clip, maps)
        logits = self.dep.ann.run(feeds)["logits"][0]
        t3 = time.perf_counter()
        layers.append(self._ann_row())
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p, kind="stable")[:5]
        timing = {"decode": t1 - t0, "stm": t2 - t1, "ann": t3 - t2, "total": t3 - t0}
        if self.worker:
            timing["stm_worker"] = worker_s
            timing["ipc"] = max(0.0, (t2 - t1) - worker_s)
        result = {"video": str(video), "backend": self.backend, "top1": self.dep.classes[int(top[0])],
                  "top5": [{"class": self.dep.classes[int(k)], "probability": float(p[k])} for k in top],
                  "logits": logits.tolist(), "timing_s": {k: round(v, 6) for k, v in timing.items()}}
        if self.check:
            result.update(self._check(clip, maps, logits))
        self.videos.append({"video": str(video), "layers": layers})
        return result

    def _ann_row(self) -> dict:
        """The ANN partition's row of the ops JSON; an int8 run says so and how many of its MACs are integer."""
        row = {"name": "ann", "partition": "ann", "kind": "onnx", "input": "analog",
               "macs": int(self.dep.manifest["ops"]["ann_macs"]), "acs": 0, "precision": self.dep.precision}
        if self.dep.precision == "int8":
            q = self.dep.manifest["onnx"]["int8"]
            row["int8_macs"] = int(q["macs"]["int8_macs"])
            row["kept_float"] = [k["op"] for k in q["kept_float"]]
        return row

    def _feeds(self, clip: dict, maps: dict) -> dict[str, np.ndarray]:
        from .exporters.partition import ANN_INPUTS

        return {ANN_INPUTS[m]: (clip["i"] if m == "i" else maps[m])[None] for m in self.dep.modalities}

    def _check(self, clip: dict, maps: dict, logits: np.ndarray) -> dict:
        import torch

        model = self.reference
        x = {k: torch.from_numpy(v)[None] for k, v in clip.items()}
        with torch.no_grad():
            ref_maps = dict(zip(("mv", "r"), model.spiking_forward(x["mv"], x["r"])))
            ref_logits = model(x["i"], x["mv"], x["r"])[0].numpy()
        diff = {}
        for m in self.dep.spiking:
            diff[_STAGE[m]] = float(np.abs(maps[m] - ref_maps[m][0].numpy()).max())
        torch_maps = {m: ref_maps[m][0].numpy() for m in self.dep.spiking}
        ann_only = self.dep.ann.run(self._feeds(clip, torch_maps))["logits"][0]
        diff["ann"] = float(np.abs(ann_only - ref_logits).max())
        diff["logits"] = float(np.abs(logits - ref_logits).max())
        return {"torch_top1": self.dep.classes[int(np.argmax(ref_logits))], "max_abs_diff": diff}

    def ops_report(self, model: str | None = None) -> dict:
        """The ops JSON (schema ``neurocv.ops/1``): per-video layer counts and their mean (``per_video``)."""
        n = len(self.videos)
        mean = []
        if n:
            for k, entry in enumerate(self.videos[0]["layers"]):
                avg = dict(entry)
                for key in ("macs", "acs", "spikes", "neuron_updates"):
                    if key in entry:
                        avg[key] = sum(v["layers"][k][key] for v in self.videos) / n
                for key in ("macs",):
                    if float(avg[key]).is_integer():
                        avg[key] = int(avg[key])
                mean.append(avg)
        return {"schema": OPS_SCHEMA, "model": model or self.dep.manifest["model"]["name"], "backend": self.backend,
                "segments": self.dep.segments, "crops": 1, "n_videos": n, "per_video": {"layers": mean},
                "config": self.dep.manifest["model"]["config"], "videos": self.videos}
