"""The paper's compressed-domain baselines as real torch networks, with model cards and evaluation protocols.

Built here (no torchvision), compactly, to be measured by :mod:`neurocv.energy` with the same op counter as our
own model, usually on the ``meta`` device (no weights in memory):

* :class:`ResNet` - ResNet-18 (BasicBlock, [2, 2, 2, 2]) and ResNet-152 (Bottleneck, [3, 8, 36, 3]) of He et al.
  2016, any number of input channels (MVs have 2). Input ``(N, C, H, W)`` -> logits ``(N, classes)``.
* :class:`C3D` - Tran et al. 2015: eight 3x3x3 convs (64, 128, 256, 256, 512, 512, 512, 512), five max-pools
  (the first 1x2x2), fc6/fc7 4096. Input ``(N, C, 16, 112, 112)`` -> logits ``(N, classes)``.

A :class:`BaselineCard` lists a method's streams (one network per compressed modality), its protocol
(``segments x crops`` views) and its Table 1 row. Cards live in this module's own registry (:func:`get_card`,
:func:`list_cards`), separate from the registry of our variants; ``neurocv energy coviar`` consults it.

How the cards meet Table 1's energy (45 nm, 4.6 pJ/MAC; our exact counts, which match torchvision's 11.51 G
for ResNet-152 and 1.81 G for ResNet-18 at 224 x 224, and 38.55 G for C3D at 16 x 112 x 112):

* MVs and residuals exist only for P-frames: with the paper's MPEG-4 GOP of 12 (one I-frame, 11 P-frames) a
  P-frame stream runs on 11/12 of the sampled frame positions (its ``duty``), the I-frame stream on all of them.
* CV-C3D (dos Santos et al. 2019): C3D on I-frames, MVs and residuals (235.2 M parameters with 101 classes:
  Table 1's 235.3 M), one 16-frame 112 x 112 clip ("16 x 1"): 38.55 + 11/12 x (38.20 + 38.55) = 108.90 G MACs
  -> 0.5009 J (Table 1: 0.501 J). Without the 11/12 duty: 115.30 G, 0.530 J (+5.9 %).
* CoViAR (Wu et al. 2018): ResNet-152 on I-frames, ResNet-18 on MVs and on residuals, 224 x 224 crops. Table 1
  says 8 x 10 views and 0.74 T (3.422 J), but 8 x 10 views cost 80 x 14.80 G = 1.18 T (5.45 J): 0.74 T / 80 =
  9.3 G per view is less than one ResNet-152. The views that reproduce 0.74 T are 5 segments x 10 crops (the
  Table's ten crops): 50 x 14.80 G = 0.740 T -> 3.404 J (-0.5 %); the card uses this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet152", "C3D", "Stream", "BaselineCard",
           "register_card", "get_card", "list_cards"]


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out)]


class BasicBlock(nn.Module):
    """``relu(x' + bn(conv3(relu(bn(conv3(x))))))``; ``x'`` = x or a strided 1x1 projection."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        c_out = width * self.expansion
        self.body = nn.Sequential(*_conv_bn(c_in, width, 3, stride), nn.ReLU(inplace=True), *_conv_bn(width, c_out, 3))
        self.short = (nn.Sequential(*_conv_bn(c_in, c_out, 1, stride)) if stride != 1 or c_in != c_out
                      else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


class Bottleneck(BasicBlock):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, plus shortcut (ResNet v1.5: stride on the 3x3)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        nn.Module.__init__(self)
        c_out = width * self.expansion
        self.body = nn.Sequential(*_conv_bn(c_in, width, 1), nn.ReLU(inplace=True),
                                  *_conv_bn(width, width, 3, stride), nn.ReLU(inplace=True),
                                  *_conv_bn(width, c_out, 1))
        self.short = (nn.Sequential(*_conv_bn(c_in, c_out, 1, stride)) if stride != 1 or c_in != c_out
                      else nn.Identity())


class ResNet(nn.Module):
    """ImageNet-style ResNet: 7x7/2 stem, 3x3/2 max-pool, four stages (widths 64..512), GAP, Linear."""

    def __init__(self, block: type[BasicBlock], layers: tuple[int, ...], in_channels: int = 3,
                 num_classes: int = 101):
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(in_channels, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, c = [], 64
        for i, n in enumerate(layers):
            width = 64 * 2 ** i
            blocks = []
            for j in range(n):
                blocks.append(block(c, width, 2 if (j == 0 and i > 0) else 1))
                c = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.stages(self.stem(x)).mean((2, 3)))


def resnet18(in_channels: int = 3, num_classes: int = 101) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels, num_classes)


def resnet152(in_channels: int = 3, num_classes: int = 101) -> ResNet:
    return ResNet(Bottleneck, (3, 8, 36, 3), in_channels, num_classes)


class C3D(nn.Module):
    """C3D (Tran et al. 2015) for ``(N, C, 16, 112, 112)`` clips; pool5 pads H, W by 1 so fc6 sees 512x1x4x4."""

    def __init__(self, in_channels: int = 3, num_classes: int = 101):
        super().__init__()
        plan = [(64, 1), (128, 1), (256, 2), (512, 2), (512, 2)]        # (channels, convs) per stage
        layers, c = [], in_channels
        for stage, (width, n) in enumerate(plan):
            for _ in range(n):
                layers += [nn.Conv3d(c, width, 3, padding=1), nn.ReLU(inplace=True)]
                c = width
            kernel = (1, 2, 2) if stage == 0 else (2, 2, 2)
            layers.append(nn.MaxPool3d(kernel, kernel, padding=(0, 1, 1) if stage == 4 else 0))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(8192, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 4096),
                                        nn.ReLU(inplace=True), nn.Linear(4096, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


_NETWORKS: dict[str, Callable[..., nn.Module]] = {"resnet18": resnet18, "resnet152": resnet152, "c3d": C3D}


@dataclass(frozen=True)
class Stream:
    """One network of a baseline: ``network`` on ``modality`` (``i`` / ``mv`` / ``r``) with ``in_channels``
    channels and ``input_shape`` ``(H, W)`` (2-D nets) or ``(T, H, W)`` (3-D nets) per view; ``duty`` the
    fraction of views it runs in (P-frame streams: 11/12 of the frame positions with a GOP of 12).

    ``segments`` / ``crops``: the views of this stream per video, where they differ from the card's protocol
    (None: the card's, or the ``--segments`` / ``--crops`` override)."""

    name: str
    modality: str
    network: str
    in_channels: int
    input_shape: tuple[int, ...]
    segments: int | None = None
    crops: int | None = None
    duty: float = 1.0

    def build(self, num_classes: int) -> nn.Module:
        return _NETWORKS[self.network](in_channels=self.in_channels, num_classes=num_classes)


@dataclass(frozen=True)
class BaselineCard:
    """A baseline's model card: streams, default protocol ``segments x crops``, Table 1 row (``paper``) and a
    note on how its views compose (``composition``)."""

    name: str
    title: str
    citation: str
    streams: tuple[Stream, ...]
    segments: int
    crops: int
    paper: dict = field(default_factory=dict)
    composition: str = ""
    num_classes: int = 101

    def views(self, stream: Stream, segments: int | None = None, crops: int | None = None) -> float:
        """Views of ``stream`` per video (``segments x crops x duty``); ``segments`` / ``crops`` override the
        card's protocol for every stream."""
        s = segments if segments is not None else (stream.segments or self.segments)
        c = crops if crops is not None else (stream.crops or self.crops)
        return s * c * stream.duty

    def build(self, stream: Stream) -> nn.Module:
        return stream.build(self.num_classes)


_CARDS: dict[str, BaselineCard] = {}


def register_card(card: BaselineCard) -> BaselineCard:
    if card.name in _CARDS:
        raise ConfigError(f"baseline card {card.name!r} is already registered")
    _CARDS[card.name] = card
    return card


def list_cards() -> list[str]:
    return sorted(_CARDS)


def get_card(name: str) -> BaselineCard:
    if name not in _CARDS:
        raise ConfigError(f"unknown baseline {name!r}; known: {', '.join(list_cards())}")
    return _CARDS[name]


_P_DUTY = 11 / 12      # P-frames per frame in the paper's MPEG-4 GOP (1 I-frame + 11 P-frames)
_CITE_TABLE = "Table 1 of the paper (UCF-101; energy on 45 nm CMOS, 4.6 pJ/MAC)"

register_card(BaselineCard(
    name="coviar", title="CoViAR: ResNet-152 (I) + ResNet-18 (MV) + ResNet-18 (R)",
    citation="C.-Y. Wu et al., Compressed Video Action Recognition, CVPR 2018",
    streams=(Stream("iframe", "i", "resnet152", 3, (224, 224)),
             Stream("mv", "mv", "resnet18", 2, (224, 224), duty=_P_DUTY),
             Stream("residual", "r", "resnet18", 3, (224, 224), duty=_P_DUTY)),
    segments=5, crops=10,
    paper={"views": "8x10", "params_m": 81.72, "tflops_ann": 0.74, "gflops_spike": None, "energy_j": 3.422,
           "speed_videos_per_s": 1.585, "source": _CITE_TABLE},
    composition="5 segments x 10 crops of ResNet-152 on the I-frame and ResNet-18 on the MV and on the residual "
                "(those two on 11/12 of the positions: P-frames of a GOP of 12); Table 1's 8x10 views would be "
                "1.18 T MACs (5.45 J), so its 0.74 T matches 5x10 views"))

register_card(BaselineCard(
    name="cv-c3d", title="CV-C3D: C3D (I) + C3D (MV) + C3D (R)",
    citation="S. F. dos Santos, N. Sebe, J. Almeida, CV-C3D: action recognition on compressed videos with "
             "convolutional 3D networks, SIBGRAPI 2019",
    streams=(Stream("iframe", "i", "c3d", 3, (16, 112, 112)),
             Stream("mv", "mv", "c3d", 2, (16, 112, 112), duty=_P_DUTY),
             Stream("residual", "r", "c3d", 3, (16, 112, 112), duty=_P_DUTY)),
    segments=1, crops=1,
    paper={"views": "16x1", "params_m": 235.3, "tflops_ann": 0.11, "gflops_spike": None, "energy_j": 0.501,
           "speed_videos_per_s": 1.259, "source": _CITE_TABLE},
    composition="one 16-frame 112x112 clip through C3D on I-frames, MVs and residuals, the MV and residual "
                "networks on 11/12 of it (P-frames of a GOP of 12): 108.9 G MACs"))
