"""DnCNN (Zhang, Zuo, Chen, Meng and Zhang 2017, "Beyond a Gaussian Denoiser: Residual Learning
of Deep CNN for Image Denoising"): a plain stack of 3x3 convolutions that predicts the **noise**.

With a noisy image ``y = x + n``, the network ``R`` estimates the noise ``n`` and the denoised
image is the residual ``x_hat = y - R(y)`` ("residual learning"). Predicting the noise is easier
than predicting the image: at moderate noise levels ``R`` only has to output something close to
zero mean and small, whatever the image content::

    conv 3x3 (C -> F) -> ReLU                                      (B, F, H, W)
    [conv 3x3 (F -> F) -> BatchNorm -> ReLU] x (depth - 2)          (B, F, H, W)
    conv 3x3 (F -> C)                              = R(y), the noise (B, C, H, W)
    x_hat = y - R(y)                                                 (B, C, H, W)

Every convolution has stride 1 and padding 1, so **the output has exactly the input's shape, for
any H and W** (no down- or up-sampling: a denoiser must not change the size; see the common
mistake in notebook 07). The receptive field is ``2 * depth + 1`` pixels.

Train it against **clean** targets, ``loss = MSE(model(noisy), clean)``. Against its own noisy
input (``MSE(model(noisy), noisy)``) the best possible answer is the identity, and the network
learns nothing useful (``tests/test_autoencoders.py`` demonstrates both).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DnCNN"]


class DnCNN(nn.Module):
    """Residual denoiser: ``(B, C, H, W)`` noisy images -> ``(B, C, H, W)`` denoised images.

    Args:
        channels: image channels ``C`` (1 grey, 3 colour).
        depth: number of convolutions (the paper: 17; 6 to 10 train in minutes on a CPU).
        features: width ``F`` of the hidden convolutions (the paper: 64).
        batch_norm: BatchNorm in the middle layers, as in the paper.

    ``forward(y)`` returns ``y - predict_noise(y)``; it is not clamped (clamp to [0, 1] for
    display and metrics). ``predict_noise(y)`` returns the residual ``R(y)`` itself.
    """

    def __init__(self, channels: int = 1, depth: int = 8, features: int = 32, batch_norm: bool = True) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2 (first and last convolution), got {depth}")
        self.channels = channels
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(features))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, channels, 3, padding=1))  # the noise estimate, any sign
        self.body = nn.Sequential(*layers)

    def predict_noise(self, y: torch.Tensor) -> torch.Tensor:
        """The estimated noise ``R(y)``, ``(B, C, H, W)``."""
        if y.ndim != 4 or y.shape[1] != self.channels:
            raise ValueError(f"expected noisy images (B, {self.channels}, H, W), got {tuple(y.shape)}")
        return self.body(y)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Denoised images ``y - R(y)``, same shape as ``y``."""
        return y - self.predict_noise(y)
