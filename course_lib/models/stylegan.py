"""A small style-based generator with the ideas of StyleGAN (Karras et al. 2019), sized for MNIST.

Notation (the paper's): ``z`` the input noise, ``w = f(z)`` the intermediate latent produced by
the mapping network ``f``, ``y = (y_s, y_b) = A(w)`` a per-layer style from a learned affine
map ``A``, ``B`` the per-channel scale of the injected noise.

Generator for 28x28 images (``image_size=28``; ``32`` gives a 4x4 constant and one more block)::

    z (B, latent_dim) -> PixelNorm -> mapping_layers x (Linear, LeakyReLU 0.2) -> w (B, w_dim)
    w -> truncation (optional): w' = w_avg + psi (w - w_avg)
      -> one copy per style layer: ws (B, num_ws, w_dim); style mixing swaps the copies
         from the crossover layer on for those of a second w

    synthesis, 2 style layers per resolution:
    const (1, C0, 7, 7), learned, repeated over the batch     -> (B, C0, 7, 7)
      layer 0: + B*noise, LeakyReLU, AdaIN(ws[:, 0])          -> (B, C0, 7, 7)
      layer 1: conv 3x3, + B*noise, LeakyReLU, AdaIN(ws[:, 1]) -> (B, C0, 7, 7)
    block 14x14: upsample x2 (bilinear), layers 2, 3         -> (B, C1, 14, 14)
    block 28x28: upsample x2 (bilinear), layers 4, 5         -> (B, C2, 28, 28)
    to_image: conv 1x1, Tanh                                 -> (B, channels, 28, 28) in [-1, 1]

AdaIN (eq. 1 of the paper): ``AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i`` for each
channel ``i``, with the mean and standard deviation over that channel's pixels of one image.
Every layer first erases the previous channel statistics and then sets new ones from its
own style, so each style controls its own layer and resolution: styles of the coarse layers
(7x7, 14x14) decide pose and shape, those of the fine layers (28x28) stroke and texture.

The generator's input is the learned constant, not ``z``: all the variation between samples
enters through the styles (and the noise). Compare the common mistake of feeding ``w`` to a
convolution as if it were an image and never using the constant.

What is simplified relative to the paper: the mapping has ``mapping_layers`` (default 4) layers
of width ``w_dim`` (64) instead of 8 of 512; no equalised learning rate, no progressive
growing, no blur filter; channels are small. StyleGAN2 (Karras et al. 2020) replaces AdaIN by
weight modulation and demodulation; the ideas shown here (mapping, constant input, per-layer
styles, noise, truncation, mixing) are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AdaIN", "MappingNetwork", "NoiseInjection", "PixelNorm", "StyleGANConfig", "StyleGenerator",
           "StyleLayer", "SynthesisBlock", "mix_styles", "truncate"]


@dataclass
class StyleGANConfig:
    latent_dim: int = 64  # size of z
    w_dim: int = 64  # size of w and of each layer's style input
    mapping_layers: int = 4  # depth of the mapping MLP (8 in the paper)
    image_size: int = 28  # 28 (7 -> 14 -> 28) or 32 (4 -> 8 -> 16 -> 32)
    channels: int = 1  # image channels (1 grey, 3 colour)
    max_channels: int = 64  # width at the constant's resolution; halved at each block
    min_channels: int = 16  # ... but never below this
    style_mixing_prob: float = 0.9  # in train mode, share of batches generated from two w's (mixing regularisation)
    w_avg_beta: float = 0.995  # in train mode, w_avg <- beta * w_avg + (1 - beta) * mean(w) after every batch


def _base_size(image_size: int) -> tuple[int, int]:
    """(side of the constant, number of upsampling blocks): 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)."""
    size, blocks = image_size, 0
    while size > 7 and size % 2 == 0:
        size, blocks = size // 2, blocks + 1
    if not 4 <= size <= 7 or blocks == 0:
        raise ValueError(f"image_size must be s * 2**k with s in 4..7 and k >= 1 (e.g. 28 or 32), got {image_size}")
    return size, blocks


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
class PixelNorm(nn.Module):
    """Scale each row to unit root-mean-square: ``x / sqrt(mean_j x_j² + eps)`` over ``dim=1``."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)  # (B, D)


class MappingNetwork(nn.Module):
    """``f: z (B, latent_dim) -> w (B, w_dim)``: PixelNorm, then ``num_layers`` x (Linear, LeakyReLU 0.2)."""

    def __init__(self, latent_dim: int, w_dim: int, num_layers: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [PixelNorm()]
        width = latent_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, w_dim), nn.LeakyReLU(0.2)]
            width = w_dim
        self.net = nn.Sequential(*layers)
        for layer in self.net:
            if isinstance(layer, nn.Linear):  # He init: w keeps about the scale of the normalised z
                nn.init.kaiming_normal_(layer.weight, a=0.2)  # (PyTorch's default shrinks it ~3x per layer,
                nn.init.zeros_(layer.bias)  # and a w near 0 gives every sample the same styles)
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)  # (B, w_dim)


class NoiseInjection(nn.Module):
    """``x + B * noise``: one noise image ``(B, 1, H, W)`` shared by the channels, a learned scale per channel.

    The scales start at 0 (as in the paper), so a fresh generator ignores the noise until
    training finds a use for it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))  # B in the paper, per channel

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise  # (B, C, H, W) + (1, C, 1, 1) * (B, 1, H, W)


class AdaIN(nn.Module):
    """Adaptive instance normalisation: ``y_s * (x - mu(x)) / sigma(x) + y_b`` with ``(y_s, y_b) = A(w)``.

    ``A`` (attribute ``style``) is a learned affine map ``w_dim -> 2 * channels``, initialised
    so that ``y_s`` starts near 1 and ``y_b`` near 0.
    """

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels)  # per image and channel, no learned affine
        self.style = nn.Linear(w_dim, 2 * channels)
        with torch.no_grad():  # each style entry varies with w like one entry of w does
            nn.init.normal_(self.style.weight, 0.0, w_dim ** -0.5)
            self.style.bias[:channels].fill_(1.0)  # y_s = 1 + ...
            self.style.bias[channels:].zero_()  # y_b = 0 + ...

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y_s, y_b = self.style(w).chunk(2, dim=1)  # (B, 2C) -> 2 x (B, C)
        return y_s[:, :, None, None] * self.norm(x) + y_b[:, :, None, None]  # (B, C, H, W)


class StyleLayer(nn.Module):
    """One style layer: (conv 3x3), add noise, LeakyReLU(0.2), AdaIN with this layer's ``w``.

    ``conv=False`` for the first layer, which works on the learned constant directly.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv: bool = True) -> None:
        super().__init__()
        if not conv and in_channels != out_channels:
            raise ValueError("a layer without convolution keeps its channel count")
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1) if conv else None
        self.noise = NoiseInjection(out_channels)
        self.act = nn.LeakyReLU(0.2)
        self.adain = AdaIN(out_channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)  # (B, C_out, H, W)
        return self.adain(self.act(self.noise(x, noise)), w)  # (B, C_out, H, W)


class SynthesisBlock(nn.Module):
    """Upsample x2 (bilinear) when ``upsample``, then two :class:`StyleLayer` s; consumes two ``w``'s."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, upsample: bool = True,
                 first_conv: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.layers = nn.ModuleList([StyleLayer(in_channels, out_channels, w_dim, conv=first_conv),
                                     StyleLayer(out_channels, out_channels, w_dim)])

    def forward(self, x: torch.Tensor, ws: torch.Tensor, noises: list[torch.Tensor]) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # (B, C, 2H, 2W)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noises[i])  # ws: (B, 2, w_dim)
        return x


# ---------------------------------------------------------------------------------------------
# Truncation and mixing (pure functions on w)
# ---------------------------------------------------------------------------------------------
def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """Truncation trick: ``w' = w_avg + psi * (w - w_avg)``.

    ``psi = 1`` leaves ``w`` unchanged, ``psi = 0`` gives ``w_avg`` (the "average" image),
    ``0 < psi < 1`` trades variety for typical, cleaner samples. ``w`` is ``(B, w_dim)`` or
    ``(B, num_ws, w_dim)``; ``w_avg`` is ``(w_dim,)``.
    """
    return w_avg + psi * (w - w_avg)  # broadcasts over the leading dimensions


def mix_styles(ws1: torch.Tensor, ws2: torch.Tensor, crossover: int) -> torch.Tensor:
    """Style mixing: layers ``< crossover`` take their ``w`` from ``ws1``, layers ``>= crossover`` from ``ws2``.

    Args:
        ws1, ws2: ``(B, num_ws, w_dim)`` per-layer latents.
        crossover: in ``[0, num_ws]``. Small values give only the coarse layers to ``ws1``;
            ``num_ws`` returns ``ws1`` and ``0`` returns ``ws2``.
    """
    if ws1.shape != ws2.shape or ws1.ndim != 3:
        raise ValueError(f"expected two (B, num_ws, w_dim) tensors of one shape, got {tuple(ws1.shape)} and {tuple(ws2.shape)}")
    if not 0 <= crossover <= ws1.shape[1]:
        raise ValueError(f"crossover must be in [0, {ws1.shape[1]}], got {crossover}")
    layer = torch.arange(ws1.shape[1], device=ws1.device)[None, :, None]  # (1, num_ws, 1)
    return torch.where(layer < crossover, ws1, ws2)  # (B, num_ws, w_dim)


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------
class StyleGenerator(nn.Module):
    """Style-based generator: ``z (B, latent_dim) -> images (B, channels, S, S)`` in [-1, 1].

    Parts: :attr:`mapping` (``z -> w``), the learned :attr:`const`, :attr:`blocks` (each with
    two style layers), :attr:`to_image`; buffer :attr:`w_avg` ``(w_dim,)``, the running mean of
    ``w`` used by the truncation trick (updated in train mode, or by :meth:`update_w_avg`).

    In train mode a share ``style_mixing_prob`` of the batches is generated from two latents
    with a random crossover (mixing regularisation, section 3.1 of the paper), so that
    neighbouring layers do not learn to rely on sharing one ``w``. In eval mode the forward
    pass is deterministic given ``z`` and the noise.
    """

    def __init__(self, config: StyleGANConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config if config is not None else StyleGANConfig()
        s0, num_up = _base_size(cfg.image_size)
        widths = [max(cfg.max_channels // 2 ** i, cfg.min_channels) for i in range(num_up + 1)]
        self.mapping = MappingNetwork(cfg.latent_dim, cfg.w_dim, cfg.mapping_layers)
        self.const = nn.Parameter(torch.randn(1, widths[0], s0, s0))  # (1, C0, s0, s0), the synthesis input
        blocks = [SynthesisBlock(widths[0], widths[0], cfg.w_dim, upsample=False, first_conv=False)]
        blocks += [SynthesisBlock(widths[i], widths[i + 1], cfg.w_dim) for i in range(num_up)]
        self.blocks = nn.ModuleList(blocks)
        self.to_image = nn.Conv2d(widths[-1], cfg.channels, kernel_size=1)
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))
        #: side of the feature maps of each style layer, e.g. [7, 7, 14, 14, 28, 28]
        self.layer_resolutions = [s0 * 2 ** b for b in range(num_up + 1) for _ in range(2)]
        self.num_ws = len(self.layer_resolutions)

    # -- parts ---------------------------------------------------------------------------------
    def make_noise(self, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """One standard-normal noise image ``(batch_size, 1, r, r)`` per style layer (r from :attr:`layer_resolutions`)."""
        device = self.const.device
        return [torch.randn(batch_size, 1, r, r, generator=generator).to(device) for r in self.layer_resolutions]

    @torch.no_grad()
    def update_w_avg(self, num_samples: int = 10_000, generator: torch.Generator | None = None) -> torch.Tensor:
        """Set :attr:`w_avg` to the mean of ``mapping(z)`` over ``num_samples`` draws of ``z``; returns it."""
        z = torch.randn(num_samples, self.config.latent_dim, generator=generator).to(self.const.device)
        self.w_avg.copy_(self.mapping(z).mean(dim=0))
        return self.w_avg

    def synthesis(self, ws: torch.Tensor, noise: str | list[torch.Tensor] = "random") -> torch.Tensor:
        """Images from per-layer latents ``ws (B, num_ws, w_dim)``.

        ``noise``: ``"random"`` (fresh noise), ``"zero"`` (no noise), or a list of
        ``num_ws`` tensors ``(B or 1, 1, r, r)`` as :meth:`make_noise` returns.
        """
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.config.w_dim):
            raise ValueError(f"expected ws of shape (B, {self.num_ws}, {self.config.w_dim}), got {tuple(ws.shape)}")
        batch = ws.shape[0]
        if isinstance(noise, str):
            if noise not in ("random", "zero"):
                raise ValueError(f"noise must be 'random', 'zero' or a list of tensors, got {noise!r}")
            noises = (self.make_noise(batch) if noise == "random"
                      else [torch.zeros(1, 1, r, r, device=ws.device) for r in self.layer_resolutions])
        else:
            noises = list(noise)
            if len(noises) != self.num_ws:
                raise ValueError(f"expected {self.num_ws} noise tensors, got {len(noises)}")
        x = self.const.expand(batch, -1, -1, -1)  # (1, C0, s0, s0) -> (B, C0, s0, s0)
        for b, block in enumerate(self.blocks):
            x = block(x, ws[:, 2 * b:2 * b + 2], noises[2 * b:2 * b + 2])  # (B, C_b, r_b, r_b)
        return torch.tanh(self.to_image(x))  # (B, channels, S, S)

    # -- the whole generator -------------------------------------------------------------------
    def forward(self, z: torch.Tensor, psi: float = 1.0, z_mix: torch.Tensor | None = None,
                crossover: int | None = None, noise: str | list[torch.Tensor] = "random") -> torch.Tensor:
        """Generate ``(B, channels, S, S)`` images in [-1, 1] from ``z (B, latent_dim)``.

        Args:
            psi: truncation (1 = none, 0 = every sample becomes the image of ``w_avg``).
            z_mix: a second ``(B, latent_dim)`` latent for style mixing; the layers from
                ``crossover`` on take their styles from it (``crossover`` is then required).
            noise: ``"random"``, ``"zero"`` or a list from :meth:`make_noise`.
        """
        w = self.mapping(z)  # (B, w_dim)
        if self.training:
            with torch.no_grad():  # running mean of w, like BatchNorm's running statistics
                self.w_avg.lerp_(w.mean(dim=0), 1.0 - self.config.w_avg_beta)
        ws = w[:, None, :].expand(-1, self.num_ws, -1)  # (B, num_ws, w_dim): the same w for every layer
        if z_mix is not None:
            if crossover is None:
                raise ValueError("style mixing with z_mix needs a crossover layer index")
            ws_mix = self.mapping(z_mix)[:, None, :].expand(-1, self.num_ws, -1)  # (B, num_ws, w_dim)
            ws = mix_styles(ws, ws_mix, crossover)
        elif self.training and self.config.style_mixing_prob > 0 and \
                torch.rand(()) < self.config.style_mixing_prob:  # mixing regularisation
            ws_mix = self.mapping(torch.randn_like(z))[:, None, :].expand(-1, self.num_ws, -1)
            ws = mix_styles(ws, ws_mix, int(torch.randint(1, self.num_ws, ())))
        if psi != 1.0:
            ws = truncate(ws, self.w_avg, psi)  # (B, num_ws, w_dim)
        return self.synthesis(ws, noise)
