"""Stream every P-frame of a video without holding it in memory (what `neurocv cache` stores).

    .venv/bin/python examples/stream_all_pframes.py VIDEO
"""

import sys

import numpy as np

from neurocv.codec import iter_pframes

for pos, gop, iframe, mv, residual in iter_pframes(sys.argv[1]):
    print(pos, gop, f"max motion {np.abs(mv).max():.1f} px", f"max |residual| {np.abs(residual).max():.0f}")
