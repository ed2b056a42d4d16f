"""Whole-network shapes, gradients, ablation switches, the spiking/ANN split, sizes of the registered variants."""

from __future__ import annotations

import pytest
import torch

from neurocv.models import (CompressedVideoTransformer, count_macs, count_params, create_model, get_model_config,
                            list_models, model_from_config)

B, T, H, W = 2, 2, 48, 40  # 48 x 40: not a multiple of 16
SMALL = dict(dim=32, depth=1, heads=2, stm_channels=(4, 8), mixer_dim=16, rrdb_growth=8, rrdb_dense_blocks=1)


def inputs(b=B, t=T, h=H, w=W, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, t, 3, h, w, generator=g), torch.randn(b, t, 2, h, w, generator=g),
            torch.randn(b, t, 3, h, w, generator=g))


def check_forward_backward(model, x, classes):
    logits = model(*x)
    assert logits.shape == (x[0].shape[0], classes)
    assert torch.isfinite(logits).all()
    aux = getattr(model, "aux_logits", {})     # the training-only per-modality probes (aux_loss) train on their own
    (logits.logsumexp(1).mean() + sum(a.logsumexp(1).mean() for a in aux.values())).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"
    assert sum(p.grad.abs().sum().item() for p in model.parameters()) > 0


def test_registry_lists_the_three_variants():
    assert {"stm-tiny", "stm-base", "stm-large"} <= set(list_models())
    assert list_models("stm-b*") == ["stm-base"]


@pytest.mark.parametrize("name", list_models())
def test_every_registered_variant_forward_backward_small(name):
    torch.manual_seed(0)
    overrides = {} if name == "stm-tiny" else SMALL  # same layout (merge, fold scale, ...), narrow widths
    model = create_model(name, num_classes=7, **overrides)
    check_forward_backward(model, inputs(h=40, w=56), 7)


ABLATIONS = [
    dict(modalities=m) for m in (("i",), ("mv",), ("r",), ("i", "mv"), ("i", "r"), ("mv", "r"))
] + [dict(order=o) for o in ("LS-GS-T", "LS-T-GS")] + [
    dict(encoder="separate"), dict(encoder="cross"), dict(encoder="cross", modalities=("mv", "r")),
] + [dict(stm=s) for s in ("none", "common", "lstm", "fixed")] + [
    dict(accumulate=False), dict(mixer=False), dict(skips=False), dict(rrdb=False), dict(pool="cls"),
    dict(mixer=False, pool="cls"), dict(order="LS-T-GS", stm="common"), dict(order="LS-GS-T", stm="lstm"),
    dict(order="LS-GS-T", mixer=False), dict(stm="common", modalities=("mv",)), dict(fold_scale=2),
    dict(iframe_dropout=0.5), dict(iframe_dropout=0.5, order="LS-GS-T"), dict(pframe_dropout=0.5),
    dict(pframe_dropout=0.5, order="LS-T-GS"), dict(pframe_dropout=0.5, modalities=("mv", "r")),
    dict(mv_dropout=0.5), dict(mv_dropout=0.5, order="LS-GS-T"), dict(mv_dropout=0.5, modalities=("mv",)),
]


@pytest.mark.parametrize("overrides", ABLATIONS, ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_ablation_switches_forward_backward(overrides):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=5, segments=T, **overrides)
    check_forward_backward(model, inputs(), 5)


def test_ablations_change_the_network():
    tiny = count_params(create_model("stm-tiny"))
    for o in (dict(stm="common"), dict(skips=False), dict(rrdb=False), dict(mixer=False), dict(modalities="i,mv")):
        assert count_params(create_model("stm-tiny", **o)) < tiny, o
    assert count_params(create_model("stm-tiny", encoder="separate")) > tiny
    fixed = create_model("stm-tiny", stm="fixed")
    assert not any("neuron" in n for n, _ in fixed.named_parameters())
    assert count_params(create_model("stm-tiny", accumulate=False)) == tiny


def _check_clip_dropout(model, run_a, run_b):
    """``model`` with a modality dropout; ``run_a`` / ``run_b`` run it on two inputs that differ only in the dropped
    modality. In training the same seed drops the same clips (their logits agree), another seed other clips; at
    evaluation nothing is dropped, and the weights alone (a model without the dropout) give the same logits."""

    def logits(run, seed):
        torch.manual_seed(seed)
        return run(model)

    model.train()
    same = torch.isclose(logits(run_a, 3), logits(run_b, 3), atol=1e-6).all(1)   # same seed: same clips dropped
    assert 0 < same.sum() < 8, same          # some clips lost the modality: its input does not matter there
    assert not torch.equal(same, torch.isclose(logits(run_a, 4), logits(run_b, 4), atol=1e-6).all(1))  # drawn anew
    model.eval()                              # identity at evaluation: every clip sees every modality
    assert not torch.isclose(run_a(model), run_b(model), atol=1e-6).all(1).any()
    plain = create_model("stm-tiny", num_classes=5, segments=T, iframe_embed="patch", head_norm="ln")
    plain.load_state_dict(model.state_dict())
    plain.eval()
    assert torch.equal(run_a(plain), run_a(model))


@pytest.mark.parametrize("switch, dropped", [
    ("iframe_dropout", ("i",)),             # the I-frame tokens (and the I-frame skip)
    ("pframe_dropout", ("mv", "r")),        # the motion stream: MV and R together (tokens and skips)
    ("mv_dropout", ("mv",)),                # the MVs alone: the I-frames and residuals still reach the encoder
])
def test_modality_dropout_zeroes_whole_clips_in_training_only(switch, dropped):
    torch.manual_seed(0)
    # the linear embedding and a LayerNorm head: batch statistics (BatchNorm) would tie a clip's logits to the others'
    model = create_model("stm-tiny", num_classes=5, segments=T, iframe_embed="patch", head_norm="ln",
                         **{switch: 0.5})
    a = dict(zip(("i", "mv", "r"), inputs(b=8)))
    b = {k: torch.randn_like(x) if k in dropped else x for k, x in a.items()}
    _check_clip_dropout(model, lambda m: m(a["i"], a["mv"], a["r"]), lambda m: m(b["i"], b["mv"], b["r"]))


def test_spiking_and_ann_parts_compose_to_forward():
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=4, segments=T).eval()
    i, mv, r = inputs()
    with torch.no_grad():
        mv_maps, r_maps = model.spiking_forward(mv, r)
        assert mv_maps.shape == (B, T, 16, 12, 12) and r_maps.shape == (B, T, 16, 12, 12)  # 48x48 padded, stride 4
        split = model.ann_forward(i, mv_maps, r_maps)
        whole = model(i, mv, r)
        assert (split - whole).abs().max().item() < 1e-6
        assert torch.equal(model(i, mv, r), whole)  # no state survives between clips
    late = create_model("stm-tiny", order="LS-GS-T")
    with pytest.raises(Exception, match="T-LS-GS"):
        late.spiking_forward(mv, r)


def test_any_input_size_and_segment_count():
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=3).eval()   # laid out for 8 segments at 112 x 112
    with torch.no_grad():
        for t, h, w in ((1, 17, 33), (3, 112, 112), (8, 100, 130)):
            assert model(*inputs(1, t, h, w)).shape == (1, 3)
    assert model.tokens((100, 130), 8) == 8 * 3 * 7 * 9
    with pytest.raises(ValueError, match="mvs"):
        model(torch.zeros(1, 2, 3, 32, 32), torch.zeros(1, 2, 3, 32, 32), torch.zeros(1, 2, 3, 32, 32))
    with pytest.raises(ValueError, match="match"):
        model(torch.zeros(1, 2, 3, 32, 32), torch.zeros(1, 2, 2, 32, 48), torch.zeros(1, 2, 3, 32, 32))


def test_config_round_trip_rebuilds_the_same_network(tmp_path):
    torch.manual_seed(0)
    model = create_model("stm-tiny", num_classes=6, segments=T, modalities=("i", "r"), pool="cls").eval()
    path = tmp_path / "ckpt.pt"
    torch.save({"config": model.config_dict(), "state_dict": model.state_dict()}, path)
    ckpt = torch.load(path, weights_only=True)
    clone = model_from_config(ckpt["config"]).eval()
    clone.load_state_dict(ckpt["state_dict"])
    assert clone.config == model.config
    x = inputs()
    with torch.no_grad():
        assert torch.equal(clone(*x), model(*x))


def test_stm_base_matches_the_paper_size():
    cfg = get_model_config("stm-base", num_classes=101)
    with torch.device("meta"):
        model = CompressedVideoTransformer(cfg)
    params = count_params(model)
    assert abs(params - 83.41e6) / 83.41e6 < 0.05, params
    ann = count_macs(model, (224, 224), 8, part="ann")
    spiking = count_macs(model, (224, 224), 8, part="spiking")
    assert 0.14e12 < ann < 0.17e12, ann                       # paper: 0.15 T (0.159 T implied by 0.734 J)
    assert 3.5e9 < spiking < 4.5e9, spiking                   # paper: 3.99 G spike ops
    assert count_macs(model, (224, 224), 8) == ann + spiking


def test_stm_large_is_about_twice_base():
    with torch.device("meta"):
        base = CompressedVideoTransformer(get_model_config("stm-base"))
        large = CompressedVideoTransformer(get_model_config("stm-large"))
    assert 1.7 < count_params(large) / count_params(base) < 2.5


def test_count_macs_matches_a_hand_count():
    # 1 segment, 16 x 16 input, I-frames only, no mixer, tiny widths: every MAC can be listed
    cfg = dict(modalities=("i",), mixer=False, dim=8, depth=1, heads=2, mlp_ratio=2.0, num_classes=3,
               segments=1, input_size=(16, 16), iframe_embed="patch")
    model = create_model("stm-tiny", **cfg)
    n, d = 1, 8
    embed = 3 * 16 * 16 * d                                   # one 16 x 16 patch -> d
    block = n * (d * d + 2 * d * d + d * d) + 2 * n * n * d + n * (d * 2 * d + 2 * d * d)  # q, kv, proj, attn, mlp
    head = d * 3
    assert count_macs(model, (16, 16), 1) == embed + block + head
