"""Frozen VGG-19 feature extractor for perceptual losses (style transfer, SRGAN).

Layers are named ``relu{block}_{index}`` as in Gatys et al. (2016): ``relu1_1`` is the ReLU
after the first convolution of the first block, ``relu4_2`` the one after the second
convolution of the fourth block. The extractor is a *fixed measuring instrument*: its
parameters never require gradients and it always stays in eval mode. Gradients still flow
through it to the image (or network) being optimised.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torchvision
from torch import nn

__all__ = ["VGGFeatures", "VGG19_LAYER_INDEX", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Convolutions per block in VGG-19 (configuration "E").
_VGG19_BLOCKS = (2, 2, 4, 4, 4)


def _layer_index() -> dict[str, int]:
    """Map ``relu{b}_{i}`` to its index in ``torchvision.models.vgg19().features``."""
    names: dict[str, int] = {}
    position = 0
    for block, convs in enumerate(_VGG19_BLOCKS, start=1):
        for i in range(1, convs + 1):
            names[f"relu{block}_{i}"] = position + 1  # conv at position, ReLU right after it
            position += 2
        position += 1  # the max-pool closing the block
    return names


VGG19_LAYER_INDEX: dict[str, int] = _layer_index()


class VGGFeatures(nn.Module):
    """Frozen VGG-19 ``features`` truncated after the deepest requested layer.

    Args:
        layers: names such as ``"relu1_1"`` (see ``VGG19_LAYER_INDEX``); the order of the
            returned dict follows the network.
        weights: ``"DEFAULT"`` tries torchvision's ImageNet weights through
            :func:`course_lib.pretrained.load_torchvision_weights` (offline: one printed line,
            random weights); ``None`` gives random weights without a message.
        pool: ``"max"`` (VGG as trained) or ``"avg"`` (Gatys et al. suggest average pooling
            for smoother images).

    Attributes:
        pretrained: ``True`` when ImageNet weights were loaded.

    Input: ``(B, 3, H, W)`` in [0, 1]; ImageNet normalisation happens inside.
    Output: ``dict`` name -> ``(B, C_l, H_l, W_l)``.
    """

    def __init__(self, layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
                 weights: str | None = "DEFAULT", pool: str = "max") -> None:
        super().__init__()
        layers = tuple(layers)
        if not layers:
            raise ValueError("layers must name at least one layer, e.g. ('relu1_1',)")
        unknown = [name for name in layers if name not in VGG19_LAYER_INDEX]
        if unknown:
            raise ValueError(f"unknown VGG-19 layer(s) {unknown}; expected names from {list(VGG19_LAYER_INDEX)}")
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        if weights is None:
            vgg = torchvision.models.vgg19(weights=None)
            self.pretrained = False
        else:
            from ..pretrained import load_torchvision_weights

            vgg, loaded = load_torchvision_weights("vgg19", weights)
            self.pretrained = loaded is not None
        last = max(VGG19_LAYER_INDEX[name] for name in layers)
        body = list(vgg.features.children())[: last + 1]
        if pool == "avg":
            body = [nn.AvgPool2d(kernel_size=2, stride=2) if isinstance(m, nn.MaxPool2d) else m for m in body]
        # In-place ReLUs would overwrite the conv outputs we hand out; use out-of-place ones.
        body = [nn.ReLU(inplace=False) if isinstance(m, nn.ReLU) else m for m in body]
        self.features = nn.Sequential(*body)
        self.layers = tuple(sorted(layers, key=VGG19_LAYER_INDEX.__getitem__))
        self._wanted = {VGG19_LAYER_INDEX[name]: name for name in self.layers}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGFeatures":
        """Ignore ``mode``: the extractor always stays in eval mode (it is frozen)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGGFeatures expects (B, 3, H, W) images in [0, 1], got shape {tuple(x.shape)}")
        h = (x - self.mean) / self.std  # (B, 3, H, W)
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.features):
            h = module(h)
            if i in self._wanted:
                out[self._wanted[i]] = h  # (B, C_l, H_l, W_l)
        return out
