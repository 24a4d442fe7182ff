"""Variational autoencoder (Kingma and Welling 2014, "Auto-Encoding Variational Bayes") for images in [0, 1].

Notation (the paper's symbols):

=====================  ==========================================================================
``mu, logvar``         parameters of the encoder ``q_phi(z | x) = N(mu, diag(exp(logvar)))``
``z``                  latent code, ``(B, latent_dim)``; prior ``p(z) = N(0, I)``
``logits``             decoder output: ``p_theta(x | z) = Bernoulli(sigmoid(logits))`` per pixel
=====================  ==========================================================================

The encoder predicts ``log sigma²`` rather than ``sigma``: any real number is a valid output,
and ``exp`` keeps the variance positive. ``z`` is drawn with the **reparameterisation trick**
``z = mu + sigma * eps``, ``eps ~ N(0, I)``, so the randomness sits in ``eps`` and gradients
flow to ``mu`` and ``logvar`` (``torch.normal(mu, sigma)`` / ``.sample()`` would cut them).

The decoder returns **Bernoulli logits**, not probabilities: the loss
(:func:`course_lib.losses.vae_loss`) applies ``binary_cross_entropy_with_logits``, which is
numerically stable; ``sigmoid(logits)`` is the mean image. The networks are the convolutional
:class:`~course_lib.models.autoencoder.ConvEncoder` / ``ConvDecoder`` (no BatchNorm by default,
so each image's loss does not depend on the rest of its batch).
"""

from __future__ import annotations

import torch
from torch import nn

from .autoencoder import ConvDecoder, ConvEncoder

__all__ = ["VAE", "reparameterize"]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``; differentiable in ``mu`` and ``logvar``.

    ``mu`` and ``logvar`` have the same shape, e.g. ``(B, latent_dim)``; so has ``z``.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps  # sigma = exp(log sigma² / 2)


class VAE(nn.Module):
    """Convolutional VAE: ``(B, C, H, W)`` in [0, 1] -> ``(logits, mu, logvar)``.

    Args:
        in_channels, image_size: the images the model is built for (1, 28 for MNIST).
        latent_dim: size of ``z``.
        channels: widths of the stride-2 convolutions (the decoder mirrors them).
        batch_norm: BatchNorm in encoder and decoder (off by default).

    Methods:
        ``encode(x)`` -> ``(mu, logvar)``, each ``(B, latent_dim)``.
        ``decode(z)`` -> Bernoulli **logits** ``(B, C, H, W)``.
        ``forward(x)`` -> ``(logits, mu, logvar)`` with ``z`` reparameterised (in training and
        in eval mode: the ELBO is an expectation over ``z``; use ``encode`` for the mean code).
        ``sample(n)`` -> ``n`` images from the prior, **probabilities** in [0, 1] (the Bernoulli
        means ``sigmoid(decode(z))``), computed without gradients.
    """

    def __init__(self, in_channels: int = 1, image_size: int | tuple[int, int] = 28, latent_dim: int = 16,
                 channels: tuple[int, ...] = (32, 64), batch_norm: bool = False) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim = latent_dim
        # one linear head gives [mu, logvar] side by side: (B, 2 * latent_dim)
        self.encoder = ConvEncoder(in_channels, image_size, tuple(channels), 2 * latent_dim, batch_norm)
        self.decoder = ConvDecoder(in_channels, image_size, tuple(channels), latent_dim, batch_norm)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` -> ``mu, logvar``, each ``(B, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # (B, 2 * latent) -> 2 x (B, latent)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` -> Bernoulli logits ``(B, C, H, W)`` (apply ``sigmoid`` for the mean image)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``(logits (B, C, H, W), mu (B, latent), logvar (B, latent))``."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images ``sigmoid(decode(z))``, ``z ~ N(0, I)``: ``(n, C, H, W)`` in [0, 1], no grad.

        Call ``model.eval()`` first if the model has BatchNorm. ``generator`` must live on the
        model's device.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        param = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=param.dtype, device=param.device)
        return torch.sigmoid(self.decode(z))
