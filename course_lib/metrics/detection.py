"""Detection metrics: average precision, COCO style (101-point interpolation).

Predictions and targets are lists with one dict per image, like torchvision's detection
models produce and take: predictions ``{"boxes": (N, 4) xyxy, "scores": (N,), "labels": (N,)}``,
targets ``{"boxes": (M, 4) xyxy, "labels": (M,)}``.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..ops import box_iou

RECALL_POINTS = torch.linspace(0, 1, 101, dtype=torch.float64)  # COCO's 101 recall thresholds


def _check_inputs(preds: Sequence[dict], targets: Sequence[dict]) -> None:
    if len(preds) != len(targets):
        raise ValueError(f"expected one prediction dict per target dict, got {len(preds)} and {len(targets)}")
    for i, (p, t) in enumerate(zip(preds, targets)):
        for key in ("boxes", "scores", "labels"):
            if key not in p:
                raise ValueError(f"preds[{i}] lacks {key!r}; expected keys boxes, scores, labels")
        for key in ("boxes", "labels"):
            if key not in t:
                raise ValueError(f"targets[{i}] lacks {key!r}; expected keys boxes, labels")
        if not (len(p["boxes"]) == len(p["scores"]) == len(p["labels"])):
            raise ValueError(f"preds[{i}]: boxes, scores and labels differ in length "
                             f"({len(p['boxes'])}, {len(p['scores'])}, {len(p['labels'])})")


def match_detections(preds: Sequence[dict], targets: Sequence[dict], label: int,
                     iou_threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mark each detection of class ``label`` as true or false positive.

    Detections of all images are taken in order of decreasing score; each is matched to the
    unmatched ground-truth box of the same class and image with the highest IoU, if that IoU is
    at least ``iou_threshold`` (a true positive); otherwise it is a false positive (a duplicate
    of an already-found object counts as false). Returns ``(scores, is_true_positive, n_ground_truth)``
    sorted by decreasing score.
    """
    _check_inputs(preds, targets)
    scores, image_ids, det_boxes = [], [], []
    gt_boxes, n_gt = [], 0
    for i, (p, t) in enumerate(zip(preds, targets)):
        keep = p["labels"] == label
        scores.append(p["scores"][keep].double().cpu())
        det_boxes.append(p["boxes"][keep].float().cpu())
        image_ids.append(torch.full((int(keep.sum()),), i))
        gt = t["boxes"][t["labels"] == label].float().cpu()
        gt_boxes.append(gt)
        n_gt += len(gt)
    scores_all = torch.cat(scores)
    ids_all = torch.cat(image_ids)
    order = torch.sort(scores_all, descending=True, stable=True).indices
    # IoU of every detection of an image with every ground truth of that image
    ious = [box_iou(d, g) if len(d) and len(g) else torch.zeros(len(d), len(g)) for d, g in zip(det_boxes, gt_boxes)]
    position = torch.cat([torch.arange(len(d)) for d in det_boxes])  # index of each detection in its image
    matched = [torch.zeros(len(g), dtype=torch.bool) for g in gt_boxes]
    is_tp = torch.zeros(len(order), dtype=torch.bool)
    for rank, k in enumerate(order.tolist()):
        img, j = int(ids_all[k]), int(position[k])
        if ious[img].shape[1] == 0:
            continue
        candidate = ious[img][j].clone()
        candidate[matched[img]] = -1.0  # each ground truth is found at most once
        best = int(candidate.argmax())
        if candidate[best] >= iou_threshold:
            matched[img][best] = True
            is_tp[rank] = True
    return scores_all[order], is_tp, n_gt


def precision_recall_curve(preds: Sequence[dict], targets: Sequence[dict], label: int,
                           iou_threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision and recall after each detection of class ``label`` (by decreasing score), and the scores."""
    scores, is_tp, n_gt = match_detections(preds, targets, label, iou_threshold)
    tp = torch.cumsum(is_tp.double(), 0)
    fp = torch.cumsum((~is_tp).double(), 0)
    precision = tp / (tp + fp).clamp(min=1)
    recall = tp / n_gt if n_gt else torch.zeros_like(tp)
    return precision, recall, scores


def average_precision(preds: Sequence[dict], targets: Sequence[dict], label: int,
                      iou_threshold: float = 0.5) -> float:
    """AP of one class: the mean over 101 recall levels of the interpolated precision.

    Interpolated precision at recall ``r`` is the best precision reached at any recall >= r
    (0 where that recall is never reached). Returns NaN for a class with no ground truth.
    """
    precision, recall, _ = precision_recall_curve(preds, targets, label, iou_threshold)
    n_gt = sum(int((t["labels"] == label).sum()) for t in targets)
    if n_gt == 0:
        return float("nan")
    if len(precision) == 0:
        return 0.0
    # running maximum from the right: the precision envelope
    envelope = torch.flip(torch.cummax(torch.flip(precision, [0]), 0).values, [0])
    first = torch.searchsorted(recall.contiguous(), RECALL_POINTS, side="left")  # first index with recall >= r
    reached = first < len(recall)
    values = torch.zeros_like(RECALL_POINTS)
    values[reached] = envelope[first[reached]]
    return float(values.mean())


def mean_average_precision(preds: Sequence[dict], targets: Sequence[dict], iou_threshold: float = 0.5) -> float:
    """COCO-style AP at one IoU threshold, averaged over the classes that have ground truth.

    With ``iou_threshold=0.5`` this is "mAP@0.5" (PASCAL VOC's threshold, COCO's interpolation).
    """
    _check_inputs(preds, targets)
    labels = sorted(set(torch.cat([t["labels"].cpu() for t in targets]).tolist())) if targets else []
    if not labels:
        raise ValueError("the targets contain no objects; mAP is undefined")
    return float(sum(average_precision(preds, targets, c, iou_threshold) for c in labels) / len(labels))
