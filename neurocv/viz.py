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


def colour_wheel(size: int = 101, max_magnitude: float = 1.0) -> np.ndarray:
    """The key of :func:`flow_to_rgb`: the colour of every motion ``(dx, dy)`` up to ``max_magnitude`` pixels, as
    an ``(size, size, 3)`` uint8 image with +x to the right and +y down (image axes); white outside the disc."""
    r = np.linspace(-1.0, 1.0, size)
    fx, fy = np.meshgrid(r, r)
    img = flow_to_rgb(np.stack([fx, fy], -1) * max_magnitude, max_magnitude)
    img[np.hypot(fx, fy) > 1.0] = 255
    return img


def _draw_key(ax, scale: float) -> None:
    ax.imshow(colour_wheel(max_magnitude=scale), extent=(-scale, scale, scale, -scale))
    ax.set_title("motion key", fontsize=8)
    ax.set_xlabel(f"dx (px); full colour\n= {scale:.1f} px or more", fontsize=7)
    ax.set_ylabel("dy (px, down)", fontsize=7)
    ax.tick_params(labelsize=6)


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
    widths = {"width_ratios": [1, 1, 1, 1, 1, 0.7]}
    fig_all, axes_all = plt.subplots(len(acc), 6, figsize=(17, 3 * len(acc) + 0.5), squeeze=False,
                                     gridspec_kw=widths)
    for k in range(len(acc)):
        fig, axes = plt.subplots(1, 6, figsize=(17, 3.4), gridspec_kw=widths)
        _draw_key(axes[5], mv_scale)
        if k == 0:
            _draw_key(axes_all[k][5], mv_scale)
        else:
            axes_all[k][5].axis("off")
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
    fig_all.suptitle(f"{path.name}: {len(acc)} sampled P-frames (motion: hue = direction"
                     f", saturation = magnitude, full at {mv_scale:.1f} px; residuals: grey = 0)",
                     fontsize=11)
    fig_all.tight_layout()
    target = out_dir / "overview.png"
    with atomic_path(target) as tmp:
        fig_all.savefig(tmp, dpi=80, format="png")
    plt.close(fig_all)
    written.append(target)
    return written
