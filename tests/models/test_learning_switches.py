"""The switches of docs/learning.md: the I-frame's conv stem and skip, the BatchNorm head, the auxiliary probes."""

from __future__ import annotations

import pytest
import torch

from neurocv.errors import ConfigError
from neurocv.models import ModelConfig, create_model, get_model_config, model_from_config
from neurocv.models.network import ConvStem, PatchEmbed
from neurocv.training.loop import default_recipe

T = 2


def inputs(b=2, s=32):
    g = torch.Generator().manual_seed(0)
    return (torch.randn(b, T, 3, s, s, generator=g), torch.randn(b, T, 2, s, s, generator=g),
            torch.randn(b, T, 3, s, s, generator=g))


def test_conv_stem_gives_the_patch_embeddings_token_grid():
    x = torch.randn(3, 3, 112, 112)
    for merge, side in ((1, 7), (2, 3)):
        stem, patch = ConvStem(3, 96, 16, merge), PatchEmbed(3, 96, 16, merge)
        assert stem(x).shape == patch(x).shape == (3, 96, side, side)
    with pytest.raises(ConfigError, match="power-of-two"):
        ConvStem(3, 96, 12)


def test_registered_defaults_and_old_checkpoints():
    tiny, base = get_model_config("stm-tiny"), get_model_config("stm-base")
    assert (tiny.iframe_embed, tiny.iframe_skip, tiny.head_norm, tiny.aux_loss) == ("conv", True, "bn", 1.0)
    assert (base.iframe_embed, base.iframe_skip, base.head_norm, base.aux_loss) == ("patch", False, "bn", 0.0)
    old = {k: v for k, v in tiny.to_dict().items() if k not in ("iframe_embed", "iframe_skip", "head_norm",
                                                                "aux_loss")}
    cfg = ModelConfig.from_dict(old)                     # a checkpoint written before the switches
    assert (cfg.iframe_embed, cfg.iframe_skip, cfg.head_norm, cfg.aux_loss) == ("patch", False, "ln", 0.0)
    net = model_from_config(old)
    assert isinstance(net.embed["i"], PatchEmbed) and isinstance(net.head.norm, torch.nn.LayerNorm)
    for bad in (dict(head_norm="gn"), dict(iframe_embed="linear"), dict(aux_loss=-1.0), dict(iframe_skip="yes")):
        with pytest.raises(ConfigError):
            get_model_config("stm-tiny", **bad)


def test_iframe_skip_feeds_conv_fusion_and_learns():
    torch.manual_seed(0)
    net = create_model("stm-tiny", num_classes=4, segments=T)
    assert len(net.mixer.skip_mix) == 3                                 # I-frame, MV, R
    i, mv, r = inputs()
    net(i, mv, r).sum().backward()
    assert net.mixer.skip_mix[0].weight.grad.abs().sum() > 0
    without = create_model("stm-tiny", num_classes=4, segments=T, iframe_skip=False)
    assert len(without.mixer.skip_mix) == 2


def test_batchnorm_head_takes_a_single_clip_in_training_and_is_fixed_in_eval():
    torch.manual_seed(0)
    net = create_model("stm-tiny", num_classes=4, segments=T)
    i, mv, r = inputs(b=1)
    net.train()
    assert torch.isfinite(net(i, mv, r)).all()                         # a DDP rank's one-clip last batch
    net.eval()
    i2, mv2, r2 = inputs(b=3)
    both = net(torch.cat([i, i2]), torch.cat([mv, mv2]), torch.cat([r, r2]))
    assert torch.allclose(both[:1], net(i, mv, r), atol=1e-5)         # eval: a clip's logits ignore the batch


def test_aux_probes_only_in_training():
    torch.manual_seed(0)
    net = create_model("stm-tiny", num_classes=4, segments=T, aux_loss=0.5)
    i, mv, r = inputs()
    net.train()
    net(i, mv, r)
    assert set(net.aux_logits) == {"i", "mv", "r"} and net.aux_logits["i"].shape == (2, 4)
    net.eval()
    net(i, mv, r)
    assert net.aux_logits == {}
    plain = create_model("stm-tiny", num_classes=4, segments=T, aux_loss=0.0)
    assert plain.aux is None
    from neurocv.models.profile import count_params

    # the probes are not part of the deployed network: counted only on request
    assert count_params(net) == count_params(plain) < count_params(net, training_only=True)
    assert create_model("stm-tiny", num_classes=4, segments=T, modalities="i").aux is None   # one modality: none


def test_recipe_defaults():
    tiny, base = default_recipe("stm-tiny"), default_recipe("stm-base")
    assert (tiny.epochs, tiny.batch_size, tiny.lr, tiny.eps) == (50, 8, 1e-3, 1e-8)
    assert (base.epochs, base.batch_size, base.lr, base.eps) == (30, 16, 0.02, 1e-3)
    # the recipes come from a module that does not import torch (the CLI's --help formats its defaults from it)
    import subprocess
    import sys

    code = "import sys, neurocv.recipes; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
