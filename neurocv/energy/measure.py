"""From a model (variant, checkpoint), a baseline card or a runtime's ops JSON to an :class:`EnergyReport`.

* Our networks: the ANN partition's MACs are counted on the ``meta`` device (shapes only); the STMs run for real
  on sample inputs and every Conv-LIF layer's MACs / ACs / spikes are measured (:mod:`.counter`).
* Baseline cards: every stream's network is counted on the ``meta`` device, once per view, times its views.
* ``--from-run``: the counts the stitched runtime measured (``neurocv.ops/1``, see the contract in docs/energy.md).

Sample inputs (spikes depend on them): by default two synthetic clips (:func:`neurocv.synth.render_clip`,
``translate_right`` and ``rotate_cw``, 48 frames at 256 x 256), encoded as MPEG-4 (GOP 12), read back through the
compressed-domain reader and centre-cropped / normalised exactly like the test split - realistic MV and residual
statistics (mostly still background, one moving object), unlike random tensors, which would make every neuron
see noise. ``source`` may instead be a video file or a dataset split ``PATH[:split]``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, NeuroCVError
from .counter import LayerCount, ann_counts as _ann_counts, count_ops, measure_stm
from .profiles import HardwareProfile
from .report import EnergyReport

__all__ = ["report_for_model", "report_for_card", "report_from_run", "sample_inputs", "torch_speed", "apply_int8",
           "resolve_model", "PAPER_OURS"]

PAPER_OURS = {"views": "8x1", "params_m": 83.41, "tflops_ann": 0.15, "gflops_spike": 3.99, "energy_j": 0.734,
              "speed_videos_per_s": 16.025, "source": "Table 1 of the paper, row 'Ours' (RTX 2080 Ti speed)"}
_SYNTH_ACTIONS = ("translate_right", "rotate_cw")


def _clip_tensors(clips, crop: int, crops: int = 1):
    from ..data.transforms import ClipTransform, tsn_views, to_tensors

    if crops > 1:
        outs = [tsn_views(*to_tensors(c.iframes, c.mvs, c.residuals), crop, crops)[:3] for c in clips]
        return tuple(torch.cat([o[k] for o in outs]) for k in range(3))
    tf = ClipTransform(crop=crop, train=False)
    outs = [tf(*to_tensors(c.iframes, c.mvs, c.residuals)) for c in clips]
    return tuple(torch.stack([o[k] for o in outs]) for k in range(3))


def sample_inputs(segments: int, crop: int, source: str | Path | None = None, max_videos: int = 2,
                  seed: int = 0, crops: int = 1) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], str]:
    """``((iframes, mvs, residuals) each (B, T, C, crop, crop) normalised, description)`` (see module doc). With
    ``crops`` 3 or 10, every video's TSN test views (as ``eval --crops``), ``B = videos x crops``."""
    from ..data.transforms import VIEW_COUNTS

    if crops not in VIEW_COUNTS:
        raise ConfigError(f"--crops must be one of {', '.join(map(str, VIEW_COUNTS))} for our models (the views "
                          f"of `neurocv eval --crops`), got {crops}")
    views = "centre crop" if crops == 1 else f"{crops} TSN views (as eval --crops {crops})"
    from ..codec import read_clip

    if source is None:
        import numpy as np

        from ..codec.encode import write_video
        from ..synth import render_clip

        side = max(32, round(crop * 256 / 224)) // 2 * 2   # even: the encoder needs it
        clips = []
        with tempfile.TemporaryDirectory(prefix="neurocv-energy-") as tmp:
            for k, action in enumerate(_SYNTH_ACTIONS[:max_videos]):
                r = render_clip(action, np.random.default_rng(seed + k), width=side, height=side, n_frames=48)
                path = write_video(Path(tmp) / f"{action}.mp4", r.frames, codec="mpeg4", gop_size=12)
                clips.append(read_clip(path, segments))
        desc = (f"synthetic: {len(clips)} clips ({', '.join(_SYNTH_ACTIONS[:max_videos])}; 48 frames "
                f"{side}x{side}, MPEG-4 GOP 12, seed {seed}), {views} {crop}")
        return _clip_tensors(clips, crop, crops), desc
    text = str(source)
    path = Path(text)
    if path.is_file() and path.suffix.lower() not in (".csv", ".txt"):
        return _clip_tensors([read_clip(path, segments)], crop, crops), f"video {path}, {views} {crop}"
    from ..data import CompressedVideoDataset

    data, _, split = text.partition(":") if not path.exists() else (text, "", "")
    ds = CompressedVideoDataset(data, split or "test", segments, crop, train=False, crops=crops)
    n = min(max_videos, len(ds))
    if n == 0:
        raise ConfigError(f"{text}: the split holds no videos to measure spikes on")
    items = [ds[i] for i in range(n)]
    join = torch.cat if crops > 1 else torch.stack
    x = tuple(join([it[k] for it in items]) for k in ("iframes", "mvs", "residuals"))
    return x, f"dataset {data} split {split or 'test'}: first {n} videos, {views} {crop}"


def resolve_model(spec: str, num_classes: int | None = None) -> tuple[str, nn.Module | None, dict]:
    """``spec`` -> ``(kind, model, info)``: kind ``variant`` | ``checkpoint`` | ``card``; a variant is built with
    seed 0 (random initialisation); a checkpoint is loaded safely (CheckpointError if unreadable)."""
    from ..models import create_model, list_models
    from ..models.baselines import get_card, list_cards

    if spec in list_models():
        torch.manual_seed(0)
        kw = {"num_classes": num_classes} if num_classes else {}
        return "variant", create_model(spec, **kw).eval(), {"weights": "random initialisation (seed 0)"}
    if spec in list_cards():
        return "card", None, {"card": get_card(spec)}
    path = Path(spec)
    if path.exists() or path.suffix in (".pt", ".pth", ".ckpt") or "/" in spec:
        from ..checkpoint import build_model_from_checkpoint, load_checkpoint

        ckpt = load_checkpoint(path)
        try:
            model = build_model_from_checkpoint(ckpt)
        except (RuntimeError, NeuroCVError) as exc:
            from ..errors import CheckpointError

            raise CheckpointError(f"{path}: weights do not fit its config: {str(exc).splitlines()[0]}") from None
        return "checkpoint", model, {"weights": f"checkpoint {path}", "train_config": ckpt.get("train_config", {})}
    raise ConfigError(f"unknown model {spec!r}: not a registered variant ({', '.join(list_models())}), a baseline "
                      f"({', '.join(list_cards())}) or an existing checkpoint file")


def _effective_counts(model: nn.Module, i: torch.Tensor, mv: torch.Tensor, r: torch.Tensor) -> dict[str, LayerCount]:
    """Per-view effective MACs / ACs of every op of a real forward pass on the sample batch (videos x crops views,
    the mean over them), by layer name."""
    recs = count_ops(model, lambda: model(i, mv, r), effective=True)
    n = int(mv.shape[0])
    for c in recs:
        if c.effective_macs is not None:
            c.effective_macs /= n
            c.effective_acs /= n
    return {c.name: c for c in recs}


def report_for_model(name: str, model: nn.Module, profile: HardwareProfile, segments: int, crops: int = 1,
                     source: str | Path | None = None, max_videos: int = 2, weights: str = "",
                     count: str = "dense") -> EnergyReport:
    """Per-layer counts of one of our networks: STMs measured on sample inputs, the rest counted on ``meta``
    (dense) and on a real forward pass of the same inputs (effective: zero operands skipped, padding not counted).
    ``count`` (``dense`` | ``effective``) says which counts price E_Total."""
    from ..models import count_params

    size = tuple(model.config.input_size)
    ann = _ann_counts(model, segments, size)
    (i, mv, r), desc = sample_inputs(segments, size[0], source, max_videos, crops=crops)
    model.eval()
    model.set_surrogate(False)
    if model.config.order == "T-LS-GS":
        spiking = measure_stm(model, lambda: model.spiking_forward(mv, r))
    else:
        spiking = measure_stm(model, lambda: model(i, mv, r))
    measured = {s.name for s in spiking}
    layers = [c for c in ann if c.name.rsplit(".", 1)[0] not in measured]     # drop the dense ConvLIF convs
    effective = _effective_counts(model, i, mv, r)
    for c in layers:
        c.partition = "ann"
        e = effective.get(c.name)
        c.effective_macs, c.effective_acs = (e.effective_macs, e.effective_acs) if e is not None else (None, None)
    order = {s.name: k for k, s in enumerate(spiking)}
    layers = sorted(spiking, key=lambda s: order[s.name]) + layers
    for c in layers:
        c.views = crops
    return EnergyReport(model=name, source="torch", profile=profile, layers=layers, params=count_params(model),
                        segments=segments, crops=crops, views=crops, input_size=size, inputs=desc, count=count,
                        notes=[f"weights: {weights}" if weights else "",
                               "spike counts depend on the weights and the inputs; the ANN partition's MACs do not",
                               f"{crops} crop(s) per video: spikes and effective counts measured on every view "
                               f"(the mean per view, x {crops})"],
                        n_videos=int(mv.shape[0]) // crops, paper=dict(PAPER_OURS) if name == "stm-base" else None)


def report_for_card(card, profile: HardwareProfile, segments: int | None = None,
                    crops: int | None = None) -> EnergyReport:
    """Every stream of a baseline card counted on ``meta`` (one view), weighted by its views per video."""
    layers, params = [], 0
    for stream in card.streams:
        with torch.device("meta"):
            net = card.build(stream).eval()
        params += sum(p.numel() for p in net.parameters())
        x = torch.zeros(1, stream.in_channels, *stream.input_shape, device="meta")
        for c in count_ops(net, lambda: net(x), prefix=f"{stream.name}."):
            c.views = card.views(stream, segments, crops)
            layers.append(c)
    seg = segments if segments is not None else card.segments
    cr = crops if crops is not None else card.crops
    return EnergyReport(model=card.name, source="card", profile=profile, layers=layers, params=params,
                        segments=seg, crops=cr, views=seg * cr, input_size=tuple(card.streams[0].input_shape[-2:]),
                        inputs="none needed: a dense ANN's MACs do not depend on its inputs",
                        notes=[card.title, card.citation, f"views: {card.composition}"], n_videos=0,
                        paper=dict(card.paper))


def report_from_run(path: str | Path, profile: HardwareProfile) -> EnergyReport:
    """An :class:`EnergyReport` from a runtime's ``neurocv.ops/1`` JSON (per-video counts, measured there)."""
    from ..errors import ConfigError as _Err
    from ..hardware.placement import load_ops_file

    path = Path(path)
    data = load_ops_file(path)
    try:
        rows = data["per_video"]["layers"]
        layers = [LayerCount(name=str(r["name"]), partition=str(r.get("partition", "ann")),
                             kind=str(r.get("kind", "")), input=str(r.get("input", "analog")),
                             macs=float(r.get("macs", 0)), acs=float(r.get("acs", 0)),
                             dense_macs=float(r.get("macs", 0)), spikes=float(r.get("spikes", 0)),
                             neurons=int(r.get("neurons", 0)), neuron_updates=float(r.get("neuron_updates", 0)))
                  for r in rows]
        segments, crops = int(data.get("segments", 0)), int(data.get("crops", 1))
        layers, kept_float = _split_int8_rows(layers, rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise _Err(f"{path}: malformed ops JSON: {exc!r}") from None
    params = None
    model = str(data.get("model", ""))
    try:
        if isinstance(data.get("config"), dict):     # the deployed model's own config (its head, its options)
            from ..models import model_from_config

            with torch.device("meta"):
                net = model_from_config(data["config"])
        else:                                         # older ops files: the registered variant's defaults
            _, net, _ = resolve_model(model)
        if net is not None:
            params = sum(p.numel() for p in net.parameters())
    except (NeuroCVError, TypeError, ValueError, KeyError):
        pass
    for c in layers:
        c.views = crops
    int8 = {}
    if any(c.precision == "int8" for c in layers):
        from ..exporters.int8 import arithmetic_float_ops
        from .profiles import load_profile

        int8 = {"int8_profile": load_profile(INT8_PROFILE),
                "float_ops": arithmetic_float_ops([{"op": k} for k in kept_float])}
    return EnergyReport(model=model, source=f"run:{path}", profile=profile, layers=layers, params=params, **int8,
                        segments=segments, crops=crops, views=crops, input_size=None,
                        inputs=f"measured by the runtime ({data.get('backend', '?')}) on {data.get('n_videos', '?')}"
                               f" video(s)", notes=[], n_videos=int(data.get("n_videos", 0) or 0),
                        paper=dict(PAPER_OURS) if model == "stm-base" else None)


INT8_PROFILE = "cmos45nm-int8"


def apply_int8(report: EnergyReport, int8: dict, profile: HardwareProfile | None = None) -> EnergyReport:
    """Price an int8 deployment (``int8``: its manifest's ``onnx.int8`` entry): every ANN layer whose operator type
    stayed int8 everywhere in ``ann.int8.onnx`` on ``profile`` (default :data:`INT8_PROFILE`), the rest (the STMs,
    any MAC layer left float) on the report's own profile. The report then shows both side by side."""
    from ..exporters.int8 import ATTENTION_SPLIT, arithmetic_float_ops, attention_int8_share, int8_kinds
    from .profiles import load_profile

    kinds = int8_kinds(int8.get("quantized_ops", {}))
    share = attention_int8_share(int8.get("quantized_ops", {}))
    layers = []
    for c in report.layers:
        if c.partition == "ann" and c.kind in kinds:
            if c.kind == "attention" and share < 1:    # Q K^T int8, probabilities x V float: two rows
                halves = [dataclasses.replace(c, name=c.name + suffix, params=c.params if f == share else 0, **{
                    k: (getattr(c, k) * f if getattr(c, k) is not None else None)
                    for k in ("macs", "dense_macs", "effective_macs", "mem_values", "mem_spikes")})
                    for suffix, f in zip(ATTENTION_SPLIT, (share, 1 - share))]
                halves[0].precision = "int8"
                layers += halves
                continue
            c.precision = "int8"
        layers.append(c)
    report.layers = layers
    report.int8_profile = profile or load_profile(INT8_PROFILE)
    report.float_ops = arithmetic_float_ops(int8.get("kept_float", []))
    return report


def _split_int8_rows(layers: list[LayerCount], rows: list[dict]) -> tuple[list[LayerCount], list[str]]:
    """An int8 run's ANN row (``precision: int8``) as two: its integer MACs and the MACs left float."""
    out, kept = [], []
    for c, r in zip(layers, rows):
        if r.get("precision") != "int8":
            out.append(c)
            continue
        int8 = min(float(r.get("int8_macs", c.macs)), c.macs)
        kept = [str(k) for k in r.get("kept_float", [])]
        out.append(dataclasses.replace(c, name=f"{c.name} (int8)", macs=int8, dense_macs=int8, precision="int8"))
        if c.macs - int8 > 0:
            out.append(dataclasses.replace(c, name=f"{c.name} (float)", macs=c.macs - int8,
                                           dense_macs=c.macs - int8))
    return out, kept


def torch_speed(model: nn.Module, segments: int, repeats: int = 3) -> float:
    """Videos/s of a full forward pass (batch 1, one view, float32, this machine's CPU threads); best of
    ``repeats`` after one warm-up."""
    h, w = model.config.input_size
    x = [torch.randn(1, segments, c, h, w) for c in (3, 2, 3)]
    model.eval()
    best = float("inf")
    with torch.inference_mode():
        model(*x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(*x)
            best = min(best, time.perf_counter() - t0)
    return 1.0 / best
