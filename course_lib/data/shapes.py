"""A synthetic detection and segmentation data set: coloured shapes on textured backgrounds.

Each image holds 1 to ``max_objects`` circles, squares and triangles of varied size, colour and
position, painted in order (later shapes may hide part of earlier ones) on a smooth random
background with pixel noise. Every sample comes with exact annotations:

- ``labels``  ``(N,)`` int64 in {1: circle, 2: square, 3: triangle}; 0 is the background,
  as in torchvision's detection models;
- ``boxes``   ``(N, 4)`` float32 xyxy pixel boxes, tight around the *visible* part;
- ``masks``   ``(N, H, W)`` bool instance masks of the visible parts;
- ``semantic`` ``(H, W)`` int64 class per pixel (0 = background).

Sample ``i`` of a data set with seed ``s`` depends only on ``(s, i)``, so data sets of any
length share their first items and every run sees the same images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

CLASSES = ("background", "circle", "square", "triangle")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth colour gradient plus blotches and pixel noise, ``(size, size, 3)`` in [0, 1]."""
    coarse = rng.uniform(0.15, 0.85, size=(4, 4, 3))  # a 4x4 grid of colours, upsampled smoothly
    t = np.linspace(0, 3, size)
    i0 = np.minimum(t.astype(int), 2)
    f = (t - i0)[:, None]
    rows = coarse[i0] * (1 - f[..., None]) + coarse[i0 + 1] * f[..., None]  # (size, 4, 3)
    bg = rows[:, i0] * (1 - f.T[..., None]) + rows[:, i0 + 1] * f.T[..., None]  # (size, size, 3)
    bg = 0.5 * bg + 0.5 * bg.mean(axis=2, keepdims=True)  # desaturate: objects stand out by colour
    bg += rng.normal(0, rng.uniform(0.02, 0.08), size=(size, size, 3))  # sensor-like noise
    return bg


def _shape_mask(kind: int, cx: float, cy: float, r: float, angle: float, size: int) -> np.ndarray:
    """Boolean ``(size, size)`` mask of one shape of 'radius' ``r`` centred at ``(cx, cy)``."""
    mask = np.zeros((size, size), dtype=bool)
    top, left = max(int(cy - r) - 1, 0), max(int(cx - r) - 1, 0)  # work inside the shape's window only
    bottom, right = min(int(cy + r) + 2, size), min(int(cx + r) + 2, size)
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32) + 0.5  # pixel centres
    if kind == 1:  # circle
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    elif kind == 2:  # axis-aligned square of half-side 0.85 r (similar area to the circle)
        inside = (np.abs(xx - cx) <= 0.85 * r) & (np.abs(yy - cy) <= 0.85 * r)
    else:  # equilateral triangle rotated by angle: inside = on the inner side of all three edges
        corners = [(cx + r * np.cos(angle + k * 2 * np.pi / 3), cy + r * np.sin(angle + k * 2 * np.pi / 3))
                   for k in range(3)]
        inside = np.ones_like(xx, dtype=bool)
        for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1]):
            inside &= (x2 - x1) * (yy - y1) - (y2 - y1) * (xx - x1) >= 0
    mask[top:bottom, left:right] = inside
    return mask


def make_shapes_sample(seed: int, index: int, size: int = 64, max_objects: int = 4,
                       min_visible: float = 0.5) -> dict[str, torch.Tensor]:
    """Render sample ``index`` of the shapes set with ``seed`` (see the module docstring)."""
    if size < 32:
        raise ValueError(f"size must be >= 32 pixels, got {size}")
    rng = np.random.default_rng([seed, index])
    image = _background(rng, size)
    n = int(rng.integers(1, max_objects + 1))
    labels, full_areas, masks = [], [], []  # masks: the visible part of each shape so far
    for _ in range(n):
        for _attempt in range(10):  # overlaps are welcome, but no shape may lose > 1 - min_visible of itself
            kind = int(rng.integers(1, 4))
            r = rng.uniform(0.09, 0.22) * size
            cx, cy = rng.uniform(r, size - r, size=2)
            mask = _shape_mask(kind, cx, cy, r, rng.uniform(0, 2 * np.pi), size)
            if mask.sum() >= 16 and all((m & ~mask).sum() >= min_visible * a for m, a in zip(masks, full_areas)):
                break
        else:
            continue  # no acceptable place found: fewer shapes in this image
        colour = rng.uniform(0, 1, size=3)
        colour[rng.integers(3)] = rng.choice([0.05, 0.95])  # one extreme channel: vivid colours
        image[mask] = colour + rng.normal(0, 0.03, size=(int(mask.sum()), 3))
        masks = [m & ~mask for m in masks] + [mask]  # the new shape hides what lies beneath it
        full_areas.append(int(mask.sum()))
        labels.append(kind)
    boxes = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])  # xyxy on pixel edges
    semantic = np.zeros((size, size), dtype=np.int64)
    for kind, mask in zip(labels, masks):
        semantic[mask] = kind
    image_chw = np.ascontiguousarray(np.clip(image, 0, 1).astype(np.float32).transpose(2, 0, 1))  # (3, H, W)
    return {
        "image": torch.from_numpy(image_chw),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "masks": torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, size, size, dtype=torch.bool),
        "semantic": torch.from_numpy(semantic),
    }


class ShapesDataset(Dataset):
    """``n`` shapes images of ``size`` x ``size`` pixels; items are ``(image, target)``.

    ``image`` is a float ``(3, H, W)`` tensor in [0, 1]; ``target`` is a dict with ``boxes``,
    ``labels``, ``masks`` and ``semantic`` (see the module docstring), the format torchvision's
    detection models take. Samples are rendered on first access and cached.
    """

    classes = CLASSES

    def __init__(self, n: int, size: int = 64, seed: int = 0, max_objects: int = 4):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n, self.size, self.seed, self.max_objects = n, size, seed, max_objects
        self._cache: dict[int, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} samples")
        if index not in self._cache:
            self._cache[index] = make_shapes_sample(self.seed, index, self.size, self.max_objects)
        sample = self._cache[index]
        target = {k: v for k, v in sample.items() if k != "image"}
        return sample["image"], target

    def __repr__(self) -> str:
        return f"ShapesDataset(n={self.n}, size={self.size}, seed={self.seed}, max_objects={self.max_objects})"


class ShapesSegmentation(Dataset):
    """The same images as ``(image (3, H, W), semantic mask (H, W) int64)`` pairs for segmentation."""

    def __init__(self, shapes: ShapesDataset):
        self.shapes = shapes
        self.classes = shapes.classes

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.shapes[index]
        return image, target["semantic"]


def detection_collate(batch):
    """Collate ``(image, target)`` pairs into a tuple of images and a tuple of targets.

    Detection targets differ in length per image, so they cannot be stacked; use
    ``DataLoader(..., collate_fn=detection_collate)``.
    """
    images, targets = zip(*batch)
    return list(images), list(targets)
