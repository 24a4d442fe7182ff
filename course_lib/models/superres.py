"""Single-image super-resolution (notebook 12): degradation, bicubic baseline, SRCNN, SRResNet.

Every network here takes the **low-resolution** image ``(B, C, h, w)`` in [0, 1] and returns
``(B, C, s*h, s*w)``: the output depends on the input it upsamples (one of the source
articles' "super-resolution" generators was fed noise and had no upsampling layer at all).

* :func:`downsample` makes the LR image the way the papers do: bicubic with antialiasing.
* :func:`bicubic_upsample` is the baseline every learned model must beat.
* :class:`SRCNN` (Dong et al. 2014): three convolutions (9-1-5) on the bicubic upsample.
* :class:`SRResNet` (Ledig et al. 2017): residual trunk at low resolution, then sub-pixel
  convolution (``nn.PixelShuffle``) blocks. Scale 3 uses one x3 stage; other scales must be
  powers of two (the articles' ``int(math.log(3, 2))`` silently built a x2 network for x3).

``residual=True`` makes a network predict a correction added to the bicubic upsample, with
its last convolution initialised to zero, so it *starts* as the bicubic baseline: on a CPU
budget this is what lets a small network beat bicubic at all.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["downsample", "bicubic_upsample", "upsampling_stages", "SRCNN", "SRResNet", "SRResidualBlock"]


def _check_images(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} expects float images (B, C, H, W) in [0, 1], got {got}")


def downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, H/scale, W/scale)``: bicubic with antialiasing, clamped to [0, 1].

    H and W must be multiples of ``scale`` (crop first), so that upsampling the result gives
    back exactly the HR size.
    """
    _check_images("downsample", hr)
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    H, W = hr.shape[-2:]
    if H % scale or W % scale:
        raise ValueError(f"H and W must be multiples of scale={scale}, got {H}x{W}; "
                         f"crop to {H - H % scale}x{W - W % scale} first")
    lr = F.interpolate(hr, size=(H // scale, W // scale), mode="bicubic", align_corners=False, antialias=True)
    return lr.clamp(0, 1)


def bicubic_upsample(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """``(B, C, h, w)`` -> ``(B, C, scale*h, scale*w)`` by bicubic interpolation, clamped to [0, 1]."""
    _check_images("bicubic_upsample", lr)
    h, w = lr.shape[-2:]
    up = F.interpolate(lr, size=(scale * h, scale * w), mode="bicubic", align_corners=False)
    return up.clamp(0, 1)


def upsampling_stages(scale: int) -> list[int]:
    """Factors of the PixelShuffle stages for ``scale``: 2 -> [2], 4 -> [2, 2], 8 -> [2, 2, 2], 3 -> [3].

    Any other scale raises ``ValueError``: a silent ``int(math.log(scale, 2))`` would build a
    network for the wrong scale.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
        raise ValueError(f"scale must be an int >= 2, got {scale!r}")
    if scale == 3:
        return [3]
    if scale & (scale - 1):
        raise ValueError(f"scale must be 3 or a power of two (2, 4, 8, ...), got {scale}: "
                         f"{scale} cannot be built from x2 PixelShuffle stages")
    return [2] * (scale.bit_length() - 1)


class SRCNN(nn.Module):
    """SRCNN 9-1-5 (Dong et al. 2014) applied to the bicubic upsample of the LR input.

    ``(B, C, h, w)`` -> ``(B, C, s*h, s*w)``. Layers: conv 9x9 (``n1``) - ReLU - conv 1x1
    (``n2``) - ReLU - conv 5x5 (``C``), "same" padding (the paper used "valid" and a smaller
    target). With ``residual=True`` the output is ``bicubic + net(bicubic)`` and the last
    layer starts at zero.
    """

    def __init__(self, scale: int, channels: int = 3, n1: int = 64, n2: int = 32, residual: bool = True) -> None:
        super().__init__()
        upsampling_stages(scale)  # validates the scale
        self.scale, self.residual = scale, residual
        self.body = nn.Sequential(
            nn.Conv2d(channels, n1, 9, padding=4), nn.ReLU(inplace=True),   # (B, n1, sh, sw)
            nn.Conv2d(n1, n2, 1), nn.ReLU(inplace=True),                    # (B, n2, sh, sw)
            nn.Conv2d(n2, channels, 5, padding=2),                          # (B, C, sh, sw)
        )
        if residual:
            nn.init.zeros_(self.body[-1].weight)
            nn.init.zeros_(self.body[-1].bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        _check_images("SRCNN", lr)
        up = bicubic_upsample(lr, self.scale)  # (B, C, sh, sw)
        out = self.body(up)
        return up + out if self.residual else out


class SRResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN plus the identity (SRResNet's block). Shape preserving.

    The skip adds the block's *input*; no in-place activation touches it (the articles'
    ``residual = x`` followed by ``ReLU(inplace=True)`` overwrote the skip).
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features), nn.PReLU(features),
            nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet (Ledig et al. 2017): ``(B, C, h, w)`` -> ``(B, C, s*h, s*w)``.

    head conv 9x9 + PReLU -> ``num_blocks`` residual blocks -> conv 3x3 + BN, plus the head's
    output (global skip) -> one ``conv (F -> F*r²) + PixelShuffle(r) + PReLU`` stage per factor
    ``r`` of :func:`upsampling_stages` -> conv 9x9 to ``C`` channels. The paper's network has
    ``features=64, num_blocks=16``; the course trains a smaller one on a CPU.

    ``residual=True``: output = bicubic upsample + network, last conv zero-initialised, so an
    untrained model equals the bicubic baseline. ``residual=False`` is the paper's form
    (output in [0, 1] is then learned from scratch).
    """

    def __init__(self, scale: int = 4, channels: int = 3, features: int = 64, num_blocks: int = 16,
                 residual: bool = False) -> None:
        super().__init__()
        stages = upsampling_stages(scale)
        self.scale, self.residual = scale, residual
        self.head = nn.Sequential(nn.Conv2d(channels, features, 9, padding=4), nn.PReLU(features))  # (B, F, h, w)
        self.trunk = nn.Sequential(
            *[SRResidualBlock(features) for _ in range(num_blocks)],
            nn.Conv2d(features, features, 3, padding=1, bias=False), nn.BatchNorm2d(features),
        )
        up: list[nn.Module] = []
        for r in stages:  # (B, F, h, w) -> (B, F*r², h, w) -> (B, F, r*h, r*w)
            up += [nn.Conv2d(features, features * r * r, 3, padding=1), nn.PixelShuffle(r), nn.PReLU(features)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(features, channels, 9, padding=4)  # (B, C, sh, sw)
        if residual:
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        _check_images("SRResNet", lr)
        if lr.shape[1] != self.head[0].in_channels:
            raise ValueError(f"SRResNet expects {self.head[0].in_channels} channels, got {tuple(lr.shape)}")
        f = self.head(lr)                   # (B, F, h, w)
        f = f + self.trunk(f)               # global skip
        out = self.tail(self.upsample(f))   # (B, C, s*h, s*w)
        return bicubic_upsample(lr, self.scale) + out if self.residual else out
