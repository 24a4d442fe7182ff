"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words").

An image is cut into non-overlapping ``P x P`` patches; each patch becomes one token. A
learnable class token is put in front, learnable positional embeddings are added, and a stack
of pre-norm Transformer encoder blocks mixes the tokens. The class token's final state is
classified by a linear head::

    x                       (B, C, H, W)          images
    conv_proj(x)            (B, D, H/P, W/P)      patch embedding = a PxP convolution with stride P
    flatten + transpose     (B, N, D)             N = (H/P) * (W/P) patch tokens
    [cls; tokens] + pos     (B, N + 1, D)         class token first, positional embeddings added
    L x EncoderBlock        (B, N + 1, D)         x = x + MHSA(LN(x)); x = x + MLP(LN(x))
    LN, take token 0        (B, D)
    heads.head              (B, num_classes)      logits

Attention runs through ``F.scaled_dot_product_attention``; ``forward(x, return_attention=True)``
also returns every layer's attention probabilities ``(B, heads, N + 1, N + 1)``, computed
explicitly as ``softmax(Q K^T / sqrt(d)) V`` (the fused kernel does not return them).

Module and parameter names follow ``torchvision.models.vision_transformer`` so that
``vit_b_16().load_state_dict(torchvision.models.vit_b_16().state_dict(), strict=True)`` works and
gives the same logits (``tests/test_vit.py``). In particular the attention keeps
``nn.MultiheadAttention``'s parameter layout: one ``in_proj_weight`` of shape ``(3D, D)`` holding
the query, key and value projections stacked, and an ``out_proj`` linear layer.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ViTConfig", "MultiHeadSelfAttention", "EncoderBlock", "Encoder", "VisionTransformer", "vit_b_16"]


@dataclass
class ViTConfig:
    image_size: int = 224  # input height = width, in pixels
    patch_size: int = 16  # side of a square patch; image_size must be a multiple of it
    in_channels: int = 3  # image channels (1 for MNIST)
    dim: int = 768  # token width D (torchvision: hidden_dim)
    depth: int = 12  # number of encoder blocks (torchvision: num_layers)
    num_heads: int = 12  # attention heads; dim must be a multiple of it
    mlp_ratio: float = 4.0  # hidden width of each block's MLP = mlp_ratio * dim
    num_classes: int = 1000  # outputs of the linear head
    dropout: float = 0.0  # dropout after the embeddings, the attention output and in the MLP
    attention_dropout: float = 0.0  # dropout on the attention probabilities

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not a multiple of num_heads {self.num_heads}")

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def mlp_dim(self) -> int:
        return int(round(self.mlp_ratio * self.dim))


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention on ``(B, N, D)`` tokens, with ``nn.MultiheadAttention``'s parameters.

    For each head h: ``softmax(Q_h K_h^T / sqrt(d)) V_h`` with ``d = D / heads``; the heads are
    concatenated and projected by ``out_proj``.
    """

    def __init__(self, dim: int, num_heads: int, attention_dropout: float = 0.0):
        super().__init__()
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.attention_dropout = attention_dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))  # rows: W_q, W_k, W_v
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values, each ``(B, heads, N, d)``."""
        B, N, D = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, N, 3D)
        qkv = qkv.reshape(B, N, 3, self.num_heads, self.head_dim)  # (B, N, 3, heads, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, N, d)
        return q, k, v

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """``x (B, N, D)`` -> ``(B, N, D)``, plus ``(B, heads, N, N)`` probabilities if asked."""
        B, N, D = x.shape
        q, k, v = self.qkv(x)
        p = self.attention_dropout if self.training else 0.0
        weights = None
        if return_attention:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, heads, N, N)
            weights = scores.softmax(dim=-1)
            out = F.dropout(weights, p, self.training) @ v  # (B, heads, N, d)
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, heads, N, d)
        out = out.transpose(1, 2).reshape(B, N, D)  # (B, N, heads * d): heads side by side
        out = self.out_proj(out)
        return (out, weights) if return_attention else out


class EncoderBlock(nn.Module):
    """Pre-norm Transformer block: ``x + MHSA(LN(x))``, then ``+ MLP(LN(.))``; ``(B, N, D) -> (B, N, D)``."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, dropout: float = 0.0,
                 attention_dropout: float = 0.0, eps: float = 1e-6):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=eps)
        self.self_attention = MultiHeadSelfAttention(dim, num_heads, attention_dropout)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(dim, eps=eps)
        # indices 0 and 3 hold the weights, as in torchvision's MLPBlock
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(dropout))
        for layer in (self.mlp[0], self.mlp[3]):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=1e-6)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        attended = self.self_attention(self.ln_1(x), return_attention=return_attention)
        attended, weights = attended if return_attention else (attended, None)
        x = x + self.dropout(attended)
        x = x + self.mlp(self.ln_2(x))
        return (x, weights) if return_attention else x


class Encoder(nn.Module):
    """Positional embeddings + ``depth`` blocks + final LayerNorm; ``(B, N + 1, D) -> (B, N + 1, D)``."""

    def __init__(self, seq_length: int, cfg: ViTConfig, eps: float = 1e-6):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, cfg.dim).normal_(std=0.02))
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(cfg.dim, cfg.num_heads, cfg.mlp_dim, cfg.dropout,
                                                cfg.attention_dropout, eps))
            for i in range(cfg.depth)))
        self.ln = nn.LayerNorm(cfg.dim, eps=eps)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        x = self.dropout(x + self.pos_embedding)  # (B, N + 1, D)
        maps = []
        for block in self.layers:
            if return_attention:
                x, weights = block(x, return_attention=True)
                maps.append(weights)
            else:
                x = block(x)
        x = self.ln(x)
        return (x, maps) if return_attention else x


class VisionTransformer(nn.Module):
    """ViT classifier: ``(B, C, H, W)`` images of ``cfg.image_size`` -> ``(B, num_classes)`` logits."""

    def __init__(self, cfg: ViTConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else ViTConfig()
        # a PxP convolution with stride P = one linear map applied to every patch
        self.conv_proj = nn.Conv2d(cfg.in_channels, cfg.dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.encoder = Encoder(cfg.num_patches + 1, cfg)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(cfg.dim, cfg.num_classes)))
        fan_in = cfg.in_channels * cfg.patch_size ** 2
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.cfg
        expected = (cfg.in_channels, cfg.image_size, cfg.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens ``(B, N, D)`` of images ``(B, C, H, W)``, row by row."""
        self._check_input(x)
        x = self.conv_proj(x)  # (B, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (B, D, N) -> (B, N, D)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """Logits ``(B, num_classes)``; with ``return_attention=True`` also a list (one per block)
        of attention probabilities ``(B, heads, N + 1, N + 1)``, token 0 being the class token."""
        tokens = self.patchify(x)  # (B, N, D)
        cls = self.class_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        tokens = torch.cat([cls, tokens], dim=1)  # (B, N + 1, D)
        out = self.encoder(tokens, return_attention=return_attention)
        tokens, maps = out if return_attention else (out, None)
        logits = self.heads(tokens[:, 0])  # the class token's state -> (B, num_classes)
        return (logits, maps) if return_attention else logits

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """All attention probabilities stacked: ``(depth, B, heads, N + 1, N + 1)``."""
        _, maps = self.forward(x, return_attention=True)
        return torch.stack(maps)


def vit_b_16(num_classes: int = 1000, **overrides) -> VisionTransformer:
    """ViT-B/16 as in torchvision: 224x224 RGB, 16x16 patches, D = 768, 12 blocks of 12 heads,
    MLP 3072; 86,567,656 parameters with 1,000 classes. Weights from torchvision load strictly."""
    cfg = ViTConfig(image_size=224, patch_size=16, in_channels=3, dim=768, depth=12, num_heads=12,
                    mlp_ratio=4.0, num_classes=num_classes, **overrides)
    return VisionTransformer(cfg)
