"""Box operations for detection, with ``torchvision.ops`` semantics, written out to be read.

Boxes are ``(N, 4)`` float tensors. ``xyxy`` means ``(x1, y1, x2, y2)`` with ``x1 <= x2`` and
``y1 <= y2`` in pixels; ``xywh`` is ``(x1, y1, width, height)``; ``cxcywh`` is
``(centre x, centre y, width, height)``. The notebook on detection derives each function;
tests compare them with ``torchvision.ops``.
"""

from __future__ import annotations

import torch

FORMATS = ("xyxy", "xywh", "cxcywh")


def _check_boxes(boxes: torch.Tensor, name: str = "boxes", fmt: str = "xyxy") -> None:
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(boxes).__name__}")
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{name}: expected shape (N, 4), got {tuple(boxes.shape)}")
    if not boxes.is_floating_point():
        raise TypeError(f"{name}: expected a float tensor, got {boxes.dtype}")
    if fmt == "xyxy" and boxes.numel():
        bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(f"{name}: expected x1 <= x2 and y1 <= y2 (xyxy), but box {i} is {boxes[i].tolist()}")


def box_convert(boxes: torch.Tensor, in_fmt: str, out_fmt: str) -> torch.Tensor:
    """Convert ``(N, 4)`` boxes between ``xyxy``, ``xywh`` and ``cxcywh``."""
    for fmt in (in_fmt, out_fmt):
        if fmt not in FORMATS:
            raise ValueError(f"unknown box format {fmt!r}; expected one of {FORMATS}")
    _check_boxes(boxes, fmt=in_fmt)
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d  # -> xyxy
    elif in_fmt == "cxcywh":
        a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return torch.stack([a, b, c, d], dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of ``(N, 4)`` xyxy boxes, ``(N,)``."""
    _check_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every pair: ``(N, 4)`` and ``(M, 4)`` xyxy -> ``(N, M)``.

    IoU = |A ∩ B| / |A ∪ B|. Two boxes of zero area give 0/0; like torchvision, that is NaN.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # (N, M, 2), 0 where the boxes do not overlap
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    return inter / (area1[:, None] + area2[None, :] - inter)


def _check_iou_threshold(iou_threshold: float) -> None:
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float)) or not 0 <= iou_threshold <= 1:
        raise ValueError(f"iou_threshold: expected a number in [0, 1], got {iou_threshold!r}")


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Non-maximum suppression: indices of the kept boxes, by decreasing score.

    Greedy: take the highest-scoring remaining box, drop every remaining box whose IoU with it
    is greater than ``iou_threshold``, repeat. ``boxes`` ``(N, 4)`` xyxy, ``scores`` ``(N,)``;
    returns an int64 tensor ``(K,)``. Boxes of every class compete; see :func:`batched_nms`.
    """
    _check_boxes(boxes)
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores: expected a tensor of shape ({boxes.shape[0]},), got {type(scores).__name__}")
    if scores.ndim != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"scores: expected shape ({boxes.shape[0]},), got {tuple(scores.shape)}")
    _check_iou_threshold(iou_threshold)
    # stable sort so that ties keep their input order, as torchvision's CPU kernel does
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes, boxes)  # (N, N)
    suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each class only (boxes of different ``labels`` never suppress each other)."""
    _check_boxes(boxes)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels: expected a tensor of shape ({boxes.shape[0]},), got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != boxes.shape[0]:
        raise ValueError(f"labels: expected shape ({boxes.shape[0]},), one class per box, got {tuple(labels.shape)}")
    if labels.is_floating_point():
        raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    _check_iou_threshold(iou_threshold)
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    # shift each class into its own region of the plane so that boxes of different classes never overlap
    offsets = labels.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)
