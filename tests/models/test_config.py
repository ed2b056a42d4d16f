"""ModelConfig validation and the registry's errors: every bad value raises ConfigError naming field and choices."""

from __future__ import annotations

import pytest
import torch

from neurocv.errors import ConfigError
from neurocv.models import registry
from neurocv.models import ModelConfig, create_model, get_model_config, list_models, model_from_config, register_model


@pytest.mark.parametrize("overrides, message", [
    (dict(order="GS-T-LS"), r"order must be one of \('T-LS-GS', 'LS-GS-T', 'LS-T-GS'\), got 'GS-T-LS'"),
    (dict(encoder="fused"), r"encoder must be one of \('unified', 'separate', 'cross'\)"),
    (dict(stm="gru"), r"stm must be one of \('stm', 'none', 'common', 'lstm', 'fixed'\)"),
    (dict(pool="max"), r"pool must be one of \('gap', 'cls'\)"),
    (dict(modalities=("i", "rgb")), r"modalities must be a non-empty subset of \('i', 'mv', 'r'\)"),
    (dict(modalities=()), "modalities"),
    (dict(modalities=("i", "i")), "without repeats"),
    (dict(mixer="yes"), "mixer must be True or False"),
    (dict(skips=1), "skips must be True or False"),
    (dict(dim=100, heads=12), r"dim \(100\) must be divisible by heads \(12\)"),
    (dict(depth=0), "depth must be an int >= 1"),
    (dict(num_classes=2.5), "num_classes must be an int"),
    (dict(stm_channels=(8, 8, 8)), "same length"),
    (dict(stm_strides=(4, 8)), r"multiple of the STM's total stride"),
    (dict(stm_kernel=4), "stm_kernel must be odd"),
    (dict(leak=1.0), r"leak must be in \(0, 1\)"),
    (dict(v_th=0.0), "v_th must be > 0"),
    (dict(input_size=(0, 10)), "input_size"),
    (dict(encoder="cross", modalities=("i",)), "at least 2 modalities"),
    (dict(fold_scale=3), "fold_scale"),
    (dict(iframe_dropout=1.0), r"iframe_dropout must be a probability in \[0, 1\), got 1.0"),
    (dict(iframe_dropout=-0.1), "iframe_dropout"),
    (dict(pframe_dropout=1.0), r"pframe_dropout must be a probability in \[0, 1\), got 1.0"),
    (dict(mv_dropout=1.0), r"mv_dropout must be a probability in \[0, 1\), got 1.0"),
])
def test_invalid_values_raise_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**overrides)
    with pytest.raises(ConfigError, match=message):
        create_model("stm-tiny", **overrides)


def test_normalisation_and_round_trip():
    cfg = ModelConfig(modalities="r,i", input_size=112, stm_channels=[8, 16])
    assert cfg.modalities == ("i", "r") and cfg.input_size == (112, 112) and cfg.stm_channels == (8, 16)
    d = cfg.to_dict()
    assert d["modalities"] == ["i", "r"] and isinstance(d["stm_channels"], list)
    assert ModelConfig.from_dict(d) == cfg
    with pytest.raises(AttributeError):
        cfg.dim = 3  # frozen


def test_registry_errors():
    with pytest.raises(ConfigError, match="unknown model 'stm-huge'.*stm-base"):
        create_model("stm-huge")
    with pytest.raises(ConfigError, match=r"unknown model option\(s\) \['widht'\]"):
        get_model_config("stm-tiny", widht=3)
    with pytest.raises(ConfigError, match="unknown model option"):
        model_from_config({"dim": 64, "bogus": 1})
    with pytest.raises(ConfigError, match="must be a dict"):
        model_from_config([1, 2])
    with pytest.raises(ConfigError, match="already registered"):
        register_model("stm-tiny")(lambda **kw: ModelConfig(**kw))


def test_register_a_new_variant():
    @register_model("test-micro-net")
    def _micro(**overrides):
        return get_model_config("stm-tiny", dim=24, heads=2, **overrides)

    try:
        assert "test-micro-net" in list_models()
        model = create_model("test-micro-net", num_classes=2, segments=1)
    finally:
        registry._MODELS.pop("test-micro-net", None)
    assert "test-micro-net" not in list_models()
    assert model.config.dim == 24
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 3, 16, 16), torch.zeros(1, 1, 2, 16, 16),
                     torch.zeros(1, 1, 3, 16, 16)).shape == (1, 2)
