"""Pictures of compressed-domain clips, like the paper's Fig. 2: I-frame, raw and accumulated motion (colour wheel),
raw and accumulated residuals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import atomic_path

__all__ = ["flow_to_rgb", "residual_to_rgb", "show_video"]


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel image of a motion field ``(H, W, 2)`` pixels: hue is the direction, saturation the magnitude
    (white = no motion). Returns ``(H, W, 3)`` uint8. ``max_magnitude`` fixes the scale (default: the field's max)."""
    import matplotlib.colors as mcolors

    fx, fy = flow[..., 0], flow[..., 1]
    mag = np.hypot(fx, fy)
    scale = max_magnitude if max_magnitude else float(mag.max()) or 1.0
    hue = (np.arctan2(-fy, -fx) / (2 * np.pi) + 0.5) % 1.0
    sat = np.clip(mag / scale, 0, 1)
    hsv = np.stack([hue, sat, np.ones_like(hue)], axis=-1)
    return (mcolors.hsv_to_rgb(hsv) * 255).astype(np.uint8)


def residual_to_rgb(residual: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Residual ``(H, W, 3)`` in grey levels mapped around mid-grey (128 = zero), contrast-stretched; uint8."""
    s = scale if scale else max(float(np.abs(residual).max()), 1.0)
    return np.clip(128 + residual * (127 / s), 0, 255).astype(np.uint8)


def show_video(path: str | Path, out_dir: str | Path, frames: int = 4) -> list[Path]:
    """Write one PNG per sampled P-frame (``frames`` of them) with five panels (I-frame, raw MV, accumulated MV,
    raw residual, accumulated residual), plus ``overview.png`` with all rows. Returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .codec import read_clip

    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    acc = read_clip(path, segments=frames, accumulate=True)
    raw = read_clip(path, segments=frames, accumulate=False)
    mv_scale = float(max(np.hypot(*np.moveaxis(acc.mvs, -1, 0)).max(), 1.0))
    titles = ["I-frame", "motion (raw)", "motion (accumulated)", "residual (raw)", "residual (accumulated)"]

    def panels(k: int) -> list[np.ndarray]:
        return [acc.iframes[k], flow_to_rgb(raw.mvs[k], mv_scale), flow_to_rgb(acc.mvs[k], mv_scale),
                residual_to_rgb(raw.residuals[k]), residual_to_rgb(acc.residuals[k])]

    written = []
    fig_all, axes_all = plt.subplots(len(acc), 5, figsize=(15, 3 * len(acc)), squeeze=False)
    for k in range(len(acc)):
        fig, axes = plt.subplots(1, 5, figsize=(15, 3.2))
        for ax, ax_all, img, title in zip(axes, axes_all[k], panels(k), titles):
            for a in (ax, ax_all):
                a.imshow(img)
                a.set_xticks([])
                a.set_yticks([])
            ax.set_title(title, fontsize=9)
            if k == 0:
                ax_all.set_title(title, fontsize=9)
        axes_all[k][0].set_ylabel(f"frame {acc.frame_index[k]}", fontsize=9)
        fig.suptitle(f"{path.name}: frame {acc.frame_index[k]} (GOP {acc.gop_index[k]})", fontsize=10)
        fig.tight_layout()
        target = out_dir / f"frame_{int(acc.frame_index[k]):05d}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)
        written.append(target)
    fig_all.tight_layout()
    target = out_dir / "overview.png"
    with atomic_path(target) as tmp:
        fig_all.savefig(tmp, dpi=80, format="png")
    plt.close(fig_all)
    written.append(target)
    return written
