"""LeNet-5 (LeCun et al. 1998) for 28x28 digit images such as MNIST.

The 1998 network reads 32x32 images; MNIST digits are 28x28, so the first convolution pads
by 2, which is the customary way to keep the paper's feature-map sizes (28 -> 14 -> 10 -> 5).

Layer names in the paper and here::

    C1  conv 5x5, 6 maps       features[0]    (B, 1, 28, 28) -> (B, 6, 28, 28)
    S2  subsampling 2x2        features[2]    -> (B, 6, 14, 14)
    C3  conv 5x5, 16 maps      features[3]    -> (B, 16, 10, 10)
    S4  subsampling 2x2        features[5]    -> (B, 16, 5, 5)
    C5  120 units              classifier[0]  (B, 400) -> (B, 120)
    F6  84 units               classifier[2]  -> (B, 84)
    output, 10 units           classifier[4]  -> (B, 10)

Differences from the 1998 paper (the modern textbook version, which trains faster):

* ReLU instead of the scaled tanh ``1.7159 * tanh(2x/3)``;
* max pooling instead of the trainable subsampling (average times a learned weight plus a bias);
* C3 connects to all 6 maps of S2 (the paper used a hand-designed sparse connection table);
* C5 is a fully connected layer on the flattened 16x5x5 maps (equivalent to a 5x5 convolution
  for 28x28 inputs);
* the output layer is a linear layer producing logits for ``nn.CrossEntropyLoss``, not the
  paper's Euclidean radial basis function units.

Common mistake: ``x.view(-1, 16 * 5 * 5)`` lets the batch dimension absorb a wrong input
size (25 images of 32x32 silently become 36 "images"). This model checks the input shape
up front and uses ``torch.flatten(x, 1)``, which keeps the batch dimension.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling: ``(B, in_channels, 28, 28)`` -> ``(B, num_classes)`` logits.

    Args:
        in_channels: channels of the input images (1 for MNIST).
        num_classes: number of output logits (not probabilities).

    Raises:
        ValueError: in ``forward`` when the input is not ``(B, in_channels, 28, 28)``.
    """

    input_size = 28

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),  # C1: (B, 6, 28, 28)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),  # S2: (B, 6, 14, 14)
            nn.Conv2d(6, 16, kernel_size=5),  # C3: (B, 16, 10, 10)
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),  # S4: (B, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),  # C5
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),  # F6
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),  # output layer: logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.input_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, size, size):
            raise ValueError(f"expected (B, {self.in_channels}, {size}, {size}), got {tuple(x.shape)}")
        x = self.features(x)  # (B, 16, 5, 5)
        x = torch.flatten(x, 1)  # (B, 400): keeps the batch dimension
        return self.classifier(x)  # (B, num_classes) logits
