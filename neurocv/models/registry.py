"""Named model variants, created by one factory (the timm pattern).

``register_model`` adds a function ``fn(**overrides) -> ModelConfig`` under a name; ``create_model(name,
**overrides)`` builds the network; ``model_from_config(config_or_dict)`` rebuilds one from a checkpoint's config.

Sizes at 8 segments, 224 x 224, all three modalities (``count_params``; ``count_macs``, split into the
spiking part - the STMs - and the ANN part):

=========  ========  ==========  ===========  ================================================================
variant    params    ANN MACs    STM MACs     layout
=========  ========  ==========  ===========  ================================================================
stm-tiny   0.77 M    10.50 G     0.19 G       D=96, 2 blocks, STM (16, 16), 14 x 14 tokens/modality at 224
                     (1.031 G)   (0.047 G)    (at its 112 x 112 training size: 7 x 7 tokens, N = 1,176)
stm-base   83.21 M   155.25 G    3.99 G       D=768, 9 blocks, STM (64, 128), 7 x 7 tokens/modality, N = 1,176
stm-large  171.26 M  300.03 G    3.99 G       D=1024, 11 blocks, STM (64, 128), same token layout
=========  ========  ==========  ===========  ================================================================

How stm-base meets the paper's "Ours" (83.41 M parameters, 0.15 T MACs + 3.99 G spike ops; the 0.734 J of
Table 1 at 4.6 pJ/MAC + 0.9 pJ/AC implies 0.159 T MACs):

* Tokens. A ViT-B wide block (D=768) holds ~7.1 M parameters and costs ``N * 7.1 M + 2 N^2 D`` MACs for N tokens.
  With patch 16 alone a clip has 3 x 8 x 14 x 14 = 4,704 tokens: ~67 G MACs per block, so two blocks would spend
  the whole budget with ~70 M parameters left unplaced. The paper's ratio (~1,900 MACs per parameter) puts N near
  1,200-1,400, so the spatial modulator embeds 16 x 16 patches and merges 2 x 2 of them (stride-2 conv): 7 x 7 = 49
  tokens per modality, 147 per segment, N = 1,176 per 8-segment clip. 9 blocks = 63.7 M parameters, 94 G MACs.
* The STM, channels (64, 128) at strides (2, 2), is sized so its dense count (3.99 G MACs over 8 segments and both
  P-modalities) equals the paper's 3.99 G spike ops; on hardware only spikes cost, so that is an upper bound.
  Its 56 x 56 output maps are patch-embedded with 4 x 4 kernels (= 16 input pixels).
* The Multi-Modal Mixer folds the tokens back to a 28 x 28 grid (fold_scale 4: each token covers 4 x 4 cells,
  blended by overlapping 3 x 3 convs), where the 56 x 56 STM skips join after 2 x 2 average pooling; fusion and
  the RRDB (192 channels, growth 48) run there: 8.4 M parameters, ~53 G MACs. Blocks alone cannot reach the
  paper's MACs-per-parameter ratio (they do ~1,480); the mixer's high-resolution convs (~6,300) close the gap.

stm-large is "Ours-L": the paper gives no size, but its energy (1.40 J vs 0.73 J) implies ~1.9x the MACs of
"Ours"; D=1024 (16 heads), 11 blocks and a 256-channel mixer give 2.06x the parameters and 1.93x the ANN MACs.
stm-tiny (8 segments, 112 x 112, its training size) keeps one token per 16 x 16 patch and runs the mixer on the
7 x 7 token grid; its I-frame goes through a convolutional stem whose embedding also joins Conv fusion, and every
variant batch-normalises its pooled features (``docs/learning.md``).
"""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

from ..errors import ConfigError
from .config import ModelConfig
from .network import CompressedVideoTransformer

__all__ = ["register_model", "create_model", "list_models", "get_model_config", "model_from_config"]

_MODELS: dict[str, Callable[..., ModelConfig]] = {}


def register_model(name: str | Callable | None = None):
    """Decorator: ``@register_model`` (name from the function, ``_`` -> ``-``) or ``@register_model("my-net")``.
    The function takes keyword overrides and returns a :class:`ModelConfig`."""

    def deco(fn: Callable[..., ModelConfig], key: str | None = None):
        key = key or fn.__name__.replace("_", "-")
        if key in _MODELS:
            raise ConfigError(f"model {key!r} is already registered")
        _MODELS[key] = fn
        return fn

    if callable(name):
        return deco(name)
    return lambda fn: deco(fn, name)


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    """The config of a registered variant with ``overrides`` applied (no weights are built)."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    return _MODELS[name](**overrides)


def create_model(name: str, **overrides: Any) -> CompressedVideoTransformer:
    """Build a registered variant, e.g. ``create_model("stm-tiny", num_classes=51, stm="lstm")``."""
    return CompressedVideoTransformer(get_model_config(name, **overrides))


def model_from_config(config: ModelConfig | dict) -> CompressedVideoTransformer:
    """Rebuild a network from a :class:`ModelConfig` or its ``to_dict()`` form (randomly initialised)."""
    return CompressedVideoTransformer(ModelConfig.from_dict(config))


@register_model
def stm_tiny(**overrides: Any) -> ModelConfig:
    # iframe_embed / iframe_skip / head_norm / aux_loss: the recipe of docs/learning.md (a convolutional stem for the
    # I-frame, its embedding also fed to Conv fusion as the STM maps are, the pooled features batch-normalised, and
    # a per-modality probe on the encoder tokens in the training loss; the probes exist in training only)
    return ModelConfig(input_size=(112, 112), patch_size=16, token_merge=1, dim=96, depth=2, heads=3,
                       stm_channels=(16, 16), stm_strides=(2, 2), mixer_dim=64, fold_scale=1, rrdb_growth=16,
                       rrdb_dense_blocks=1, iframe_embed="conv", iframe_skip=True,
                       head_norm="bn", aux_loss=1.0).replace(**overrides)


@register_model
def stm_base(**overrides: Any) -> ModelConfig:
    return ModelConfig(input_size=(224, 224), patch_size=16, token_merge=2, dim=768, depth=9, heads=12,
                       stm_channels=(64, 128), stm_strides=(2, 2), mixer_dim=192, fold_scale=4, rrdb_growth=48,
                       rrdb_dense_blocks=3, head_norm="bn").replace(**overrides)


@register_model
def stm_large(**overrides: Any) -> ModelConfig:
    return ModelConfig(input_size=(224, 224), patch_size=16, token_merge=2, dim=1024, depth=11, heads=16,
                       stm_channels=(64, 128), stm_strides=(2, 2), mixer_dim=256, fold_scale=4, rrdb_growth=64,
                       rrdb_dense_blocks=3, head_norm="bn").replace(**overrides)
