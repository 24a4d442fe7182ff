"""VGG (Simonyan & Zisserman 2014), layer for layer the same networks as torchvision's.

The architectures are data: each configuration in ``cfgs`` lists the output channels of the
3x3 convolutions, and ``"M"`` marks a 2x2 max pooling that closes a block. Configurations
"A", "B", "D" and "E" are four of the six columns of Table 1 of the paper (VGG-11, -13, -16
and -19, the ones torchvision builds; A-LRN and C are left out).
Every network has five blocks, so it pools exactly five times (224 -> 7); pooling after
every convolution (13 pools for VGG-16) would shrink the image to nothing.

Builders are given for VGG-11 and VGG-16; the other depths are one line away:
``VGG(make_layers(cfgs["E"], batch_norm=True))`` is torchvision's ``vgg19_bn``.

The module names match torchvision's, so a torchvision ``state_dict`` loads with
``strict=True`` and gives the same logits.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["VGG", "cfgs", "make_layers", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]

# Channels of each 3x3 convolution; "M" = 2x2 max pooling (end of a block).
cfgs: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-11
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-13
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],  # VGG-16
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],  # VGG-19
}


def make_layers(cfg: list[int | str], batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """Turn a configuration list into the convolutional part of a VGG.

    Each integer ``c`` becomes ``Conv2d(prev, c, 3, padding=1)`` (+ ``BatchNorm2d(c)`` when
    ``batch_norm``) + ``ReLU``; each ``"M"`` becomes ``MaxPool2d(2, 2)``. A ``(B, in_channels,
    H, W)`` input leaves as ``(B, last_channels, H / 2**k, W / 2**k)`` for ``k`` pools.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif isinstance(v, int):
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
        else:
            raise ValueError(f"expected a channel count or 'M' in the config, got {v!r}")
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG classifier: ``(B, 3, H, W)`` images -> ``(B, num_classes)`` logits.

    ``features`` is the output of :func:`make_layers` (512 channels at the end). An adaptive
    average pooling to 7x7 lets any ``H, W >= 32`` through; at 224x224 it does nothing.
    Outputs are logits, not probabilities.

    Args:
        features: the convolutional blocks.
        num_classes: number of output logits.
        init_weights: Kaiming-normal convolutions (fan_out), N(0, 0.01) linear layers,
            zero biases, BatchNorm scale 1 and shift 0, as torchvision does.
        dropout: dropout probability after each of the two hidden fully connected layers.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 512, H/32, W/32)
        x = self.avgpool(x)  # (B, 512, 7, 7)
        x = torch.flatten(x, 1)  # (B, 25088)
        return self.classifier(x)  # (B, num_classes) logits


def _vgg(cfg: str, batch_norm: bool, num_classes: int, dropout: float) -> VGG:
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), num_classes=num_classes, dropout=dropout)


def vgg11(*, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-11 (configuration "A", 132,863,336 parameters for 1000 classes), in train mode."""
    return _vgg("A", False, num_classes, dropout)


def vgg11_bn(*, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-11 with BatchNorm after every convolution (132,868,840 parameters), in train mode."""
    return _vgg("A", True, num_classes, dropout)


def vgg16(*, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-16 (configuration "D", 138,357,544 parameters for 1000 classes), in train mode.

    Input ``(B, 3, 224, 224)`` (any ``H, W >= 32``), output ``(B, num_classes)`` logits.
    """
    return _vgg("D", False, num_classes, dropout)


def vgg16_bn(*, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-16 with BatchNorm after every convolution (138,365,992 parameters), in train mode."""
    return _vgg("D", True, num_classes, dropout)
