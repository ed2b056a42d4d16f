"""Read one video's compressed-domain triplets and look at them.

    .venv/bin/python examples/read_clip.py VIDEO
"""

import sys

import numpy as np

from neurocv.codec import probe, read_clip

path = sys.argv[1]
index = probe(path)
print(f"{index.codec} {index.width}x{index.height}, {index.n_frames} frames, keyframes at {index.keyframes.tolist()}")

clip = read_clip(path, segments=8)  # test mode: the centre P-frame of each of 8 spans, traced back to its I-frame
for k, t in enumerate(clip.frame_index):
    speed = np.linalg.norm(clip.mvs[k], axis=-1)
    print(f"frame {t:4d} (GOP {clip.gop_index[k]}): mean accumulated motion {speed.mean():5.2f} px, "
          f"mean |residual| {np.abs(clip.residuals[k]).mean():5.2f}")
