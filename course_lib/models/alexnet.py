"""AlexNet, layer for layer the same network as ``torchvision.models.alexnet``.

This is the single-GPU variant from Krizhevsky's "One weird trick for parallelizing
convolutional neural networks" (2014), which torchvision ships: its first two convolutions
have 64 and 192 channels. The 2012 paper (Krizhevsky, Sutskever & Hinton, "ImageNet
Classification with Deep Convolutional Neural Networks") used 96 and 256 channels split
over two GPUs, and local response normalisation, which this variant drops.

The module names match torchvision's, so a torchvision ``state_dict`` (for example the
ImageNet weights) loads with ``strict=True`` and gives the same logits.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet: ``(B, 3, H, W)`` images -> ``(B, num_classes)`` logits.

    Designed for ``224x224`` ImageNet crops; thanks to the adaptive average pooling before
    the classifier any ``H, W >= 63`` works. Outputs are logits, not probabilities.

    Args:
        num_classes: number of output logits.
        dropout: dropout probability before each of the two hidden fully connected layers.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # (B, 64, 55, 55) at 224
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pooling: (B, 64, 27, 27)
            nn.Conv2d(64, 192, kernel_size=5, padding=2),  # (B, 192, 27, 27)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (B, 192, 13, 13)
            nn.Conv2d(192, 384, kernel_size=3, padding=1),  # (B, 384, 13, 13)
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # (B, 256, 13, 13)
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),  # (B, 256, 13, 13)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # (B, 256, 6, 6)
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # (B, 256, 6, 6) for any input size
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 256, h, w)
        x = self.avgpool(x)  # (B, 256, 6, 6)
        x = torch.flatten(x, 1)  # (B, 9216)
        return self.classifier(x)  # (B, num_classes) logits


def alexnet(*, num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """AlexNet ("one weird trick" variant, 61,100,840 parameters for 1000 classes).

    Returns a freshly initialised model (PyTorch's default init, as in torchvision) in
    train mode. Input ``(B, 3, 224, 224)`` (any ``H, W >= 63``), output ``(B, num_classes)`` logits.
    """
    return AlexNet(num_classes=num_classes, dropout=dropout)
