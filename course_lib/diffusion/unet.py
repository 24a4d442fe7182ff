"""A small time-conditioned U-Net that predicts the noise ``eps_theta(x_t, t[, y])``.

Shapes for the default MNIST configuration (``base_channels=32``, ``channel_mults=(1, 2, 2)``)::

    x_t                      (B, 1, 28, 28)
    t -> sinusoidal(t)       (B, 32)         -> MLP -> time embedding e (B, 128)
    y -> Embedding(y)        (B, 128)        added to e; y = num_classes is the "null" class
    conv_in                  (B, 32, 28, 28)
    down 0: ResBlock         (B, 32, 28, 28)  -> skip s0;  Downsample -> (B, 32, 14, 14)
    down 1: ResBlock         (B, 64, 14, 14)  -> skip s1;  Downsample -> (B, 64, 7, 7)
    down 2: ResBlock         (B, 64, 7, 7)    -> skip s2
    mid:    ResBlock         (B, 64, 7, 7)      the bottleneck
    up 2:   ResBlock([h; s2])  (B, 64, 7, 7);    Upsample -> (B, 64, 14, 14)
    up 1:   ResBlock([h; s1])  (B, 64, 14, 14);  Upsample -> (B, 64, 28, 28)
    up 0:   ResBlock([h; s0])  (B, 32, 28, 28)
    GroupNorm, SiLU, conv_out  (B, 1, 28, 28)   the noise estimate

Every scale has a **concatenated** skip ``[h; s_l]`` (a U-Net, Ronneberger et al. 2015): zeroing the
bottleneck still leaves an output that depends on the input. Each residual block receives the
time (and class) embedding through a per-channel bias, broadcast over height and width, i.e.
reshaped to ``(B, C, 1, 1)``: one row per image, never mixed across the batch.
H and W must be divisible by ``2 ** (len(channel_mults) - 1)`` (28 and 32 both work here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DiffusionUNet", "ResBlock", "UNetConfig", "sinusoidal_embedding"]


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style embedding of steps (Vaswani et al. 2017): ``(B,)`` -> ``(B, dim)``.

    Half the channels are ``sin(t * w_k)``, half ``cos(t * w_k)``, with frequencies ``w_k`` from
    1 down to ``1 / max_period`` geometrically, so both small and large differences in t show.
    """
    if t.ndim != 1:
        raise ValueError(f"expected steps of shape (B,), got {tuple(t.shape)}")
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)  # (half,)
    angles = t.float()[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)  # (B, dim)


@dataclass
class UNetConfig:
    in_channels: int = 1  # image channels
    base_channels: int = 32  # channels at full resolution
    channel_mults: tuple[int, ...] = (1, 2, 2)  # channels per scale = base * mult; one downsampling between scales
    time_dim: int = 128  # width of the time (and class) embedding
    num_classes: int | None = None  # None: unconditional; else labels 0..K-1 and K = the null class
    groups: int = 8  # GroupNorm groups (must divide every channel count)
    dropout: float = 0.0  # dropout inside the residual blocks


class ResBlock(nn.Module):
    """``x + f(x, e)`` with ``f`` = GN, SiLU, conv3x3, add ``Linear(e)`` per channel, GN, SiLU, conv3x3.

    ``(B, C_in, H, W)``, ``e (B, time_dim)`` -> ``(B, C_out, H, W)``; a 1x1 conv matches channels.
    """

    def __init__(self, in_channels: int, out_channels: int, time_dim: int, groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_proj = nn.Linear(time_dim, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        h = h + self.time_proj(F.silu(emb))[:, :, None, None]  # (B, C_out) -> (B, C_out, 1, 1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.shortcut(x) + h


class DiffusionUNet(nn.Module):
    """Noise predictor ``forward(x_t, t, labels=None) -> eps``, all ``(B, C, H, W)``.

    Args of forward:
        x_t: ``(B, C, H, W)`` noisy images (data scaled to [-1, 1]).
        t: ``(B,)`` long steps in ``[0, T-1]`` (an int is broadcast to the batch).
        labels: ``(B,)`` long class labels in ``[0, K]``, ``K = null_class`` meaning "no label";
            ``None`` means unlabelled (the null class for a conditional model).
    """

    def __init__(self, cfg: UNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else UNetConfig()
        chans = [cfg.base_channels * m for m in cfg.channel_mults]
        self.time_mlp = nn.Sequential(nn.Linear(cfg.base_channels, cfg.time_dim), nn.SiLU(),
                                      nn.Linear(cfg.time_dim, cfg.time_dim))
        self.null_class = cfg.num_classes  # None for an unconditional model
        self.label_emb = nn.Embedding(cfg.num_classes + 1, cfg.time_dim) if cfg.num_classes else None
        block = lambda i, o: ResBlock(i, o, cfg.time_dim, cfg.groups, cfg.dropout)  # noqa: E731
        self.conv_in = nn.Conv2d(cfg.in_channels, chans[0], 3, padding=1)
        self.down_blocks, self.downsample = nn.ModuleList(), nn.ModuleList()
        previous = chans[0]
        for i, c in enumerate(chans):
            self.down_blocks.append(block(previous, c))
            if i < len(chans) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))  # halves H, W
            previous = c
        self.mid = block(previous, previous)
        self.up_blocks, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(chans))):
            self.up_blocks.append(block(previous + chans[i], chans[i]))  # input: [h; skip]
            if i > 0:
                self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                   nn.Conv2d(chans[i], chans[i], 3, padding=1)))
            previous = chans[i]
        self.norm_out = nn.GroupNorm(cfg.groups, previous)
        self.conv_out = nn.Conv2d(previous, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # start by predicting eps = 0
        nn.init.zeros_(self.conv_out.bias)

    def embed(self, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Time (+ class) embedding ``(B, time_dim)``."""
        emb = self.time_mlp(sinusoidal_embedding(t, self.cfg.base_channels))  # (B, time_dim)
        if self.label_emb is not None:
            if labels is None:
                labels = torch.full_like(t, self.null_class)
            emb = emb + self.label_emb(labels)  # (B, time_dim)
        elif labels is not None:
            raise ValueError("this U-Net is unconditional (num_classes=None) but labels were given")
        return emb

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, labels: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.cfg
        factor = 2 ** (len(cfg.channel_mults) - 1)
        if x_t.ndim != 4 or x_t.shape[1] != cfg.in_channels or x_t.shape[2] % factor or x_t.shape[3] % factor:
            raise ValueError(f"expected (B, {cfg.in_channels}, H, W) with H, W divisible by {factor}, "
                             f"got {tuple(x_t.shape)}")
        t = torch.as_tensor(t, device=x_t.device, dtype=torch.long)
        t = t.expand(x_t.shape[0]) if t.ndim == 0 else t
        if t.shape != (x_t.shape[0],):
            raise ValueError(f"expected t of shape ({x_t.shape[0]},), got {tuple(t.shape)}")
        emb = self.embed(t, labels)
        h = self.conv_in(x_t)
        skips = []
        for i, blk in enumerate(self.down_blocks):
            h = blk(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        for i, blk in enumerate(self.up_blocks):
            h = blk(torch.cat([h, skips.pop()], dim=1), emb)  # concatenated skip at this scale
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.conv_out(F.silu(self.norm_out(h)))
