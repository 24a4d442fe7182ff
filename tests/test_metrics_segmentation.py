import math

import pytest
import torch

from course_lib.metrics import confusion_matrix, dice, dice_per_class, iou_per_class, mean_iou, pixel_accuracy


def test_hand_computed_scores():
    target = torch.tensor([[0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1]])
    cm = confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert pixel_accuracy(pred, target) == pytest.approx(0.75)
    ious = iou_per_class(pred, target, 3)
    assert ious[0] == pytest.approx(1 / 2) and ious[1] == pytest.approx(2 / 3) and math.isnan(ious[2])
    assert mean_iou(pred, target, 3) == pytest.approx((1 / 2 + 2 / 3) / 2)  # class 2 absent: not averaged
    dices = dice_per_class(pred, target, 3)
    assert dices[0] == pytest.approx(2 / 3) and dices[1] == pytest.approx(4 / 5)
    assert dice(pred, target, 3) == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_perfect_and_batched():
    target = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    assert mean_iou(target, target, 4) == 1.0 and dice(target, target, 4) == 1.0
    assert pixel_accuracy(target, target) == 1.0


def test_dice_and_iou_are_related():
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 3, (4, 16, 16), generator=g)
    pred = torch.randint(0, 3, (4, 16, 16), generator=g)
    iou, d = iou_per_class(pred, target, 3), dice_per_class(pred, target, 3)
    torch.testing.assert_close(d, 2 * iou / (1 + iou))  # Dice = 2 IoU / (1 + IoU)


def test_ignore_index_and_errors():
    target = torch.tensor([0, 1, 255])
    pred = torch.tensor([0, 1, 1])
    assert confusion_matrix(pred, target, 2, ignore_index=255).sum() == 2
    with pytest.raises(ValueError, match="same shape"):
        mean_iou(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="argmax"):
        mean_iou(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="outside"):
        mean_iou(torch.tensor([0, 5]), torch.tensor([0, 1]), 2)
