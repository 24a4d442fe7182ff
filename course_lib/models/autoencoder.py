"""Convolutional autoencoder: ``(B, C, H, W)`` images in [0, 1] -> latent ``z`` ``(B, latent_dim)`` -> images.

An autoencoder learns an encoder ``E`` and a decoder ``D`` such that ``D(E(x)) ≈ x`` while the
code ``z = E(x)`` is much smaller than ``x``: the bottleneck forces it to keep what matters
about the image (digit identity, stroke width, slant) and drop what it cannot afford to store.

Architecture (``channels=(32, 64)``, a 28x28 MNIST digit)::

    encoder  (B, 1, 28, 28) -> conv s2 -> (B, 32, 14, 14) -> conv s2 -> (B, 64, 7, 7)
             -> flatten (B, 64*7*7) -> Linear -> z (B, latent_dim)
    decoder  z -> Linear -> (B, 64*7*7) -> unflatten (B, 64, 7, 7) -> ReLU
             -> convT s2 -> (B, 32, 14, 14) -> convT s2 -> (B, 1, 28, 28) logits -> sigmoid

The flatten size is **computed from the input size given at construction** (``image_size``),
never hard-coded: the same class builds an MNIST model (1 x 28 x 28), a photo-patch model
(3 x 32 x 32 or 3 x 64 x 64) or a non-square one. Each stride-2 convolution (kernel 3,
padding 1) maps a side ``n`` to ``ceil(n / 2)``; each transposed convolution of the decoder
maps it back exactly, using ``output_padding`` 1 for even and 0 for odd target sides. An input
of another size raises a ``ValueError`` that names the size the model was built for.

:class:`ConvEncoder` and :class:`ConvDecoder` are reused by :mod:`course_lib.models.vae`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Autoencoder", "ConvDecoder", "ConvEncoder", "conv_feature_sizes"]


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise ValueError(f"image_size must be positive, got {size}")
    return h, w


def conv_feature_sizes(image_size: int | tuple[int, int], num_downsamplings: int) -> list[tuple[int, int]]:
    """Spatial sizes ``[(H, W), (ceil(H/2), ceil(W/2)), ...]`` after 0, 1, ... stride-2 convolutions.

    >>> conv_feature_sizes(28, 3)
    [(28, 28), (14, 14), (7, 7), (4, 4)]
    """
    sizes = [_pair(image_size)]
    for _ in range(num_downsamplings):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))  # conv k=3, s=2, p=1: n -> floor((n-1)/2) + 1
    return sizes


def _conv_block(in_channels: int, out_channels: int, batch_norm: bool) -> list[nn.Module]:
    """3x3 stride-2 convolution (halves H and W, rounding up) -> [BatchNorm] -> ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return layers


class ConvEncoder(nn.Module):
    """Stride-2 convolutions, flatten, one linear layer: ``(B, C, H, W) -> (B, out_features)``.

    Args:
        in_channels: ``C`` of the images.
        image_size: ``H`` (square) or ``(H, W)`` the model is built for.
        channels: output channels of the successive stride-2 convolutions.
        out_features: size of the output vector (``latent_dim``, or ``2 * latent_dim`` for a VAE).
        batch_norm: BatchNorm after every convolution.
    """

    def __init__(self, in_channels: int, image_size: int | tuple[int, int], channels: tuple[int, ...],
                 out_features: int, batch_norm: bool = True) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must list at least one convolution width, got ()")
        self.in_channels = in_channels
        self.image_size = _pair(image_size)
        self.feature_size = conv_feature_sizes(self.image_size, len(channels))[-1]  # (h, w) after the convs
        layers: list[nn.Module] = []
        for c_in, c_out in zip((in_channels, *channels[:-1]), channels):
            layers += _conv_block(c_in, c_out, batch_norm)
        self.features = nn.Sequential(*layers)
        self.flat_features = channels[-1] * self.feature_size[0] * self.feature_size[1]  # computed, not hard-coded
        self.fc = nn.Linear(self.flat_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, *self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images (B, {expected[0]}, {expected[1]}, {expected[2]}) "
                             f"(the size given at construction), got {tuple(x.shape)}")
        h = self.features(x)  # (B, channels[-1], h, w)
        return self.fc(torch.flatten(h, 1))  # (B, channels[-1] * h * w) -> (B, out_features)


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvEncoder`: ``(B, in_features) -> (B, C, H, W)`` **logits**.

    A linear layer to ``(B, channels[-1], h, w)`` and a ReLU, then stride-2 transposed convolutions that
    retrace the encoder's sizes exactly; the last one outputs ``out_channels`` maps with no
    activation (apply ``sigmoid`` for values in [0, 1]).
    """

    def __init__(self, out_channels: int, image_size: int | tuple[int, int], channels: tuple[int, ...],
                 in_features: int, batch_norm: bool = True) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must list at least one convolution width, got ()")
        sizes = conv_feature_sizes(image_size, len(channels))  # [(H, W), ..., (h, w)]
        self.start_shape = (channels[-1], *sizes[-1])  # (C_last, h, w)
        self.fc = nn.Linear(in_features, channels[-1] * sizes[-1][0] * sizes[-1][1])
        layers: list[nn.Module] = []
        widths = (*channels[::-1], out_channels)  # e.g. (64, 32, 1)
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            target = sizes[len(channels) - 1 - i]  # the side this transposed conv must produce
            # ConvTranspose2d(k=3, s=2, p=1): n -> 2n - 1 + output_padding; even targets need 1
            output_padding = (1 - target[0] % 2, 1 - target[1] % 2)
            last = i == len(channels) - 1
            layers.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1,
                                             output_padding=output_padding, bias=last or not batch_norm))
            if not last:
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).unflatten(1, self.start_shape)  # (B, C_last * h * w) -> (B, C_last, h, w)
        return self.layers(torch.relu(h))  # (B, out_channels, H, W) logits


class Autoencoder(nn.Module):
    """Convolutional autoencoder for images in [0, 1].

    Args:
        in_channels: 1 for MNIST, 3 for colour patches.
        image_size: the input size, ``28``, ``32``, ``64`` or ``(H, W)``; fixed at construction
            because the linear bottleneck needs the flattened size.
        latent_dim: size of the code ``z`` (2 for a latent scatter plot).
        channels: widths of the stride-2 convolutions of the encoder (the decoder mirrors them).
        batch_norm: BatchNorm after every hidden convolution.

    ``encode(x)``: ``(B, C, H, W)`` -> ``z`` ``(B, latent_dim)``.
    ``decode(z)``: ``(B, latent_dim)`` -> images ``(B, C, H, W)`` in [0, 1] (sigmoid).
    ``decode_logits(z)``: the same before the sigmoid (use with ``binary_cross_entropy_with_logits``).
    ``forward(x)``: the reconstruction ``decode(encode(x))``, ``(B, C, H, W)`` in [0, 1].
    """

    def __init__(self, in_channels: int = 1, image_size: int | tuple[int, int] = 28, latent_dim: int = 16,
                 channels: tuple[int, ...] = (32, 64), batch_norm: bool = True) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim = latent_dim
        self.encoder = ConvEncoder(in_channels, image_size, tuple(channels), latent_dim, batch_norm)
        self.decoder = ConvDecoder(in_channels, image_size, tuple(channels), latent_dim, batch_norm)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` images -> codes ``z`` ``(B, latent_dim)``."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` -> ``(B, C, H, W)`` logits (any real values)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` -> images ``(B, C, H, W)`` in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``(B, C, H, W)`` in [0, 1] of images ``x`` ``(B, C, H, W)``."""
        return self.decode(self.encode(x))
