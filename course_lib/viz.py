"""Figures the notebooks show: image grids, training curves, confusion matrices, feature maps."""

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


def plot_confusion_matrix(cm: torch.Tensor | np.ndarray, classes: Sequence[str] | None = None,
                          normalize: bool = False, title: str | None = None, size: float = 4.5):
    """Draw a confusion matrix as a heat map with the count (or fraction) in every cell.

    Args:
        cm: ``(K, K)`` non-negative counts; row ``i`` is the true class, column ``j`` the
            predicted class, so the diagonal holds the correct predictions.
        classes: ``K`` class names for the axes (default ``0 .. K-1``).
        normalize: divide each row by its total, so that cell ``(i, j)`` is the fraction of
            class ``i`` predicted as ``j`` (rows with no examples stay 0).

    Returns the figure; its only axes is the matrix (plus a colour bar).
    """
    if isinstance(cm, torch.Tensor):
        cm = cm.detach().cpu().numpy()
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"expected a square (K, K) confusion matrix, got shape {cm.shape}")
    if (cm < 0).any():
        raise ValueError("a confusion matrix holds counts; got negative entries")
    k = cm.shape[0]
    classes = [str(c) for c in range(k)] if classes is None else [str(c) for c in classes]
    if len(classes) != k:
        raise ValueError(f"got {len(classes)} class names for a {k}x{k} confusion matrix")
    values = cm
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(values, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), classes)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = values.max() / 2 if values.max() > 0 else 1.0
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalize else f"{int(round(values[i, j]))}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7 if k > 12 else 8,
                    color="white" if values[i, j] > threshold else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_feature_maps(maps: torch.Tensor | np.ndarray, ncols: int = 8, size: float = 1.3,
                      cmap: str = "viridis", titles: Sequence[str] | None = None,
                      suptitle: str | None = None):
    """Show the channels of one feature map side by side, each scaled to its own range.

    Args:
        maps: ``(C, H, W)`` activations of one image (or ``(1, C, H, W)``); any real values.
            Each channel is stretched from its own minimum (dark) to its own maximum (bright),
            so compare patterns within a panel, not brightness across panels.
        ncols: panels per row.
        titles: one string per channel (default ``"ch 0"``, ``"ch 1"``, ...).

    Returns the figure, with ``C`` visible panels (empty grid cells are hidden).
    """
    if isinstance(maps, torch.Tensor):
        maps = maps.detach().cpu().float().numpy()
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]  # (1, C, H, W) -> (C, H, W)
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps of one image, (C, H, W) or (1, C, H, W); got shape {maps.shape}")
    c = maps.shape[0]
    if c == 0:
        raise ValueError("got 0 channels to show")
    titles = [f"ch {i}" for i in range(c)] if titles is None else list(titles)
    if len(titles) != c:
        raise ValueError(f"got {len(titles)} titles for {c} channels")
    ncols = max(1, min(ncols, c))
    nrows = math.ceil(c / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= c:
            continue
        ax.imshow(maps[i], cmap=cmap)  # imshow scales each channel to its own [min, max]
        ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
