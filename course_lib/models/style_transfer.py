"""Feed-forward style transfer (Johnson et al. 2016) and AdaIN (Huang & Belongie 2017)."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["TransformerNet", "StyleResidualBlock", "adain"]


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """Reflection padding + convolution: no zero border for the network to learn around."""
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(in_ch, out_ch, kernel, stride))


class StyleResidualBlock(nn.Module):
    """Two 3x3 conv + InstanceNorm layers with an identity shortcut (unique name on purpose)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True), nn.ReLU(),
            _conv(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # (B, C, H, W)


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network, with a width knob for CPU budgets.

    Two stride-2 downsamplings, ``n_res`` residual blocks, then nearest upsampling followed
    by a convolution (instead of a transposed convolution, which leaves checkerboards).

    Args:
        base: channels of the first layer (paper: 32); the bottleneck has ``4 * base``.
        n_res: number of residual blocks (paper: 5).

    Input ``(B, 3, H, W)`` in [0, 1] with ``H`` and ``W`` divisible by 4; output the same
    shape, in [0, 1] (sigmoid).
    """

    def __init__(self, base: int = 32, n_res: int = 5) -> None:
        super().__init__()
        c1, c2, c3 = base, 2 * base, 4 * base
        self.encoder = nn.Sequential(
            _conv(3, c1, 9), nn.InstanceNorm2d(c1, affine=True), nn.ReLU(),
            _conv(c1, c2, 3, stride=2), nn.InstanceNorm2d(c2, affine=True), nn.ReLU(),
            _conv(c2, c3, 3, stride=2), nn.InstanceNorm2d(c3, affine=True), nn.ReLU(),
        )
        self.residuals = nn.Sequential(*[StyleResidualBlock(c3) for _ in range(n_res)])
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(c3, c2, 3),
            nn.InstanceNorm2d(c2, affine=True), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(c2, c1, 3),
            nn.InstanceNorm2d(c1, affine=True), nn.ReLU(),
            _conv(c1, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"TransformerNet expects (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise ValueError(f"TransformerNet needs H and W divisible by 4 (two stride-2 layers), "
                             f"got {tuple(x.shape[-2:])}")
        h = self.encoder(x)  # (B, 4*base, H/4, W/4)
        h = self.residuals(h)  # (B, 4*base, H/4, W/4)
        return torch.sigmoid(self.decoder(h))  # (B, 3, H, W)


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation: ``sigma_s * (x - mu_c) / sigma_c + mu_s`` per channel.

    Args:
        content_feat: ``(B, C, H, W)``.
        style_feat: ``(B or 1, C, H', W')`` (spatial size may differ).
        eps: added to the variance before the square root.

    Returns:
        ``(B, C, H, W)`` whose per-channel mean and std equal the style's (up to ``eps``).
    """
    if content_feat.dim() != 4 or style_feat.dim() != 4:
        raise ValueError(f"adain expects (B, C, H, W) tensors, got {tuple(content_feat.shape)} "
                         f"and {tuple(style_feat.shape)}")
    if content_feat.shape[1] != style_feat.shape[1]:
        raise ValueError(f"adain: channel counts differ, content {content_feat.shape[1]} vs style {style_feat.shape[1]}")
    c_mean = content_feat.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    c_std = (content_feat.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()
    s_mean = style_feat.mean(dim=(2, 3), keepdim=True)
    s_std = (style_feat.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()
    return s_std * (content_feat - c_mean) / c_std + s_mean  # (B, C, H, W)
