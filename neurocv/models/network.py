"""The whole network: :class:`CompressedVideoTransformer` (paper Fig. 4).

Inputs, float32: ``iframes (B, T, 3, H, W)``, ``mvs (B, T, 2, H, W)``, ``residuals (B, T, 3, H, W)`` - segment t
holds one (I-frame, accumulated MV, accumulated residual) triplet; any H, W (zero-padded at the bottom/right to a
multiple of ``token_stride = patch_size * token_merge``). Output: ``logits (B, num_classes)``.

Default order T -> LS -> GS (``order="T-LS-GS"``)::

    mv, r  --STM (per modality, over T)-->  u maps (B, T, C', H/S, W/S)            spiking_forward(mvs, residuals)
    i, u   --conv patch embed (patch p, then k x k merge)--> grids (B, T, D, h, w)  \\
           --+ position / segment / modality encodings, flatten, concat--> (B, N, D)  |
           --encoder (global attention)--> token folding --> Multi-Modal Mixer    |  ann_forward(iframes, u_mv, u_r)
           (Conv folding, Conv fusion + STM skips, RRDB) --> GAP --> Linear        /

with ``h = ceil(H / (p*k))`` and ``N = len(modalities) * T * h * w``. The split lets the STM go to neuromorphic
hardware (NIR/Lava) and the rest to ONNX. The other orders apply the temporal modulator to the patch-embedded
maps (``LS-T-GS``) or to the encoder's folded P-frame tokens (``LS-GS-T``); they have no separable spiking prefix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .config import ModelConfig
from .mixer import BatchNorm2d, ClassTokenHead, GAPHead, MultiModalMixer
from .neuron import set_surrogate
from .stm import build_temporal_modulator
from .transformer import PositionEncoding, build_encoder, init_weights

__all__ = ["CompressedVideoTransformer", "PatchEmbed", "ConvStem"]

_IN_CHANNELS = {"i": 3, "mv": 2, "r": 3}


class PatchEmbed(nn.Module):
    """Spatial modulator: ``Conv2d(C, D, k=stride=patch)`` on ``(N, C, H, W)`` (non-overlapping learnable patches),
    then, if ``merge > 1``, ``Conv2d(D, D, k=stride=merge)`` merging ``merge x merge`` patches into one token."""

    def __init__(self, in_channels: int, dim: int, patch: int, merge: int = 1):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.merge = nn.Conv2d(dim, dim, merge, stride=merge) if merge > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(self.proj(x))


class ConvStem(nn.Module):
    """Convolutional patch embedding (Xiao et al. 2021, "Early convolutions help transformers see better"):
    ``log2(patch)`` blocks of ``Conv2d(3x3, stride 2) -> BatchNorm -> GELU`` with channels doubling up to ``dim``,
    then ``Conv2d(dim, dim, 1)`` (and the ``merge`` conv of :class:`PatchEmbed`): ``(N, C, H, W) ->
    (N, D, H/patch/merge, W/patch/merge)``, the same token grid as :class:`PatchEmbed`, with local, overlapping,
    nonlinear features inside each patch instead of one linear map of its pixels."""

    def __init__(self, in_channels: int, dim: int, patch: int, merge: int = 1):
        super().__init__()
        n = patch.bit_length() - 1
        if patch < 2 or 1 << n != patch:
            raise ConfigError(f"iframe_embed='conv' needs a power-of-two patch_size >= 2, got {patch}")
        chans = [max(8, dim >> (n - 1 - k)) for k in range(n)]
        layers, c = [], in_channels
        for out in chans:
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1, bias=False), BatchNorm2d(out), nn.GELU()]
            c = out
        self.stem = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c, dim, 1)
        self.merge = nn.Conv2d(dim, dim, merge, stride=merge) if merge > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(self.proj(self.stem(x)))


class CompressedVideoTransformer(nn.Module):
    """Build from a :class:`ModelConfig` (see :func:`neurocv.models.create_model` for named variants)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        cfg = self.config = config
        d, mods, pm = cfg.dim, cfg.modalities, cfg.p_modalities
        self.early = cfg.order == "T-LS-GS"
        n_layers = len(cfg.stm_channels)
        if self.early:
            t_channels, t_strides = cfg.stm_channels, cfg.stm_strides
        else:  # the modulator works on D-channel token maps, at token resolution
            t_channels, t_strides = (*cfg.stm_channels[:-1], d), (1,) * n_layers
        kw = dict(v_th=cfg.v_th, leak=cfg.leak, width=cfg.surrogate_width, neuron=cfg.neuron,
                  readout=cfg.lif_readout, leak_grid=cfg.lif_leak)
        self.temporal = nn.ModuleDict()
        if pm and cfg.stm == "common":
            self.temporal["p"] = build_temporal_modulator(cfg.stm, 3 if self.early else d, t_channels, t_strides,
                                                          cfg.stm_kernel, **kw)
        else:
            for k in pm:
                c_in = _IN_CHANNELS[k] if self.early else d
                self.temporal[k] = build_temporal_modulator(cfg.stm, c_in, t_channels, t_strides, cfg.stm_kernel,
                                                            **kw)
        self.embed = nn.ModuleDict()
        for k in mods:
            if k != "i" and self.early:
                self.embed[k] = PatchEmbed(t_channels[-1], d, cfg.patch_size // cfg.stm_stride, cfg.token_merge)
            elif k == "i" and cfg.iframe_embed == "conv":
                self.embed[k] = ConvStem(_IN_CHANNELS[k], d, cfg.patch_size, cfg.token_merge)
            else:
                self.embed[k] = PatchEmbed(_IN_CHANNELS[k], d, cfg.patch_size, cfg.token_merge)
        self.pos = PositionEncoding(d, cfg.segments, cfg.token_grid(), len(mods))
        self.encoder = build_encoder(cfg.encoder, d, cfg.depth, cfg.heads, cfg.mlp_ratio, len(mods))
        self.mixer = None
        if cfg.mixer:
            skip_ch, skip_rs = [], []
            if cfg.skips and cfg.iframe_skip and "i" in mods:    # the I-frame's own embedding, unnormalised
                skip_ch.append(d)
                skip_rs.append(self._skip_resample(cfg.token_stride))
            if cfg.skips:
                for _ in pm:
                    skip_ch.append(t_channels[-1])
                    skip_rs.append(self._skip_resample())
            self.mixer = MultiModalMixer(d, cfg.mixer_dim, len(mods), cfg.fold_scale, skip_ch, skip_rs, cfg.rrdb,
                                         cfg.rrdb_growth, cfg.rrdb_dense_blocks)
        # training only: one linear probe per modality on its encoder tokens (aux_loss > 0, see ModelConfig)
        self.aux = nn.ModuleDict({m: GAPHead(d, cfg.num_classes, cfg.head_norm) for m in mods}) \
            if cfg.aux_loss > 0 and len(mods) > 1 else None
        self.aux_logits: dict[str, torch.Tensor] = {}
        head_ch = cfg.mixer_dim if cfg.mixer else d
        self.head = GAPHead(head_ch, cfg.num_classes, cfg.head_norm) if cfg.pool == "gap" else ClassTokenHead(head_ch,
                                                                                              cfg.num_classes)
        init_weights(self)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _skip_resample(self, src: int | None = None) -> tuple[int, bool]:
        """How a map of stride ``src`` (default: the STM maps') reaches the fused map (stride ``token_stride /
        fold_scale``): (factor, upsample?)."""
        cfg = self.config
        if src is None:
            src = cfg.stm_stride if self.early else cfg.token_stride  # STM map stride, in input pixels
        dst_num, dst_den = cfg.token_stride, cfg.fold_scale          # fused stride = dst_num / dst_den
        if (dst_num % (src * dst_den)) == 0:
            return dst_num // (src * dst_den), False
        return (src * dst_den) // dst_num, True

    def _check(self, x: torch.Tensor | None, name: str, channels: int, ref: tuple | None) -> tuple | None:
        if x is None:
            return ref
        if x.dim() != 5 or x.shape[2] != channels:
            raise ValueError(f"{name}: expected (B, T, {channels}, H, W), got {tuple(x.shape)}")
        if ref is not None and (tuple(x.shape[:2]) + tuple(x.shape[3:])) != ref:
            raise ValueError(f"{name}: batch, segments and H, W must match the other inputs {ref}, "
                             f"got {tuple(x.shape)}")
        return tuple(x.shape[:2]) + tuple(x.shape[3:])

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad ``(..., H, W)`` at the bottom/right to multiples of ``token_stride``."""
        s = self.config.token_stride
        ph, pw = -x.shape[-2] % s, -x.shape[-1] % s
        return F.pad(x, (0, pw, 0, ph)) if ph or pw else x

    def _temporal(self, k: str, x: torch.Tensor) -> torch.Tensor:
        if self.config.stm == "common":
            if self.early and x.shape[2] == 2:          # shared STM takes 3 channels: MV gets a zero third channel
                x = F.pad(x, (0, 0, 0, 0, 0, 1))
            return self.temporal["p"](x)[0]
        return self.temporal[k](x)[0]

    def _embed(self, k: str, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.embed[k](x.flatten(0, 1)).unflatten(0, (b, t))

    @staticmethod
    def _flatten(grid: torch.Tensor) -> torch.Tensor:
        """``(B, T, D, h, w) -> (B, T*h*w, D)`` in (t, y, x) order."""
        b, t, d, h, w = grid.shape
        return grid.permute(0, 1, 3, 4, 2).reshape(b, t * h * w, d)

    # -- public ----------------------------------------------------------------------------------------------------
    def spiking_forward(self, mvs: torch.Tensor | None, residuals: torch.Tensor | None
                        ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The temporal modulators alone (order T-LS-GS): ``mvs (B, T, 2, H, W)``, ``residuals (B, T, 3, H, W)`` ->
        ``(mv_maps, r_maps)``, each ``(B, T, C', H_pad/S, W_pad/S)`` (analog ``u`` of the last STM layer) or
        ``None`` for a modality the config leaves out. Each call starts from rest (state reset per clip)."""
        if not self.early:
            raise ConfigError(f"spiking_forward needs order='T-LS-GS' (the STM is not a prefix of the network for "
                              f"order={self.config.order!r}); call forward instead")
        ref = self._check(mvs, "mvs", 2, None)
        self._check(residuals, "residuals", 3, ref)
        out = []
        for k, x in (("mv", mvs), ("r", residuals)):
            if k in self.config.modalities:
                if x is None:
                    raise ValueError(f"the model uses modality {k!r} but its input is None")
                out.append(self._temporal(k, self.pad(x)))
            else:
                out.append(None)
        return out[0], out[1]

    def ann_forward(self, iframes: torch.Tensor | None, mv_maps: torch.Tensor | None,
                    r_maps: torch.Tensor | None) -> torch.Tensor:
        """Everything after the STM (order T-LS-GS): ``iframes (B, T, 3, H, W)`` and the outputs of
        :meth:`spiking_forward` -> ``logits (B, num_classes)``."""
        if not self.early:
            raise ConfigError(f"ann_forward needs order='T-LS-GS', got {self.config.order!r}; call forward instead")
        mods = self.config.modalities
        grids, skips = {}, {}
        if "i" in mods:
            if iframes is None:
                raise ValueError("the model uses modality 'i' but iframes is None")
            self._check(iframes, "iframes", 3, None)
            grids["i"] = self._embed("i", self.pad(iframes))
        for k, maps in (("mv", mv_maps), ("r", r_maps)):
            if k in mods:
                if maps is None:
                    raise ValueError(f"the model uses modality {k!r} but its STM maps are None")
                grids[k] = self._embed(k, maps)
                skips[k] = maps
        return self._classify(grids, skips)

    def forward(self, iframes: torch.Tensor, mvs: torch.Tensor, residuals: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W), (B, T, 2, H, W), (B, T, 3, H, W) -> logits (B, num_classes)``."""
        ref = self._check(iframes, "iframes", 3, None)
        ref = self._check(mvs, "mvs", 2, ref)
        self._check(residuals, "residuals", 3, ref)
        if self.early:
            return self.ann_forward(iframes, *self.spiking_forward(mvs, residuals))
        grids, skips = {}, {}
        for k, x in (("i", iframes), ("mv", mvs), ("r", residuals)):
            if k in self.config.modalities:
                grids[k] = self._embed(k, self.pad(x))
                if k != "i" and self.config.order == "LS-T-GS":
                    grids[k] = skips[k] = self._temporal(k, grids[k])
        return self._classify(grids, skips)

    def _classify(self, grids: dict[str, torch.Tensor], skips: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg = self.config
        mods = list(cfg.modalities)
        b, t, _, h, w = grids[mods[0]].shape
        if self.training:                     # modality dropout (ModelConfig's training regularisers)
            pm = [k for k in cfg.p_modalities if k in grids]
            for p, names, ok in ((cfg.iframe_dropout, ["i"], "i" in grids and len(mods) > 1),
                                 (cfg.pframe_dropout, pm, "i" in grids and pm),
                                 (cfg.mv_dropout, ["mv"], "mv" in grids and len(grids) > 1)):
                if p > 0 and ok:
                    grids, skips = _drop_clips(grids, skips, names, p, b)
        tokens = [self._flatten(self.pos(grids[m], i)) for i, m in enumerate(mods)]
        out = self.encoder(tokens)
        # token folding: (B, T*h*w, D) -> (B, T, D, h, w)
        enc = {m: x.reshape(b, t, h, w, -1).permute(0, 1, 4, 2, 3) for m, x in zip(mods, out)}
        self.aux_logits = {m: self.aux[m](x) for m, x in zip(mods, out)} if self.aux is not None and \
            self.training else {}
        if cfg.order == "LS-GS-T":
            for k in cfg.p_modalities:
                enc[k] = skips[k] = self._temporal(k, enc[k])
        if self.mixer is None:
            return self.head(torch.cat([self._flatten(enc[m]) for m in mods], 1))
        skip_list = [skips[k].flatten(0, 1) for k in cfg.p_modalities] if cfg.skips else []
        if cfg.skips and cfg.iframe_skip and "i" in grids:
            skip_list.insert(0, grids["i"].flatten(0, 1))
        y = self.mixer([enc[m].flatten(0, 1) for m in mods], skip_list)      # (B*T, C, h', w')
        return self.head(self._flatten(y.unflatten(0, (b, t))))

    # -- bookkeeping -----------------------------------------------------------------------------------------------
    def config_dict(self) -> dict:
        """The config as plain Python types (what checkpoints store); :func:`model_from_config` rebuilds it."""
        return self.config.to_dict()

    def set_surrogate(self, enabled: bool) -> "CompressedVideoTransformer":
        """Surrogate gradient (training) or plain Heaviside (export) in every STM neuron."""
        return set_surrogate(self, enabled)

    def tokens(self, size: tuple[int, int] | None = None, segments: int | None = None) -> int:
        """Tokens the encoder attends over for one clip of ``size`` (default ``input_size``) and ``segments``."""
        return self.config.tokens(size, segments)


def _drop_clips(grids: dict, skips: dict, names: list, p: float, b: int) -> tuple[dict, dict]:
    """Zero the token grids ``names`` (and their 5-D STM skips) of each of the ``b`` clips with probability ``p``:
    one draw per clip from torch's global generator, shared by every named modality."""
    keep = (torch.rand(b, device=grids[names[0]].device) >= p).view(b, 1, 1, 1, 1)
    grids = {**grids, **{k: grids[k] * keep.to(grids[k].dtype) for k in names}}
    skips = {**skips, **{k: skips[k] * keep.to(skips[k].dtype) for k in names
                         if k in skips and skips[k].dim() == 5}}
    return grids, skips
