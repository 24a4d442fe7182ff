"""ResNets for small (32x32, CIFAR-sized) images, and their "plain" twins without shortcuts.

Two families share the :class:`~course_lib.models.resnet.BasicBlock` of the ImageNet ResNet:

* :func:`cifar_resnet18`: ResNet-18's four stages (64, 128, 256, 512 channels, projection
  shortcuts) behind a 3x3 stride-1 stem with no max pooling, as in the widely used
  ``kuangliu/pytorch-cifar`` version (11,173,962 parameters for 10 classes). The ImageNet stem
  would shrink a 32x32 image to 8x8 before the first block.
* :func:`cifar_resnet`: the CIFAR-10 networks of He et al. 2016, section 4.2: ``6n + 2``
  layers (a 3x3 stem, three stages of ``n`` basic blocks with 16, 32 and 64 channels on
  32x32, 16x16 and 8x8 maps, and the classifier). Depth 20, 32, 44, 56 and 110 are the
  paper's; ResNet-20 has 0.27 M parameters. Where the channels double, the shortcut is the
  paper's option A: subsample by 2 and pad the new channels with zeros (no parameters).

``plain=True`` builds the same network without any shortcut (``y = ReLU(F(x))``), with
exactly the same parameters: the "plain" baseline of the paper's degradation experiment,
in which a deeper plain network trains *worse* than a shallower one while the residual
version of the same depth does not.

Both end with adaptive average pooling, so 32x32 and 64x64 inputs both give
``(B, num_classes)`` logits (``F.avg_pool2d(x, 4)`` would hard-code 32x32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import BasicBlock, conv1x1, conv3x3

__all__ = ["CifarResNet", "ZeroPadShortcut", "cifar_resnet", "cifar_resnet18"]


class ZeroPadShortcut(nn.Module):
    """Parameter-free shortcut (option A of He et al. 2016) for a block that changes shape.

    ``(B, in_channels, H, W) -> (B, out_channels, H/stride, W/stride)``: keeps every
    ``stride``-th pixel and appends ``out_channels - in_channels`` channels of zeros.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"cannot pad {in_channels} channels down to {out_channels}")
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/stride, W/stride)
        # F.pad pads the last dimensions first: (W left, W right, H top, H bottom, C front, C back)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # (B, C_out, H/stride, W/stride)


class CifarResNet(nn.Module):
    """ResNet for small images: ``(B, in_channels, H, W)`` -> ``(B, num_classes)`` logits.

    Made for 32x32; any ``H, W >= 2 ** (len(layers) - 1)`` works. Outputs are logits.

    Args:
        layers: number of :class:`BasicBlock` per stage; the first stage keeps the
            resolution, each later one halves it.
        widths: channels of each stage (same length as ``layers``); the stem outputs ``widths[0]``.
        num_classes: number of output logits.
        in_channels: channels of the input images.
        shortcut: ``"B"`` = strided 1x1 convolution + BatchNorm where the shape changes (as
            torchvision), ``"A"`` = :class:`ZeroPadShortcut` (as He et al. on CIFAR).
        plain: no shortcuts at all (the plain network of the degradation experiment).
        zero_init_residual: start the last BatchNorm of every block at zero (residual only).
    """

    def __init__(self, layers: list[int], widths: list[int], num_classes: int = 10, in_channels: int = 3,
                 shortcut: str = "B", plain: bool = False, zero_init_residual: bool = False) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f"layers {layers} and widths {widths} must have the same length")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' (zero padding) or 'B' (projection), got {shortcut!r}")
        if plain and zero_init_residual:
            raise ValueError("zero_init_residual would switch off every block of a plain network")
        self.shortcut = shortcut
        self.plain = plain
        self.inplanes = widths[0]
        # stem: 3x3, stride 1, no max pooling: (B, in_channels, H, W) -> (B, widths[0], H, W)
        self.conv1 = conv3x3(in_channels, self.inplanes)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.num_stages = len(layers)
        for i, (width, blocks) in enumerate(zip(widths, layers)):
            self.add_module(f"layer{i + 1}", self._make_layer(width, blocks, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1], num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample: nn.Module | None = None
        if not self.plain and (stride != 1 or self.inplanes != planes):
            if self.shortcut == "A":
                downsample = ZeroPadShortcut(self.inplanes, planes, stride)
            else:
                downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        residual = not self.plain
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, residual=residual)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, residual=residual) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # He init for convolutions, as torchvision's ResNet; fc keeps PyTorch's default
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (B, widths[0], H, W)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)  # (B, widths[i], H / 2**i, W / 2**i)
        x = self.avgpool(x)  # (B, widths[-1], 1, 1)
        x = torch.flatten(x, 1)  # (B, widths[-1])
        return self.fc(x)  # (B, num_classes) logits


def cifar_resnet18(*, num_classes: int = 10, in_channels: int = 3, plain: bool = False,
                   zero_init_residual: bool = False) -> CifarResNet:
    """ResNet-18 for 32x32 images (11,173,962 parameters for 10 classes), in train mode.

    Input ``(B, in_channels, 32, 32)`` (64x64 works too), output ``(B, num_classes)`` logits.
    """
    return CifarResNet([2, 2, 2, 2], [64, 128, 256, 512], num_classes=num_classes,
                       in_channels=in_channels, shortcut="B", plain=plain, zero_init_residual=zero_init_residual)


def cifar_resnet(depth: int = 20, *, num_classes: int = 10, in_channels: int = 3, plain: bool = False,
                 shortcut: str = "A", zero_init_residual: bool = False) -> CifarResNet:
    """The CIFAR ResNet of He et al. 2016 with ``depth = 6n + 2`` layers, in train mode.

    ``depth=20`` has 0.27 M parameters (269,722 for 10 classes); ``plain=True`` is the same
    network without shortcuts. ``shortcut="B"`` uses projections instead of zero padding.
    Input ``(B, in_channels, 32, 32)``, output ``(B, num_classes)`` logits.
    """
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
    n = (depth - 2) // 6
    return CifarResNet([n, n, n], [16, 32, 64], num_classes=num_classes, in_channels=in_channels,
                       shortcut=shortcut, plain=plain, zero_init_residual=zero_init_residual)
