"""Drawing annotations: boxes with labels and scores, and class masks blended over images."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import patches

from .viz import to_numpy_image

# Colours per class index (0 = background is never drawn as a box): tab10 without grey.
PALETTE = torch.tensor([
    [0.00, 0.00, 0.00], [0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
    [0.58, 0.40, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.74, 0.74, 0.13], [0.09, 0.75, 0.81],
])


def _colour(label: int) -> tuple[float, float, float]:
    return tuple(PALETTE[1 + (int(label) - 1) % (len(PALETTE) - 1)].tolist()) if label > 0 else (1.0, 1.0, 1.0)


def draw_boxes(image: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor | None = None,
               scores: torch.Tensor | None = None, class_names: Sequence[str] | None = None,
               ax=None, title: str | None = None, linestyle: str = "-"):
    """Show ``image`` ``(3, H, W)`` in [0, 1] with ``(N, 4)`` xyxy ``boxes`` drawn on it.

    Each box is coloured by its label and captioned with the class name and, if given, the
    score. Returns the matplotlib axes (pass ``ax`` to draw into an existing one).
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes: expected shape (N, 4), got {tuple(boxes.shape)}")
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"got {len(labels)} labels for {len(boxes)} boxes")
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(to_numpy_image(image.clamp(0, 1)))
    ax.axis("off")
    for i, (x1, y1, x2, y2) in enumerate(boxes.detach().cpu().tolist()):
        label = int(labels[i]) if labels is not None else 1
        colour = _colour(label)
        ax.add_patch(patches.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                       edgecolor=colour, linewidth=1.5, linestyle=linestyle))
        caption = class_names[label] if class_names is not None and labels is not None else ""
        if scores is not None:
            caption = f"{caption} {float(scores[i]):.2f}".strip()
        if caption:
            ax.text(x1 - 0.5, y1 - 1.5, caption, color="white", fontsize=7,
                    bbox=dict(facecolor=colour, alpha=0.8, pad=0.5, linewidth=0))
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def overlay_masks(image: torch.Tensor, semantic: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """Blend a class map ``(H, W)`` (0 = background, left untouched) over ``image`` ``(3, H, W)``.

    Returns a ``(3, H, W)`` tensor in [0, 1], ready for :func:`course_lib.viz.show_images`.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image: expected (3, H, W), got {tuple(image.shape)}")
    if semantic.shape != image.shape[1:]:
        raise ValueError(f"mask: expected shape {tuple(image.shape[1:])} to match the image, got {tuple(semantic.shape)}")
    semantic = semantic.long().cpu()
    colours = torch.stack([torch.tensor(_colour(int(c))) for c in range(int(semantic.max()) + 1)])  # (K, 3)
    colour_map = colours[semantic].permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    foreground = (semantic > 0).unsqueeze(0)  # (1, H, W)
    image = image.detach().cpu().float()
    return torch.where(foreground, (1 - alpha) * image + alpha * colour_map, image).clamp(0, 1)
