"""Figures the notebooks show: image grids and training curves."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_numpy_image(img: torch.Tensor | np.ndarray) -> np.ndarray:
    """A ``(C, H, W)`` or ``(H, W)`` tensor/array as an ``(H, W[, 3])`` array for ``imshow``."""
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().float().numpy()
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = np.moveaxis(img, 0, -1)  # (C, H, W) -> (H, W, C)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an image of shape (C, H, W) or (H, W), got {img.shape}")
    return img


def show_images(
    images: torch.Tensor | Sequence,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.6,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    suptitle: str | None = None,
):
    """Show images in a grid with optional titles; returns the figure.

    Args:
        images: a ``(B, C, H, W)`` tensor (values in [0, 1] by default), or a list of
            ``(C, H, W)`` / ``(H, W)`` tensors or arrays.
        titles: one string per image.
        ncols: images per row.
        vmin, vmax: the value range mapped to black and white (``None``: each image's own).
    """
    if isinstance(images, torch.Tensor):
        if images.ndim == 3:
            images = images.unsqueeze(1)  # (B, H, W) -> (B, 1, H, W)
        if images.ndim != 4:
            raise ValueError(f"expected (B, C, H, W) images, got shape {tuple(images.shape)}")
        images = list(images)
    images = list(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        arr = to_numpy_image(images[i])
        if arr.ndim == 3 and vmin is not None and vmax is not None:
            arr = np.clip((arr - vmin) / (vmax - vmin), 0, 1)
        ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None,
                  vmin=vmin if arr.ndim == 2 else None, vmax=vmax if arr.ndim == 2 else None)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history: Mapping[str, Sequence[float]], title: str | None = None):
    """Plot curves from a history dict such as ``{"train_loss": [...], "val_accuracy": [...]}``.

    Keys ending in ``loss`` go on the left panel, everything else on the right one.
    """
    losses = {k: v for k, v in history.items() if k.endswith("loss") and len(v)}
    others = {k: v for k, v in history.items() if not k.endswith("loss") and k != "epoch" and len(v)}
    panels = [p for p in (losses, others) if p]
    if not panels:
        raise ValueError("history has no curves to plot")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
    for ax, curves in zip(axes[0], panels):
        for name, values in curves.items():
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, label=name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
