"""Network definitions: the STM neuron, temporal modulators, the unified transformer, the Multi-Modal Mixer and the
registered variants (``stm-tiny``, ``stm-base``, ``stm-large``).

>>> from neurocv.models import create_model, count_params
>>> model = create_model("stm-tiny", num_classes=10)
>>> logits = model(iframes, mvs, residuals)          # (B, T, 3|2|3, H, W) -> (B, 10)
"""

from .config import ENCODERS, LIF_READOUTS, MODALITIES, NEURONS, ORDERS, POOLS, STMS, ModelConfig
from .network import CompressedVideoTransformer, PatchEmbed
from .neuron import (ArctanHeaviside, LIFNeuron, LIFState, LINeuron, LIState, STMNeuron, STMParams, STMState,
                     arctan_surrogate_grad, heaviside, li_step, lif_step, set_surrogate, stm_step)
from .profile import count_macs, count_params
from .registry import create_model, get_model_config, list_models, model_from_config, register_model
from .stm import ConvLIF, ConvLSTM, FrameConv, LSTMState, SpikingTemporalModulator, build_temporal_modulator

__all__ = [
    "ModelConfig", "MODALITIES", "ORDERS", "ENCODERS", "STMS", "POOLS", "NEURONS", "LIF_READOUTS",
    "CompressedVideoTransformer", "PatchEmbed",
    "STMState", "STMParams", "STMNeuron", "ArctanHeaviside", "heaviside", "arctan_surrogate_grad", "stm_step",
    "set_surrogate", "LIFState", "LIFNeuron", "lif_step", "LIState", "LINeuron", "li_step",
    "ConvLIF", "SpikingTemporalModulator", "FrameConv", "ConvLSTM", "LSTMState", "build_temporal_modulator",
    "register_model", "create_model", "list_models", "get_model_config", "model_from_config",
    "count_params", "count_macs",
]
