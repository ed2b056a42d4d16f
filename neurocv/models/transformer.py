"""Global spatio-temporal-modality attention (paper Sec. 3.3): position encodings and the three encoder variants.

Token layout of one clip: each modality ``m`` contributes a ``(B, T, D, h, w)`` grid, flattened in ``(t, y, x)``
order to ``(B, T*h*w, D)``; the unified encoder concatenates the modalities in the order ``i, mv, r``, i.e.
``N = len(modalities) * T * h * w`` tokens, all attending to all (global self-attention).

Attention is ``softmax(q k^T / sqrt(d_head)) v`` through ``F.scaled_dot_product_attention`` (exports to ONNX opset
14+ as MatMul/Softmax; FLOP counting uses its math path). Blocks are pre-norm:
``x = x + Attn(LN(x), LN(ctx)); x = x + MLP(LN(x))`` with ``MLP = Linear -> GELU -> Linear``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Attention", "Block", "PositionEncoding", "UnifiedEncoder", "SeparateEncoder", "CrossEncoder",
           "build_encoder", "init_weights"]


def init_weights(module: nn.Module) -> None:
    """ViT-style init: truncated normal (std 0.02) Linear weights, zero biases; LayerNorm (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class Attention(nn.Module):
    """Multi-head attention of queries ``x (B, N, D)`` over ``ctx (B, M, D)`` (``ctx=None``: self-attention)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        ctx = x if ctx is None else ctx
        q = self.q(x).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        k, v = self.kv(ctx).reshape(b, ctx.shape[1], 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)            # (B, heads, N, d_head)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block; ``cross=True`` adds a LayerNorm for the context tokens."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, cross: bool = False):
        super().__init__()
        hidden = int(round(dim * mlp_ratio))
        self.norm1 = nn.LayerNorm(dim)
        self.norm_ctx = nn.LayerNorm(dim) if cross else None
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, None if self.norm_ctx is None else self.norm_ctx(ctx))
        return x + self.mlp(self.norm2(x))


class PositionEncoding(nn.Module):
    """Learned spatio-temporal position + modality encodings, added to a ``(B, T, D, h, w)`` token grid:
    ``x + spatial[:, :, y, x] + temporal[t] + modality[m]``.

    ``spatial`` is stored for the config's grid ``(gh, gw)`` and bilinearly resized for any other ``(h, w)``;
    ``temporal`` is stored for ``segments`` steps and linearly resized for another ``T``.
    """

    def __init__(self, dim: int, segments: int, grid: tuple[int, int], n_modalities: int):
        super().__init__()
        self.spatial = nn.Parameter(torch.zeros(1, dim, *grid))
        self.temporal = nn.Parameter(torch.zeros(segments, dim))
        self.modality = nn.Parameter(torch.zeros(n_modalities, dim))
        for p in (self.spatial, self.temporal, self.modality):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        t, d, h, w = x.shape[1:]
        sp = self.spatial
        if tuple(sp.shape[-2:]) != (h, w):
            sp = F.interpolate(sp, size=(h, w), mode="bilinear", align_corners=False)
        tp = self.temporal
        if tp.shape[0] != t:
            tp = F.interpolate(tp.t()[None], size=t, mode="linear", align_corners=False)[0].t()
        return x + sp[:, None] + (tp + self.modality[modality])[None, :, :, None, None]


class UnifiedEncoder(nn.Module):
    """One transformer over the concatenation of every modality's tokens (the paper's unified encoder)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float, n_modalities: int):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``tokens``: one ``(B, N_m, D)`` per modality -> the same shapes after ``depth`` blocks."""
        sizes = [t.shape[1] for t in tokens]
        x = torch.cat(list(tokens), 1)
        for blk in self.blocks:
            x = blk(x)
        return list(self.norm(x).split(sizes, 1))


class SeparateEncoder(nn.Module):
    """One transformer (``depth`` blocks) per modality, no interaction; the mixer fuses their outputs."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float, n_modalities: int):
        super().__init__()
        self.encoders = nn.ModuleList(
            nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth)) for _ in range(n_modalities))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(n_modalities))

    def forward(self, tokens: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for x, blocks, norm in zip(tokens, self.encoders, self.norms):
            for blk in blocks:
                x = blk(x)
            out.append(norm(x))
        return out


class CrossEncoder(nn.Module):
    """One transformer per modality whose attention takes queries from its own tokens and keys/values only from the
    other modalities' tokens (all modalities updated in lock-step, layer by layer)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float, n_modalities: int):
        super().__init__()
        if n_modalities < 2:
            raise ValueError("CrossEncoder needs at least two modalities")
        self.encoders = nn.ModuleList(
            nn.ModuleList(Block(dim, heads, mlp_ratio, cross=True) for _ in range(depth))
            for _ in range(n_modalities))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(n_modalities))
        self.depth = depth

    def forward(self, tokens: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        xs = list(tokens)
        for layer in range(self.depth):
            xs = [self.encoders[m][layer](xs[m], torch.cat([x for k, x in enumerate(xs) if k != m], 1))
                  for m in range(len(xs))]
        return [norm(x) for x, norm in zip(xs, self.norms)]


def build_encoder(kind: str, dim: int, depth: int, heads: int, mlp_ratio: float, n_modalities: int) -> nn.Module:
    cls = {"unified": UnifiedEncoder, "separate": SeparateEncoder, "cross": CrossEncoder}[kind]
    return cls(dim, depth, heads, mlp_ratio, n_modalities)
