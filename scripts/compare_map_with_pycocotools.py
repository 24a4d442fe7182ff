"""Cross-check course_lib.metrics.mean_average_precision against pycocotools (the COCO reference).

    pip install pycocotools   # not a course dependency
    python scripts/compare_map_with_pycocotools.py

Targets come from the shapes data set; predictions are the targets with jittered boxes,
random scores, dropped objects, false positives and swapped classes, so that AP is far from 1.
Prints both mAP@0.5 values (and @0.75) for several random trials and the largest difference.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

from course_lib.data.shapes import ShapesDataset
from course_lib.metrics import mean_average_precision


def noisy_predictions(targets, g: torch.Generator):
    preds = []
    for t in targets:
        boxes, labels = t["boxes"].clone(), t["labels"].clone()
        keep = torch.rand(len(boxes), generator=g) > 0.15  # miss some objects
        boxes, labels = boxes[keep], labels[keep]
        boxes += torch.randn(boxes.shape, generator=g) * 2.5  # localisation error
        swap = torch.rand(len(labels), generator=g) < 0.1  # confuse some classes
        labels[swap] = torch.randint(1, 4, (int(swap.sum()),), generator=g)
        n_false = int(torch.randint(0, 3, (1,), generator=g))
        xy = torch.rand(n_false, 2, generator=g) * 48
        false = torch.cat([xy, xy + 8 + torch.rand(n_false, 2, generator=g) * 8], 1)
        boxes = torch.cat([boxes, false])
        labels = torch.cat([labels, torch.randint(1, 4, (n_false,), generator=g)])
        boxes = torch.cat([boxes[:, :2].clamp(0, 63), boxes[:, 2:].clamp(1, 64)], 1)
        boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        preds.append({"boxes": boxes, "labels": labels, "scores": torch.rand(len(boxes), generator=g)})
    return preds


def coco_map(preds, targets, iou_threshold: float) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "width": 64, "height": 64})
        for box, label in zip(t["boxes"].tolist(), t["labels"].tolist()):
            x1, y1, x2, y2 = box
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": label, "iscrowd": 0,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
        for box, label, score in zip(p["boxes"].tolist(), p["labels"].tolist(), p["scores"].tolist()):
            x1, y1, x2, y2 = box
            results.append({"image_id": i, "category_id": label, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations,
                      "categories": [{"id": c} for c in (1, 2, 3)]}
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.array([iou_threshold])
        ev.params.areaRng = [ev.params.areaRng[0]]  # all areas
        ev.params.areaRngLbl = ["all"]
        ev.params.maxDets = [100]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][0, :, :, 0, 0]  # (recall points, classes)
    per_class = [precision[:, k][precision[:, k] > -1].mean() for k in range(precision.shape[1])
                 if (precision[:, k] > -1).any()]
    return float(np.mean(per_class))


def main() -> None:
    targets = [t for _, t in ShapesDataset(200, size=64, seed=123)]
    worst = 0.0
    for trial in range(5):
        preds = noisy_predictions(targets, torch.Generator().manual_seed(trial))
        for thr in (0.5, 0.75):
            ours, ref = mean_average_precision(preds, targets, thr), coco_map(preds, targets, thr)
            worst = max(worst, abs(ours - ref))
            print(f"trial {trial} IoU {thr}: course_lib {ours:.6f}  pycocotools {ref:.6f}  diff {ours - ref:+.2e}")
    print(f"largest absolute difference: {worst:.2e}")


if __name__ == "__main__":
    main()
