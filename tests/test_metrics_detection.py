import math

import pytest
import torch

from course_lib.metrics import average_precision, mean_average_precision, precision_recall_curve


def det(boxes, scores, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "scores": torch.tensor(scores, dtype=torch.float32), "labels": torch.tensor(labels, dtype=torch.int64)}


def gt(boxes, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.int64)}


A, B, FAR = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]


def test_perfect_detections_give_ap_one():
    preds = [det([A, B], [0.9, 0.8], [1, 2])]
    targets = [gt([A, B], [1, 2])]
    assert mean_average_precision(preds, targets) == pytest.approx(1.0)


def test_hand_computed_ap_tp_fp_tp():
    # ranked: TP (recall 1/2, precision 1), FP (1/2, 1/2), TP (1, 2/3)
    # interpolated precision: 1 for recall <= 0.5 (51 of the 101 points), 2/3 above (50 points)
    preds = [det([A, FAR, B], [0.9, 0.8, 0.7], [1, 1, 1])]
    targets = [gt([A, B], [1, 1])]
    precision, recall, _ = precision_recall_curve(preds, targets, label=1)
    torch.testing.assert_close(precision, torch.tensor([1, 0.5, 2 / 3], dtype=torch.float64))
    torch.testing.assert_close(recall, torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64))
    assert average_precision(preds, targets, label=1) == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)


def test_duplicates_wrong_class_and_low_iou_are_false_positives():
    shifted = [6, 0, 16, 10]  # IoU with A = 4*10 / (200 - 40) = 0.25
    preds = [det([A, A, shifted, B], [0.9, 0.85, 0.8, 0.7], [1, 1, 1, 2])]
    targets = [gt([A], [1])]
    scores, _, _ = precision_recall_curve(preds, targets, label=1)
    assert len(scores) == 3  # the class-2 box is not a class-1 detection
    assert average_precision(preds, targets, label=1) == pytest.approx(1.0)  # found first, at precision 1
    assert average_precision(preds, targets, label=1, iou_threshold=0.2) == pytest.approx(1.0)
    # at threshold 0.2 the shifted box could match A, but A is already taken by the top detection


def test_missed_objects_cap_recall():
    preds = [det([A], [0.9], [1]), det([], [], [])]
    targets = [gt([A], [1]), gt([B], [1])]  # two images, one object each; only one found
    # recall reaches 0.5 at precision 1, never more: 51 of 101 points
    assert average_precision(preds, targets, label=1) == pytest.approx(51 / 101)


def test_matching_is_per_image():
    preds = [det([A], [0.9], [1]), det([], [], [])]
    targets = [gt([], []), gt([A], [1])]  # the box is right, but in the wrong image
    assert average_precision(preds, targets, label=1) == 0.0


def test_classes_without_ground_truth_are_ignored_in_the_mean():
    preds = [det([A, B], [0.9, 0.9], [1, 3])]  # a false class-3 detection, class 3 has no ground truth
    targets = [gt([A], [1])]
    assert math.isnan(average_precision(preds, targets, label=3))
    assert mean_average_precision(preds, targets) == pytest.approx(1.0)


def test_score_order_matters():
    targets = [gt([A, B], [1, 1])]
    good = [det([A, B, FAR], [0.9, 0.8, 0.1], [1, 1, 1])]  # false positive ranked last
    bad = [det([A, B, FAR], [0.2, 0.1, 0.9], [1, 1, 1])]  # false positive ranked first
    assert mean_average_precision(good, targets) == pytest.approx(1.0)
    assert mean_average_precision(bad, targets) < 0.8


def test_bad_inputs():
    with pytest.raises(ValueError, match="one prediction dict per target"):
        mean_average_precision([], [gt([A], [1])])
    with pytest.raises(ValueError, match="lacks 'scores'"):
        mean_average_precision([{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}], [gt([A], [1])])
    with pytest.raises(ValueError, match="no objects"):
        mean_average_precision([det([], [], [])], [gt([], [])])


def test_matches_pycocotools_on_noisy_predictions():
    """COCO's reference implementation gives the same mAP@0.5 and @0.75 (measured: |diff| <= 1e-15)."""
    pytest.importorskip("pycocotools")
    import importlib.util
    from pathlib import Path

    from course_lib.data.shapes import ShapesDataset

    path = Path(__file__).resolve().parent.parent / "scripts" / "compare_map_with_pycocotools.py"
    spec = importlib.util.spec_from_file_location("compare_map", path)
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    targets = [t for _, t in ShapesDataset(60, size=64, seed=7)]
    preds = compare.noisy_predictions(targets, torch.Generator().manual_seed(0))
    for threshold in (0.5, 0.75):
        assert mean_average_precision(preds, targets, threshold) == pytest.approx(
            compare.coco_map(preds, targets, threshold), abs=1e-9)
