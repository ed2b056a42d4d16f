"""The stitched runtime: a deployment folder (see :mod:`neurocv.exporters.deploy`) runs videos as

    reader (test transform of ``neurocv eval``: ``segments`` centre P-frames, centre crop, normalisation)
      -> spiking backend: each STM on its modality's clip ``(T, C, H_pad, W_pad)`` -> membrane ``(T, C', H', W')``
         ``lava-float`` / ``lava-fixed``: Lava processes in the ``.venv-lava`` worker (:class:`LavaSTMRunner`)
         ``torch``: the STMs rebuilt in torch from the NIR files (:class:`TorchSTMRunner`)
      -> onnxruntime on the ANN partition -> logits -> top-5 classes

>>> dep = Deployment.load("deploy/")
>>> with dep.session("lava-float", check=True) as s:
...     result = s.run_video("clip.mp4")      # {"video", "top1", "top5", "timing_s", "torch_top1", "max_abs_diff"}
...     ops = s.ops_report()                  # the ops JSON (schema neurocv.ops/1) that `neurocv energy` reads

``check=True`` also runs the whole torch model (weights from ``reference.safetensors``) and reports each stage's
largest absolute difference: ``stm_mv`` / ``stm_r`` (membrane maps), ``ann`` (onnxruntime vs torch on the torch
maps) and ``logits`` (the whole pipeline vs torch).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .errors import DeploymentError, NeuroCVError

__all__ = ["BACKENDS", "Deployment", "RuntimeSession", "TorchSTMRunner", "OPS_SCHEMA"]

BACKENDS = ("lava-float", "lava-fixed", "torch")
OPS_SCHEMA = "neurocv.ops/1"
_STAGE = {"mv": "stm_mv", "r": "stm_r"}


class TorchSTMRunner:
    """STMs from their torch-free specs (:class:`~neurocv.hardware.stm_spec.STMSpec`), run in torch float32 with
    the model's own step function, so the result equals the model's STM. Same interface as ``LavaSTMRunner``:
    ``run(name, x (T, C, H, W)) -> (u (T, C', H', W'), counts)``; every clip starts from rest."""

    def __init__(self, specs: dict):
        import torch

        from .hardware.stm_spec import fanout_map, layer_shapes

        self.specs = dict(specs)
        self._layers = {}
        for name, spec in self.specs.items():
            in_hw = [spec.input_shape[1:]] + [s[1:] for s in layer_shapes(spec)[:-1]]
            self._layers[name] = [
                (torch.from_numpy(np.ascontiguousarray(l.weight, np.float32)),
                 torch.from_numpy(np.ascontiguousarray(l.bias, np.float32)), l.stride, l.padding,
                 torch.tensor(l.v_th, dtype=torch.float32), torch.tensor(l.leak, dtype=torch.float32),
                 torch.from_numpy(fanout_map(l, *hw).astype(np.float32)))
                for l, hw in zip(spec.layers, in_hw)]

    def __enter__(self) -> "TorchSTMRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def run(self, name: str, x: np.ndarray) -> tuple[np.ndarray, dict]:
        import torch
        import torch.nn.functional as F

        from .hardware.stm_spec import analog_macs, check_input, empty_counts
        from .models.neuron import STMParams, stm_step

        if name not in self.specs:
            raise ValueError(f"no STM named {name!r} (have {sorted(self.specs)})")
        spec = self.specs[name]
        x = torch.from_numpy(np.ascontiguousarray(check_input(spec, x)))
        counts = empty_counts(spec)
        layers = self._layers[name]
        acs = [0.0] * len(layers)
        spikes = [torch.zeros(())] * len(layers)
        state = [None] * len(layers)
        out = []
        with torch.no_grad():
            for t in range(x.shape[0]):
                h = x[t][None]
                for k, (w, b, stride, pad, v_th, leak, fan) in enumerate(layers):
                    if spec.layers[k].input == "spikes":
                        acs[k] += float(w.shape[0] * (h[0].sum(0) * fan).sum())
                    u, state[k] = stm_step(F.conv2d(h, w, b, stride, pad), state[k], STMParams(v_th, leak),
                                           surrogate=False)
                    spikes[k] = spikes[k] + state[k].o.sum()
                    h = state[k].o
                out.append(u[0])
        steps = x.shape[0]
        for k, (entry, macs) in enumerate(zip(counts["layers"], analog_macs(spec, steps))):
            entry.update(macs=macs, acs=acs[k], spikes=float(spikes[k]), neuron_updates=float(entry["neurons"] * steps))
        return torch.stack(out).numpy(), counts


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


class Deployment:
    """A verified deployment folder. :meth:`load` checks the manifest (format, neurocv version, files and their
    sha256, boundary shapes against the ONNX model and the NIR files) and raises :class:`DeploymentError` naming
    the file and the mismatch."""

    def __init__(self, path: Path, manifest: dict, specs: dict, ann):
        self.path, self.manifest, self.specs, self.ann = path, manifest, specs, ann
        inp = manifest["input"]
        self.classes: list[str] = list(manifest["model"]["classes"])
        self.segments: int = int(inp["segments"])
        self.crop: int = int(inp["crop"])
        self.accumulate: bool = bool(inp["accumulate"])
        self.padded_size = tuple(inp["padded_size"])
        self.spiking: dict = manifest["partition"]["spiking"]
        self.modalities: tuple[str, ...] = tuple(manifest["model"]["config"]["modalities"])

    @classmethod
    def load(cls, path: str | Path) -> "Deployment":
        from . import __version__
        from .exporters.deploy import FORMAT
        from .hardware.onnx_backend import OnnxSession
        from .hardware.stm_spec import load_stm_spec

        path = Path(path)
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise DeploymentError(f"{path}: not a deployment folder (no manifest.json); create one with "
                                  f"`neurocv export CKPT -o {path}`")
        try:
            manifest = json.loads(mpath.read_text())
            fmt, versions, files = manifest["format"], manifest["versions"], manifest["files"]
            boundary = {s["name"]: s["shape"] for s in manifest["partition"]["boundary"]}
            outputs = {s["name"]: s["shape"] for s in manifest["partition"]["outputs"]}
            spiking = manifest["partition"]["spiking"]
            manifest["input"]["crop"], manifest["model"]["classes"]
        except (ValueError, KeyError, TypeError) as e:
            raise DeploymentError(f"{mpath}: unreadable or incomplete manifest ({type(e).__name__}: {e})") from None
        if fmt != FORMAT:
            raise DeploymentError(f"{mpath}: format {fmt!r}, this neurocv reads {FORMAT!r}; re-export the model")
        made = str(versions.get("neurocv", "?"))
        if _version_tuple(made) != _version_tuple(__version__):
            raise DeploymentError(f"{mpath}: exported by neurocv {made}, this is neurocv {__version__} (versions "
                                  f"must agree in major.minor); re-export with this version")
        for name, info in files.items():
            # the reference weights (the largest file by far) are only read by --check: hashed there, not here
            _verify_file(path / name, info, hash_it=info.get("role") != "reference")
        ann = OnnxSession(path / manifest["onnx"]["file"])
        for kind, want, got in (("input", boundary, ann.inputs), ("output", outputs, ann.outputs)):
            got_s = {n: [d if isinstance(d, int) else "B" for d in s] for n, s in got.items()}
            if got_s != want:
                raise DeploymentError(f"{path / manifest['onnx']['file']}: {kind}s {got_s} do not match the "
                                      f"manifest's {want}")
        specs = {}
        for m, info in spiking.items():
            spec = load_stm_spec(path / info["file"])
            want_in, want_out = tuple(info["input"]["shape"][1:]), tuple(info["output"]["shape"][1:])
            if tuple(spec.input_shape) != want_in or tuple(spec.output_shape) != want_out:
                raise DeploymentError(f"{path / info['file']}: STM maps {spec.input_shape} -> {spec.output_shape}, "
                                      f"the manifest says {want_in} -> {want_out}")
            specs[m] = spec
        return cls(path, manifest, specs, ann)

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

        f = self.path / "reference.safetensors"
        if not f.is_file():
            raise DeploymentError(f"{f}: missing: --check needs the reference weights (export without "
                                  f"reference=False)")
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

        if backend not in BACKENDS:
            raise DeploymentError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.dep, self.backend, self.check, self.python = dep, backend, check, python
        norm = Normalization(**dep.manifest["input"]["normalization"])
        self.transform = ClipTransform(crop=dep.crop, train=False, norm=norm)
        self.runner = None
        self.reference = dep.reference_model() if check else None
        self.videos: list[dict] = []

    def _start(self):
        if self.backend == "torch":
            self.runner = TorchSTMRunner(self.dep.specs)
        else:
            from .hardware.lava_backend import LavaSTMRunner

            paths = {m: self.dep.path / info["file"] for m, info in self.dep.spiking.items()}
            runner = LavaSTMRunner(paths, self.backend.split("-")[1], python=self.python)
            self.runner = runner.__enter__()

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
                u, counts = self.runner.run(m, self._pad(clip[m]))
                maps[m] = u
                worker_s += float(counts.get("seconds", getattr(self.runner, "last_seconds", 0.0)) or 0.0)
                layers += [{"name": e["name"], "partition": "spiking", "kind": "conv-lif", "input": e["input"],
                            "neurons": e["neurons"], "macs": e["macs"], "acs": e["acs"], "spikes": e["spikes"],
                            "neuron_updates": e["neuron_updates"]} for e in counts["layers"]]
        except NeuroCVError:
            if self.backend != "torch":      # the worker may be dead: start a fresh one for the next video
                try:
                    self.close()
                except Exception:  # noqa: BLE001  (closing a dead worker must not hide the real error)
                    pass
            raise
        t2 = time.perf_counter()
        feeds = self._feeds(clip, maps)
        logits = self.dep.ann.run(feeds)["logits"][0]
        t3 = time.perf_counter()
        layers.append({"name": "ann", "partition": "ann", "kind": "onnx", "input": "analog",
                       "macs": int(self.dep.manifest["ops"]["ann_macs"]), "acs": 0})
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p, kind="stable")[:5]
        timing = {"decode": t1 - t0, "stm": t2 - t1, "ann": t3 - t2, "total": t3 - t0}
        if self.backend != "torch":
            timing["stm_worker"] = worker_s
            timing["ipc"] = max(0.0, (t2 - t1) - worker_s)
        result = {"video": str(video), "backend": self.backend, "top1": self.dep.classes[int(top[0])],
                  "top5": [{"class": self.dep.classes[int(k)], "probability": float(p[k])} for k in top],
                  "logits": logits.tolist(), "timing_s": {k: round(v, 6) for k, v in timing.items()}}
        if self.check:
            result.update(self._check(clip, maps, logits))
        self.videos.append({"video": str(video), "layers": layers})
        return result

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
                "videos": self.videos}
