"""neurocv: compressed-domain video action recognition, from the stored bitstream to hybrid neuromorphic hardware.

Data flow (one idea per sub-package): video -> :mod:`neurocv.codec` (I-frames, motion vectors, residuals)
-> :mod:`neurocv.data` (datasets, augmentation, cache) -> :mod:`neurocv.models` -> :mod:`neurocv.exporters`
-> runtime -> energy report.
"""

__version__ = "0.1.0"
