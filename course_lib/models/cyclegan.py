"""CycleGAN networks: a ResNet generator and a PatchGAN discriminator (Zhu et al. 2017).

CycleGAN learns two mappings between unpaired image domains, ``G_AB: A -> B`` and
``G_BA: B -> A``, each judged by a discriminator of its target domain. The losses (adversarial
on the discriminators' logits, cycle consistency, identity) live in :mod:`course_lib.losses`;
this file holds the networks only.

Generator (Johnson et al. 2016, as used by CycleGAN; ``F = base_channels``, 2 down-samplings)::

    (B, C_in, H, W)
    ReflectionPad 3, conv 7x7            -> (B, F, H, W)        InstanceNorm ReLU
    conv 3x3 stride 2                    -> (B, 2F, H/2, W/2)   InstanceNorm ReLU
    conv 3x3 stride 2                    -> (B, 4F, H/4, W/4)   InstanceNorm ReLU
    num_blocks x CycleResidualBlock      -> (B, 4F, H/4, W/4)
    conv-transpose 3x3 stride 2          -> (B, 2F, H/2, W/2)   InstanceNorm ReLU
    conv-transpose 3x3 stride 2          -> (B, F, H, W)        InstanceNorm ReLU
    ReflectionPad 3, conv 7x7, Tanh      -> (B, C_out, H, W) in [-1, 1]

The output has the input's shape exactly when H and W are divisible by ``2**num_downsampling``
(4 by default). Any other size would come back rounded (a 70x70 input would give 72x72), so
the generator refuses it with a ``ValueError``. With the paper's settings (3 channels,
``F = 64``, 9 blocks) it has 11,378,179 parameters.

Discriminator (PatchGAN, Isola et al. 2017): strided 4x4 convolutions that return one logit
per overlapping image patch, a map ``(B, 1, H', W')``, not one logit per image. With three
strided layers (the paper's setting) each logit sees a 70x70 patch of the input.

Common mistake: two different classes named ``ResidualBlock`` in one module or notebook (one
for CycleGAN with InstanceNorm and reflection padding, one for SRGAN with BatchNorm and zero
padding). Python keeps the one defined last, so the generator defined first silently builds
the other kind of block. The residual block here has its own name, ``CycleResidualBlock``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CycleResidualBlock", "PatchDiscriminator", "ResnetGenerator"]


class CycleResidualBlock(nn.Module):
    """``x + F(x)`` with ``F`` = (reflection pad 1, conv 3x3, InstanceNorm, ReLU) twice, without the last ReLU.

    Reflection padding avoids the dark borders that zero padding leaves on translated images;
    InstanceNorm normalises each image on its own (no batch statistics). Shape is kept:
    ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3),  # (B, C, H, W)
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3),  # (B, C, H, W)
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Image-to-image generator: ``(B, in_channels, H, W)`` in [-1, 1] -> ``(B, out_channels, H, W)`` in [-1, 1].

    Args:
        in_channels: channels of the input domain.
        out_channels: channels of the output domain (default: ``in_channels``).
        base_channels: ``F``, the width of the first layer; the residual blocks have ``4F``
            (``2**num_downsampling * F``).
        num_blocks: residual blocks at the lowest resolution (9 in the paper for 256x256
            images, 6 for 128x128).
        num_downsampling: stride-2 convolutions (and as many transposed ones); H and W must be
            divisible by ``2**num_downsampling``.
    """

    def __init__(self, in_channels: int = 3, out_channels: int | None = None, base_channels: int = 64,
                 num_blocks: int = 9, num_downsampling: int = 2) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.factor = 2 ** num_downsampling
        F = base_channels
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, F, kernel_size=7),  # (B, F, H, W)
            nn.InstanceNorm2d(F),
            nn.ReLU(inplace=True),
        ]
        width = F
        for _ in range(num_downsampling):  # (B, w, h, w) -> (B, 2w, h/2, w/2)
            layers += [nn.Conv2d(width, 2 * width, kernel_size=3, stride=2, padding=1),
                       nn.InstanceNorm2d(2 * width), nn.ReLU(inplace=True)]
            width *= 2
        layers += [CycleResidualBlock(width) for _ in range(num_blocks)]  # (B, 4F, H/4, W/4)
        for _ in range(num_downsampling):  # (B, w, h, w) -> (B, w/2, 2h, 2w): output_padding=1 doubles exactly
            layers += [nn.ConvTranspose2d(width, width // 2, kernel_size=3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(width // 2), nn.ReLU(inplace=True)]
            width //= 2
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(F, out_channels, kernel_size=7),  # (B, C_out, H, W)
            nn.Tanh(),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.factor or w % self.factor:
            k = self.factor
            raise ValueError(f"expected H and W divisible by {k} (the generator halves them "
                             f"{k.bit_length() - 1} times and doubles them back), got (H, W) = ({h}, {w}); "
                             f"crop or pad to e.g. ({h // k * k}, {w // k * k}) or ({-(-h // k) * k}, {-(-w // k) * k})")
        return self.net(x)  # (B, C_out, H, W)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``(B, in_channels, H, W)`` images -> a map of **logits** ``(B, 1, H', W')``, one per patch.

    Layers (``F = base_channels``, ``n = num_layers``)::

        conv 4x4 s2 p1 -> F,        LeakyReLU(0.2)             (no norm on the input layer)
        n - 1 x conv 4x4 s2 p1 -> 2F, 4F, ... (at most 8F), InstanceNorm, LeakyReLU(0.2)
        conv 4x4 s1 p1 -> (at most 8F), InstanceNorm, LeakyReLU(0.2)
        conv 4x4 s1 p1 -> 1                                     (logits, no sigmoid)

    Each side shrinks as ``H -> H/2 (n times) -> -1 -> -1``: 256 -> 30 with ``n = 3``,
    28 -> 5 with ``n = 2``. :attr:`patch_size` gives the receptive field of one logit
    (70 for ``n = 3``, 34 for ``n = 2``). The losses in :mod:`course_lib.losses` average
    over every element of the map.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.in_channels = in_channels
        F = base_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, F, kernel_size=4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, inplace=True)]  # (B, F, H/2, W/2)
        width = F
        for i in range(1, num_layers):  # (B, w, h, w) -> (B, 2w, h/2, w/2)
            new_width = F * min(2 ** i, 8)
            layers += [nn.Conv2d(width, new_width, kernel_size=4, stride=2, padding=1),
                       nn.InstanceNorm2d(new_width), nn.LeakyReLU(0.2, inplace=True)]
            width = new_width
        new_width = F * min(2 ** num_layers, 8)
        layers += [nn.Conv2d(width, new_width, kernel_size=4, stride=1, padding=1),  # side - 1
                   nn.InstanceNorm2d(new_width), nn.LeakyReLU(0.2, inplace=True),
                   nn.Conv2d(new_width, 1, kernel_size=4, stride=1, padding=1)]  # side - 1: (B, 1, H', W')
        self.net = nn.Sequential(*layers)

    @property
    def patch_size(self) -> int:
        """Receptive field of one output logit, in input pixels: ``r = 1 + sum_l (k_l - 1) * prod_{j<l} s_j``."""
        size, jump = 1, 1
        for layer in self.net:
            if isinstance(layer, nn.Conv2d):
                size += (layer.kernel_size[0] - 1) * jump
                jump *= layer.stride[0]
        return size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.net(x)  # (B, 1, H', W') logits
