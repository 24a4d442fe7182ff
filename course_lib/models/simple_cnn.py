"""SimpleCNN: a small convolutional classifier that accepts any input size.

Three stages of ``conv 3x3 -> BatchNorm -> ReLU -> max pool 2x2`` double the channels and
halve the resolution each time. ``nn.AdaptiveAvgPool2d(1)`` then averages every channel
over whatever spatial size is left, so the classifier always sees ``4 * width`` features:
a CIFAR-sized ``(B, 3, 32, 32)`` and an ImageNet-sized ``(B, 3, 224, 224)`` batch both
give ``(B, num_classes)`` logits.

Common mistake: flattening the last feature map straight into ``nn.Linear(C * H * W, ...)``
hard-codes one input size (``Linear(128 * 28 * 28, 512)`` only works at 224x224 and holds
51 M weights on its own). Global average pooling removes both problems.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SimpleCNN"]


class SimpleCNN(nn.Module):
    """A size-agnostic CNN: ``(B, in_channels, H, W)`` images -> ``(B, num_classes)`` logits.

    Args:
        in_channels: channels of the input images (3 for RGB, 1 for greyscale).
        num_classes: number of output logits (not probabilities: apply softmax yourself,
            or pass them to ``nn.CrossEntropyLoss``).
        width: channels of the first stage; the stages have ``width``, ``2 * width`` and
            ``4 * width`` channels.

    Any ``H, W >= 8`` works (three 2x2 poolings must leave at least one pixel).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        c1, c2, c3 = width, 2 * width, 4 * width
        self.features = nn.Sequential(
            # stage 1: (B, in_channels, H, W) -> (B, c1, H/2, W/2)
            nn.Conv2d(in_channels, c1, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            # stage 2: -> (B, c2, H/4, W/4)
            nn.Conv2d(c1, c2, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            # stage 3: -> (B, c3, H/8, W/8)
            nn.Conv2d(c2, c3, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # (B, c3, h, w) -> (B, c3, 1, 1) for any h, w
        self.classifier = nn.Linear(c3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 4*width, H/8, W/8)
        x = self.avgpool(x)  # (B, 4*width, 1, 1)
        x = torch.flatten(x, 1)  # (B, 4*width)
        return self.classifier(x)  # (B, num_classes) logits
