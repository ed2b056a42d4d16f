"""Operation counts, spikes and energy per layer (``neurocv energy``): exact MACs of every conv, linear and
attention matmul, measured synaptic operations of the spiking layers, hardware profiles and the paper's baselines.

>>> from neurocv.energy import load_profile, report_for_card
>>> from neurocv.models.baselines import get_card
>>> report_for_card(get_card("coviar"), load_profile()).table1()["energy_j"]     # ~3.40 J (Table 1: 3.422)
"""

from .counter import LayerCount, count_ops, measure_stm, stm_layers
from .measure import (PAPER_OURS, report_for_card, report_for_model, report_from_run, resolve_model, sample_inputs,
                      torch_speed)
from .profiles import DEFAULT_PROFILE, HardwareProfile, list_profiles, load_profile
from .report import REPORT_SCHEMA, EnergyReport

__all__ = ["LayerCount", "count_ops", "measure_stm", "stm_layers", "HardwareProfile", "load_profile",
           "list_profiles", "DEFAULT_PROFILE", "EnergyReport", "REPORT_SCHEMA", "report_for_model",
           "report_for_card", "report_from_run", "resolve_model", "sample_inputs", "torch_speed", "PAPER_OURS"]
