"""Hole masks for inpainting: random boxes and free-form brush strokes.

Convention, used by every inpainting function of the course:

- a mask is a float tensor ``(B, 1, H, W)`` with **1 = missing (the hole)** and **0 = known**;
- the masked image the network sees is ``image * (1 - mask)`` (holes set to 0), plus the mask
  itself as a fourth channel.

Both generators are deterministic for a ``torch.Generator`` (or an integer seed): the same
seed gives the same masks. ``hole_range`` bounds the **hole fraction** (share of pixels that
are missing) of every mask.

The free-form strokes follow the recipe of Yu et al. (2019), "Free-Form Image Inpainting with
Gated Convolution": a stroke starts at a random point and makes a few straight moves of random
angle and length, drawn with a thick brush of random width; strokes are added until the hole
is large enough.
"""

from __future__ import annotations

import math

import torch

__all__ = ["box_masks", "stroke_masks", "hole_fraction"]


def _generator(generator: torch.Generator | int | None) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    return torch.Generator().manual_seed(0 if generator is None else int(generator))


def _check_args(batch: int, height: int, width: int, hole_range: tuple[float, float]) -> None:
    if batch < 1 or height < 2 or width < 2:
        raise ValueError(f"expected batch >= 1 and height, width >= 2, got {batch}, {height}, {width}")
    low, high = hole_range
    if not 0.0 < low <= high < 1.0:
        raise ValueError(f"hole_range must satisfy 0 < low <= high < 1, got {hole_range}")


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g))


def hole_fraction(mask: torch.Tensor) -> torch.Tensor:
    """Share of missing pixels per mask: ``(B, 1, H, W)`` -> ``(B,)``."""
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"expected a mask (B, 1, H, W), got {tuple(mask.shape)}")
    return mask.flatten(1).mean(dim=1)


def box_masks(batch: int, height: int, width: int, hole_range: tuple[float, float] = (0.1, 0.3),
              generator: torch.Generator | int | None = None) -> torch.Tensor:
    """One random axis-aligned rectangle per image.

    The area fraction is drawn uniformly in ``hole_range``, the aspect ratio log-uniformly in
    [1/2, 2]; the box is then placed uniformly inside the image. Rounding to whole pixels is
    corrected so that every hole fraction lies in ``hole_range`` (up to one row or column for
    tiny images).

    Returns a float ``(B, 1, H, W)`` mask, 1 = hole, 0 = known.
    """
    _check_args(batch, height, width, hole_range)
    g = _generator(generator)
    low, high = hole_range
    mask = torch.zeros(batch, 1, height, width)
    for b in range(batch):
        area = _uniform(g, low, high) * height * width  # pixels in the hole
        aspect = math.exp(_uniform(g, math.log(0.5), math.log(2.0)))  # h / w
        h = min(height, max(1, round(math.sqrt(area * aspect))))
        w = min(width, max(1, round(area / h)))
        while h * w > high * height * width and w > 1:  # rounding may overshoot: shrink
            w -= 1
        while h * w < low * height * width and w < width:  # or undershoot: grow
            w += 1
        while h * w < low * height * width and h < height:
            h += 1
        top = int(torch.randint(0, height - h + 1, (), generator=g))
        left = int(torch.randint(0, width - w + 1, (), generator=g))
        mask[b, 0, top:top + h, left:left + w] = 1.0
    return mask


def _draw_segment(canvas: torch.Tensor, p0: tuple[float, float], p1: tuple[float, float], radius: float) -> None:
    """Set to 1 the pixels of ``canvas`` (H, W) whose centre is within ``radius`` of segment p0-p1 (x, y)."""
    H, W = canvas.shape
    yy, xx = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")  # (H, W)
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = ((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-12)
    t = t.clamp(0, 1)  # closest point of the segment
    dist2 = (xx - (x0 + t * dx)) ** 2 + (yy - (y0 + t * dy)) ** 2
    canvas[dist2 <= radius**2] = 1.0


def _one_stroke(g: torch.Generator, height: int, width: int, max_vertices: int,
                width_range: tuple[float, float], max_step: float) -> torch.Tensor:
    stroke = torch.zeros(height, width)
    x, y = _uniform(g, 0, width), _uniform(g, 0, height)
    brush = _uniform(g, *width_range)
    n_moves = int(torch.randint(1, max_vertices + 1, (), generator=g))
    for _ in range(n_moves):
        angle = _uniform(g, 0, 2 * math.pi)
        length = _uniform(g, 0.1, 1.0) * max_step
        nx = min(max(x + length * math.cos(angle), 0.0), float(width))
        ny = min(max(y + length * math.sin(angle), 0.0), float(height))
        _draw_segment(stroke, (x, y), (nx, ny), brush / 2)
        x, y = nx, ny
    return stroke


def stroke_masks(batch: int, height: int, width: int, hole_range: tuple[float, float] = (0.1, 0.3),
                 generator: torch.Generator | int | None = None, max_vertices: int = 6,
                 brush_width: tuple[float, float] | None = None, max_tries: int = 200) -> torch.Tensor:
    """Free-form masks made of thick random polylines (Yu et al. 2019).

    Strokes are added one at a time; a stroke that would push the hole fraction above
    ``hole_range[1]`` is discarded, and drawing stops once the fraction reaches ``hole_range[0]``.

    Args:
        batch, height, width: the mask size.
        hole_range: (low, high) bounds of the hole fraction of each mask.
        generator: a ``torch.Generator`` or an integer seed (deterministic).
        max_vertices: moves per stroke are drawn in [1, max_vertices].
        brush_width: (min, max) brush width in pixels; default 4% to 12% of the shorter side.
        max_tries: strokes tried per mask before giving up with an error.

    Returns a float ``(B, 1, H, W)`` mask, 1 = hole, 0 = known.
    """
    _check_args(batch, height, width, hole_range)
    g = _generator(generator)
    low, high = hole_range
    side = min(height, width)
    width_range = brush_width or (max(2.0, 0.04 * side), max(3.0, 0.12 * side))
    mask = torch.zeros(batch, 1, height, width)
    for b in range(batch):
        canvas = torch.zeros(height, width)
        for _ in range(max_tries):
            candidate = torch.maximum(canvas, _one_stroke(g, height, width, max_vertices, width_range, 0.4 * side))
            if candidate.mean() <= high:
                canvas = candidate
            if canvas.mean() >= low:
                break
        else:
            raise RuntimeError(f"could not reach a hole fraction in {hole_range} after {max_tries} strokes "
                               f"(reached {float(canvas.mean()):.3f}); use a thinner brush_width")
        mask[b, 0] = canvas
    return mask
