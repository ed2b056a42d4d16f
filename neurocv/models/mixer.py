"""Multi-Modal Mixer (paper Sec. 3.3) and the classification heads.

Per segment (the mixer runs on ``B*T`` maps; time was mixed by the STM and the transformer):

1. Token folding: a modality's tokens ``(B, T*h*w, D)`` -> maps ``(B*T, D, h, w)`` (done by the network).
2. Conv folding, one per modality: each token is spread over an ``f x f`` cell (nearest upsampling by
   ``fold_scale = f``), then an overlapping ``Conv2d(D, C, 3, padding=1)`` blends neighbouring tokens
   -> ``(B*T, C, f*h, f*w)``, then GELU.
3. Conv fusion: ``y = Conv3x3(concat_m fold_m) + sum_k PW_k(resample(stm_k))``, then GELU; the skip connections
   bring the low-level STM maps ``stm_k`` (``k`` in mv, r) after pointwise channel mixing ``PW_k`` (1x1 conv),
   average-pooled or nearest-upsampled to the fused resolution.
4. RRDB (ESRGAN): ``RRDB(y) = y + 0.2 * DB_3(DB_2(DB_1(y)))``, each dense block 5 convs (3x3) with growth ``g``,
   LeakyReLU(0.2) and its own ``0.2``-scaled residual.

Heads: :class:`GAPHead` (mean over every position and segment, LayerNorm, Linear) or :class:`ClassTokenHead` (a
learned class token attends to all positions, LayerNorm, Linear), both on ``(B, N, C)`` features.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .transformer import Attention

__all__ = ["ConvFolding", "DenseBlock", "RRDB", "MultiModalMixer", "GAPHead", "ClassTokenHead", "resample"]


def resample(x: torch.Tensor, factor: int, up: bool) -> torch.Tensor:
    """``(N, C, H, W)``: average-pool by ``factor`` (``up=False``) or nearest-upsample by it (``up=True``)."""
    if factor == 1:
        return x
    if up:
        return F.interpolate(x, scale_factor=factor, mode="nearest")
    return F.avg_pool2d(x, factor)


class ConvFolding(nn.Module):
    """``(N, D, h, w) -> (N, C, f*h, f*w)``: nearest upsampling by ``f``, overlapping 3x3 conv, GELU."""

    def __init__(self, dim: int, out_channels: int, scale: int = 1):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(dim, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.conv(resample(x, self.scale, up=True)))


class DenseBlock(nn.Module):
    """ESRGAN residual dense block: ``x + 0.2 * conv5([x, x1, x2, x3, x4])`` with ``x_k = lrelu(conv_k([x, ..]))``."""

    def __init__(self, channels: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + k * growth, growth if k < 4 else channels, 3, padding=1) for k in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for k, conv in enumerate(self.convs):
            y = conv(torch.cat(feats, 1))
            if k < 4:
                feats.append(F.leaky_relu(y, 0.2))
        return x + 0.2 * y


class RRDB(nn.Module):
    """Residual-in-residual dense block: ``x + 0.2 * DB_n(...DB_1(x))``; ``(N, C, H, W) -> (N, C, H, W)``."""

    def __init__(self, channels: int, growth: int = 32, dense_blocks: int = 3):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(channels, growth) for _ in range(dense_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class MultiModalMixer(nn.Module):
    """Conv folding per modality, Conv fusion with STM skip connections, optional RRDB.

    ``forward(folded, skips) -> (B*T, C, f*h, f*w)`` where ``folded`` is one ``(B*T, D, h, w)`` map per modality and
    ``skips`` one ``(B*T, C_k, H_k, W_k)`` STM map per P-modality (empty when skips are off).
    ``skip_resample[k] = (factor, up)`` says how skip ``k`` reaches the fused resolution.
    """

    def __init__(self, dim: int, channels: int, n_modalities: int, fold_scale: int,
                 skip_channels: Sequence[int] = (), skip_resample: Sequence[tuple[int, bool]] = (),
                 rrdb: bool = True, rrdb_growth: int = 32, rrdb_dense_blocks: int = 3):
        super().__init__()
        self.folds = nn.ModuleList(ConvFolding(dim, channels, fold_scale) for _ in range(n_modalities))
        self.fuse = nn.Conv2d(n_modalities * channels, channels, 3, padding=1)
        self.skip_mix = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in skip_channels)
        self.skip_resample = [tuple(r) for r in skip_resample]
        self.rrdb = RRDB(channels, rrdb_growth, rrdb_dense_blocks) if rrdb else nn.Identity()

    def forward(self, folded: Sequence[torch.Tensor], skips: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        if len(skips) != len(self.skip_mix):
            raise ValueError(f"MultiModalMixer expects {len(self.skip_mix)} skip maps, got {len(skips)}")
        y = self.fuse(torch.cat([fold(x) for fold, x in zip(self.folds, folded)], 1))
        for mix, (factor, up), s in zip(self.skip_mix, self.skip_resample, skips):
            y = y + mix(resample(s, factor, up))
        return self.rrdb(F.gelu(y))


class _RobustBatchNorm:
    """BatchNorm that, in training, normalises a batch holding one value per channel (one clip of a DDP rank's last
    shard, a 1 x 1 map) with the running statistics instead of raising."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.numel() == x.shape[1]:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class _BatchNorm1d(_RobustBatchNorm, nn.BatchNorm1d):
    """BatchNorm over the clips of a batch (see :class:`_RobustBatchNorm`)."""


class BatchNorm2d(_RobustBatchNorm, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that takes a batch of one 1 x 1 map in training (see :class:`_RobustBatchNorm`)."""


class GAPHead(nn.Module):
    """``(B, N, C) -> logits (B, classes)``: mean over the N positions, LayerNorm (or BatchNorm), Linear."""

    def __init__(self, channels: int, num_classes: int, norm: str = "ln"):
        super().__init__()
        # "ln": LayerNorm over the channels of each clip; "bn": BatchNorm over the clips of a batch (centres the
        # pooled features across clips, so what tells clips apart is not drowned by what they share)
        self.norm = nn.LayerNorm(channels) if norm == "ln" else _BatchNorm1d(channels)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(x.mean(1)))


class ClassTokenHead(nn.Module):
    """``(B, N, C) -> logits``: a learned class token attends (multi-head, pre-norm) to the N positions,
    ``cls' = cls + Attn(cls, LN(x))``, then LayerNorm and Linear. Replaces GAP in the "class token" ablation."""

    def __init__(self, channels: int, num_classes: int, head_dim: int = 32):
        super().__init__()
        heads = max(1, channels // head_dim)
        while channels % heads:
            heads -= 1
        self.cls = nn.Parameter(torch.zeros(1, 1, channels))
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.norm_x = nn.LayerNorm(channels)
        self.attn = Attention(channels, heads)
        self.norm = nn.LayerNorm(channels)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = self.cls.expand(x.shape[0], -1, -1)
        cls = cls + self.attn(cls, self.norm_x(x))
        return self.fc(self.norm(cls[:, 0]))
