"""GAN generators and discriminators: an MLP pair and a DCGAN pair (Goodfellow et al. 2014; Radford et al. 2016).

Conventions shared by every model in this file:

* a generator maps noise ``z`` of shape ``(B, latent_dim)`` to images ``(B, C, H, W)`` in
  ``[-1, 1]`` (a final ``Tanh``), so the real images must be scaled to ``[-1, 1]`` too
  (``x * 2 - 1`` for images in ``[0, 1]``);
* a discriminator maps images ``(B, C, H, W)`` to **logits** of shape ``(B,)``: one real
  number per image, ``D(x) = sigmoid(logit)`` is the probability that ``x`` is real. The
  losses in :mod:`course_lib.losses` (``gan_d_loss``, ``gan_g_loss``) take these logits;
* every BatchNorm layer keeps PyTorch's default ``eps=1e-5``.

Common mistake: ``nn.BatchNorm1d(n, 0.8)``. The second positional argument of PyTorch's
BatchNorm is ``eps``, not ``momentum`` (a mistranslation of Keras's ``momentum=0.8``), so the
layer divides by ``sqrt(var + 0.8)`` and no longer standardises. Keras's momentum is also the
weight of the *old* running value: Keras 0.8 is PyTorch ``momentum=0.2``. Pass both by keyword.

Architectures (``latent_dim=100``, MNIST, ``width=64`` for the DCGAN)::

    MLPGenerator      z (B, 100) -> 128 -> 256 -> 512 -> 1024 -> 784 -> Tanh -> (B, 1, 28, 28)
    MLPDiscriminator  (B, 1, 28, 28) -> flatten 784 -> 512 -> 256 -> 1 -> logits (B,)

    DCGANGenerator    z (B, 100) -> (B, 100, 1, 1)
                      convT k=s0          -> (B, 2w, s0, s0)     BN ReLU   (s0 = image_size / 4)
                      convT k=4 s=2 p=1   -> (B, w, 2 s0, 2 s0)  BN ReLU
                      convT k=4 s=2 p=1   -> (B, C, 4 s0, 4 s0)  Tanh      (4 s0 = image_size)
    DCGANDiscriminator (B, C, H, W)
                      conv k=4 s=2 p=1    -> (B, w, H/2, W/2)    LeakyReLU(0.2)   (no BN on the input layer)
                      conv k=4 s=2 p=1    -> (B, 2w, s0, s0)     BN LeakyReLU(0.2)
                      conv k=s0           -> (B, 1, 1, 1) -> flatten -> logits (B,)

``s0`` is 7 for 28x28 images and 8 for 32x32 images; any ``image_size`` divisible by 4 works.

Class-conditional DCGAN (Mirza and Osindero 2014, with the DCGAN bodies above), ``K`` classes::

    ConditionalDCGANGenerator      z (B, 100), labels (B,) -> cat(z, one_hot(labels)) (B, 100 + K) -> DCGANGenerator
    ConditionalDCGANDiscriminator  x (B, C, H, W), labels (B,) -> cat(x, K constant one-hot planes) (B, C + K, H, W)
                                   -> DCGANDiscriminator -> logits (B,)

DCGAN guidelines followed (Radford et al. 2016, section 3): strided (transposed) convolutions
instead of pooling, BatchNorm in both networks except the generator output and the
discriminator input, ReLU in the generator and LeakyReLU(0.2) in the discriminator, Tanh
output, weights drawn from N(0, 0.02).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["ConditionalDCGANDiscriminator", "ConditionalDCGANGenerator", "DCGANDiscriminator", "DCGANGenerator",
           "MLPDiscriminator", "MLPGenerator", "dcgan_init_"]


def _check_noise(z: torch.Tensor, latent_dim: int) -> torch.Tensor:
    """Accept ``(B, latent_dim)`` or ``(B, latent_dim, 1, 1)`` noise; return ``(B, latent_dim)``."""
    if z.ndim == 4 and z.shape[2:] == (1, 1):
        z = z.flatten(1)  # (B, latent_dim, 1, 1) -> (B, latent_dim)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"expected noise of shape (B, {latent_dim}) or (B, {latent_dim}, 1, 1), got {tuple(z.shape)}")
    return z


def _check_images(x: torch.Tensor, image_shape: tuple[int, int, int]) -> None:
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(f"expected images of shape (B, {', '.join(map(str, image_shape))}), got {tuple(x.shape)}")


def _one_hot(labels: torch.Tensor, num_classes: int, batch: int) -> torch.Tensor:
    """Integer class labels ``(batch,)`` -> float one-hot ``(batch, num_classes)``, with clear errors."""
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32, torch.uint8):
        raise TypeError(f"labels must be an integer tensor of shape ({batch},), got "
                        f"{labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    if tuple(labels.shape) != (batch,):
        raise ValueError(f"expected labels of shape ({batch},), one per image, got {tuple(labels.shape)}")
    if batch and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], got min {labels.min().item()} "
                         f"and max {labels.max().item()}")
    return nn.functional.one_hot(labels.long(), num_classes).float()  # (B, K)


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN initialisation, in place: conv and linear weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0.

    Use as ``model.apply(dcgan_init_)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# =============================================================================================
# MLP GAN (Goodfellow et al. 2014, with BatchNorm in the generator)
# =============================================================================================
class MLPGenerator(nn.Module):
    """Fully connected generator: noise ``(B, latent_dim)`` -> images ``(B, *image_shape)`` in [-1, 1].

    Args:
        latent_dim: size of the noise vector ``z``.
        image_shape: ``(C, H, W)`` of the generated images, e.g. ``(1, 28, 28)``.
        hidden: widths of the hidden layers. Every hidden layer after the first has
            BatchNorm (default ``eps=1e-5``) and every one a LeakyReLU(0.2).
    """

    def __init__(self, latent_dim: int = 100, image_shape: tuple[int, int, int] = (1, 28, 28),
                 hidden: tuple[int, ...] = (128, 256, 512, 1024)) -> None:
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")
        self.latent_dim = latent_dim
        self.image_shape = tuple(int(s) for s in image_shape)
        layers: list[nn.Module] = []
        width_in = latent_dim
        for i, width in enumerate(hidden):
            layers.append(nn.Linear(width_in, width, bias=i == 0))  # BN has its own shift
            if i > 0:
                layers.append(nn.BatchNorm1d(width))  # eps=1e-5, momentum=0.1 (not BatchNorm1d(width, 0.8)!)
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width_in = width
        layers += [nn.Linear(width_in, math.prod(self.image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = _check_noise(z, self.latent_dim)
        x = self.net(z)  # (B, C*H*W) in [-1, 1]
        return x.view(z.shape[0], *self.image_shape)  # (B, C, H, W); the batch size is explicit


class MLPDiscriminator(nn.Module):
    """Fully connected discriminator: images ``(B, *image_shape)`` -> logits ``(B,)`` (not probabilities).

    Args:
        image_shape: ``(C, H, W)`` of the images it judges.
        hidden: widths of the hidden layers, each followed by LeakyReLU(0.2).
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), hidden: tuple[int, ...] = (512, 256)) -> None:
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")
        self.image_shape = tuple(int(s) for s in image_shape)
        layers: list[nn.Module] = []
        width_in = math.prod(self.image_shape)
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2, inplace=True)]
            width_in = width
        layers.append(nn.Linear(width_in, 1))  # one logit per image
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.image_shape)
        return self.net(torch.flatten(x, 1)).squeeze(1)  # (B, C*H*W) -> (B, 1) -> (B,)


# =============================================================================================
# DCGAN (Radford et al. 2016), sized for 28x28 (MNIST) and 32x32 (CIFAR-like) images
# =============================================================================================
def _base_size(image_size: int) -> int:
    if image_size < 8 or image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 and >= 8 (e.g. 28 or 32), got {image_size}")
    return image_size // 4


class DCGANGenerator(nn.Module):
    """DCGAN generator: noise ``(B, latent_dim)`` or ``(B, latent_dim, 1, 1)`` -> ``(B, channels, S, S)`` in [-1, 1].

    Args:
        latent_dim: size of the noise vector ``z``.
        image_size: side ``S`` of the square output, a multiple of 4 (28 for MNIST, 32).
        channels: 1 (grey) or 3 (colour).
        width: channels of the last hidden layer ``w``; the first has ``2w``.
    """

    def __init__(self, latent_dim: int = 100, image_size: int = 28, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        s0 = _base_size(image_size)
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        w = width
        self.net = nn.Sequential(
            # project and reshape: a transposed convolution of a 1x1 "image" with an s0 x s0 kernel
            nn.ConvTranspose2d(latent_dim, 2 * w, kernel_size=s0, bias=False),  # (B, 2w, s0, s0)
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * w, w, kernel_size=4, stride=2, padding=1, bias=False),  # (B, w, 2s0, 2s0)
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w, channels, kernel_size=4, stride=2, padding=1),  # (B, C, S, S)
            nn.Tanh(),
        )
        self.apply(dcgan_init_)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = _check_noise(z, self.latent_dim)
        return self.net(z[:, :, None, None])  # (B, latent_dim) -> (B, latent_dim, 1, 1) -> (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: ``(B, channels, S, S)`` images in [-1, 1] -> logits ``(B,)`` (not probabilities).

    Args:
        image_size: side ``S`` of the square input, a multiple of 4 (28 for MNIST, 32).
        channels: 1 (grey) or 3 (colour).
        width: channels of the first layer ``w``; the second has ``2w``.
    """

    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        s0 = _base_size(image_size)
        self.image_shape = (channels, image_size, image_size)
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, kernel_size=4, stride=2, padding=1),  # (B, w, S/2, S/2)
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w, 2 * w, kernel_size=4, stride=2, padding=1, bias=False),  # (B, 2w, s0, s0)
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * w, 1, kernel_size=s0),  # (B, 1, 1, 1): one logit per image
        )
        self.apply(dcgan_init_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.image_shape)
        return torch.flatten(self.net(x), 1).squeeze(1)  # (B, 1, 1, 1) -> (B, 1) -> (B,)


# =============================================================================================
# Class-conditional DCGAN (Mirza and Osindero 2014): both networks are told the digit
# =============================================================================================
class ConditionalDCGANGenerator(nn.Module):
    """``G(z, y)``: noise ``(B, latent_dim)`` and integer labels ``(B,)`` -> ``(B, channels, S, S)`` in [-1, 1].

    The one-hot label is appended to the noise, and a :class:`DCGANGenerator` with
    ``latent_dim + num_classes`` inputs does the rest; its first transposed convolution
    therefore learns one extra ``(2w, s0, s0)`` "template" per class.
    """

    def __init__(self, latent_dim: int = 100, num_classes: int = 10, image_size: int = 28, channels: int = 1,
                 width: int = 64) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.body = DCGANGenerator(latent_dim + num_classes, image_size, channels, width)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = _check_noise(z, self.latent_dim)  # (B, latent_dim)
        y = _one_hot(labels, self.num_classes, z.shape[0]).to(z)  # (B, K)
        return self.body(torch.cat([z, y], dim=1))  # (B, latent_dim + K) -> (B, C, S, S)


class ConditionalDCGANDiscriminator(nn.Module):
    """``D(x, y)``: images ``(B, channels, S, S)`` and integer labels ``(B,)`` -> logits ``(B,)``.

    The label enters as ``num_classes`` constant planes (plane ``y`` is 1, the others 0)
    stacked onto the image channels, so from its first layer on D judges "is this a real
    image *of digit y*": a well drawn 3 presented as a 7 is a fake.
    """

    def __init__(self, num_classes: int = 10, image_size: int = 28, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.image_shape = (channels, image_size, image_size)
        self.body = DCGANDiscriminator(image_size, channels + num_classes, width)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.image_shape)
        y = _one_hot(labels, self.num_classes, x.shape[0]).to(x)  # (B, K)
        planes = y[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, K, H, W), no copy
        return self.body(torch.cat([x, planes], dim=1))  # (B, C + K, H, W) -> (B,)
