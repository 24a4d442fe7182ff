"""Segmentation metrics over label maps: confusion matrix, pixel accuracy, IoU and Dice per class.

Predictions and targets are integer class maps of the same shape, ``(B, H, W)`` or ``(H, W)``
(take ``logits.argmax(1)`` first). Scores are accumulated over all pixels of the batch, the
usual convention for data-set level mIoU.
"""

from __future__ import annotations

import torch


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """``(K, K)`` int64 counts: row = true class, column = predicted class."""
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.is_floating_point() or target.is_floating_point():
        raise TypeError(f"expected integer class maps (use logits.argmax(1)), got {pred.dtype} and {target.dtype}")
    pred, target = pred.flatten().long(), target.flatten().long()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    for name, t in (("pred", pred), ("target", target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} has classes outside [0, {num_classes - 1}]: min {int(t.min())}, max {int(t.max())}")
    return torch.bincount(target * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def pixel_accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Share of pixels whose predicted class is right."""
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return float((pred == target).double().mean())


def iou_per_class(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """IoU = TP / (TP + FP + FN) per class, ``(K,)``; NaN for a class absent from both."""
    cm = confusion_matrix(pred, target, num_classes).double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))


def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Mean IoU over the classes present in ``pred`` or ``target`` (background included)."""
    return float(iou_per_class(pred, target, num_classes).nanmean())


def dice_per_class(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Dice = 2 TP / (2 TP + FP + FN) per class, ``(K,)``; NaN for a class absent from both."""
    cm = confusion_matrix(pred, target, num_classes).double()
    tp = cm.diag()
    total = cm.sum(0) + cm.sum(1)
    return torch.where(total > 0, 2 * tp / total.clamp(min=1), torch.full_like(tp, float("nan")))


def dice(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Mean Dice over the classes present in ``pred`` or ``target``."""
    return float(dice_per_class(pred, target, num_classes).nanmean())
