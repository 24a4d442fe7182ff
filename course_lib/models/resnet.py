"""ResNet (He et al. 2016, "Deep Residual Learning for Image Recognition") for ImageNet.

Layer for layer the same networks as torchvision's ``resnet18``, ``resnet34`` and
``resnet50``: same module names (``conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc``;
inside a block ``conv1, bn1, ..., downsample``), so a torchvision ``state_dict`` loads with
``strict=True`` and gives the same logits.

A residual block computes ``y = ReLU(F(x) + W_s x)``: ``F`` is two 3x3 convolutions
(:class:`BasicBlock`) or a 1x1 -> 3x3 -> 1x1 bottleneck (:class:`Bottleneck`), and the
shortcut ``W_s`` is the identity, or a strided 1x1 convolution + BatchNorm (``downsample``)
where the block changes the resolution or the number of channels (the paper's option B).

The stem (7x7 stride-2 convolution and 3x3 stride-2 max pooling) and the four stages halve
the resolution five times in total: a 224x224 image reaches ``layer4`` at 7x7.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "conv1x1", "conv3x3", "resnet18", "resnet34", "resnet50"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution with no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut: ``(B, inplanes, H, W) -> (B, planes, H/stride, W/stride)``.

    Args:
        inplanes: input channels.
        planes: output channels (``expansion = 1``).
        stride: stride of the first convolution (2 halves the resolution).
        downsample: the shortcut applied to ``x`` when its shape differs from the output
            (torchvision uses ``Sequential(conv1x1, BatchNorm2d)``); ``None`` = identity.
        residual: ``False`` drops the shortcut altogether, giving the block of a "plain"
            network (``y = ReLU(F(x))``) for the degradation experiment of He et al.
    """

    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 residual: bool = True) -> None:
        super().__init__()
        if not residual and downsample is not None:
            raise ValueError("a block without a shortcut (residual=False) cannot have a downsample")
        self.residual = residual
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x

        out = self.conv1(x)  # (B, planes, H/stride, W/stride)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.residual:
            if self.downsample is not None:
                identity = self.downsample(x)  # shortcut with the output's shape
            out += identity  # F(x) + x
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand: ``(B, inplanes, H, W) -> (B, 4 * planes, H/stride, W/stride)``.

    As in torchvision (ResNet "v1.5"), the stride sits on the 3x3 convolution; the paper put
    it on the first 1x1 convolution, which is slightly less accurate.

    Args:
        inplanes: input channels.
        planes: channels of the inner 3x3 convolution; the block outputs ``expansion * planes``.
        stride: stride of the 3x3 convolution.
        downsample: the shortcut applied to ``x`` when its shape differs from the output.
    """

    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x

        out = self.conv1(x)  # (B, planes, H, W)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)  # (B, planes, H/stride, W/stride)
        out = self.bn2(out)
        out = self.relu(out)

        out = self.conv3(out)  # (B, 4*planes, H/stride, W/stride)
        out = self.bn3(out)

        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """ImageNet ResNet: ``(B, 3, H, W)`` images -> ``(B, num_classes)`` logits.

    Designed for 224x224; the adaptive average pooling accepts any ``H, W >= 32``. Outputs
    are logits, not probabilities.

    Args:
        block: :class:`BasicBlock` (ResNet-18/34) or :class:`Bottleneck` (ResNet-50 and deeper).
        layers: number of blocks in each of the four stages, e.g. ``[2, 2, 2, 2]``.
        num_classes: number of output logits.
        zero_init_residual: start the last BatchNorm of every block at zero, so that each
            residual branch starts as the identity (Goyal et al. 2017); off by default,
            as in torchvision.
    """

    def __init__(self, block: type[BasicBlock | Bottleneck], layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"expected 4 stage depths, got {layers}")
        self.inplanes = 64
        # stem: (B, 3, H, W) -> (B, 64, H/4, W/4)
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # four stages: channels double and the resolution halves from layer2 on
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            # projection shortcut (option B): match the output's channels and resolution
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # He et al. 2015 ("Delving deep into rectifiers") for convolutions; fc keeps PyTorch's default
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # (B, 64, H/2, W/2)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)  # (B, 64, H/4, W/4)

        x = self.layer1(x)  # (B, 64 * e, H/4, W/4), e = block.expansion
        x = self.layer2(x)  # (B, 128 * e, H/8, W/8)
        x = self.layer3(x)  # (B, 256 * e, H/16, W/16)
        x = self.layer4(x)  # (B, 512 * e, H/32, W/32)

        x = self.avgpool(x)  # (B, 512 * e, 1, 1)
        x = torch.flatten(x, 1)  # (B, 512 * e)
        return self.fc(x)  # (B, num_classes) logits


def _resnet(block: type[BasicBlock | Bottleneck], layers: list[int], num_classes: int,
            zero_init_residual: bool) -> ResNet:
    return ResNet(block, layers, num_classes=num_classes, zero_init_residual=zero_init_residual)


def resnet18(*, num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-18 (11,689,512 parameters for 1000 classes), freshly initialised, in train mode.

    Input ``(B, 3, 224, 224)`` (any ``H, W >= 32``), output ``(B, num_classes)`` logits.
    """
    return _resnet(BasicBlock, [2, 2, 2, 2], num_classes, zero_init_residual)


def resnet34(*, num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-34 (21,797,672 parameters for 1000 classes), freshly initialised, in train mode."""
    return _resnet(BasicBlock, [3, 4, 6, 3], num_classes, zero_init_residual)


def resnet50(*, num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-50 (25,557,032 parameters for 1000 classes), freshly initialised, in train mode.

    Uses :class:`Bottleneck` blocks: ``layer4`` outputs 2048 channels.
    """
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes, zero_init_residual)
