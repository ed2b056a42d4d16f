"""The operation counter lives in :mod:`neurocv.models.opcount` (below the exporters, which count the int8
partition's MACs with it); this module keeps its public names where they were."""

from ..models.opcount import LayerCount, _fan_in_counts, ann_counts, count_ops, measure_stm, stm_layers  # noqa: F401

__all__ = ["LayerCount", "count_ops", "measure_stm", "stm_layers", "ann_counts"]
