"""Tests of course_lib.losses: segmentation losses (soft Dice, cross-entropy + Dice)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import dice_ce_loss, dice_loss


def _one_hot_logits(target: torch.Tensor, num_classes: int, margin: float) -> torch.Tensor:
    """Logits ``(B, K, H, W)`` that put ``margin`` on the target class and 0 elsewhere."""
    return margin * F.one_hot(target, num_classes).permute(0, 3, 1, 2).float()  # (B, H, W, K) -> (B, K, H, W)


def test_perfect_prediction_gives_zero():
    torch.manual_seed(0)
    target = torch.randint(0, 4, (2, 16, 16))
    target[1] = 0  # one image with a single class: absent classes must not be penalised
    loss = dice_loss(_one_hot_logits(target, 4, margin=50.0), target, 4)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_completely_wrong_prediction_gives_nearly_one():
    target = torch.zeros(1, 16, 16, dtype=torch.long)
    wrong = torch.ones_like(target)
    # class 0: no overlap, 256 target pixels -> dice 1/257; class 1: 256 predicted pixels -> 1/257
    loss = dice_loss(_one_hot_logits(wrong, 2, margin=50.0), target, 2)
    assert loss.item() == pytest.approx(1 - 1 / 257, abs=1e-5)
    assert loss.item() > 0.99


def test_hand_computed_value():
    # Uniform logits: p = 0.5 everywhere on a 2x2 image with target [[0, 1], [1, 1]].
    # class 0: intersection 0.5, sum p = 2, sum t = 1 -> (2*0.5 + 1) / (2 + 1 + 1) = 1/2
    # class 1: intersection 1.5, sum p = 2, sum t = 3 -> (2*1.5 + 1) / (2 + 3 + 1) = 2/3
    logits = torch.zeros(1, 2, 2, 2)
    target = torch.tensor([[[0, 1], [1, 1]]])
    assert dice_loss(logits, target, 2).item() == pytest.approx(1 - (1 / 2 + 2 / 3) / 2)
    # without smoothing (eps -> 0): class 0: 1/3, class 1: 3/5
    assert dice_loss(logits, target, 2, eps=1e-9).item() == pytest.approx(1 - (1 / 3 + 3 / 5) / 2)


def test_mean_over_images_not_over_the_pooled_batch():
    target = torch.tensor([[[0, 1], [1, 1]], [[0, 0], [0, 0]]])
    logits = torch.zeros(2, 2, 2, 2)
    per_image = torch.stack([dice_loss(logits[i:i + 1], target[i:i + 1], 2) for i in range(2)])
    assert dice_loss(logits, target, 2).item() == pytest.approx(per_image.mean().item())


def test_gradient_flows_and_points_towards_the_target():
    torch.manual_seed(0)
    target = torch.randint(0, 3, (2, 8, 8))
    logits = torch.zeros(2, 3, 8, 8, requires_grad=True)
    loss = dice_loss(logits, target, 3)
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    # a small step against the gradient lowers the loss, and raises the target-class logit
    target_grad = logits.grad.gather(1, target.unsqueeze(1))  # (B, 1, H, W)
    assert (target_grad < 0).all()
    with torch.no_grad():
        assert dice_loss(logits - 10 * logits.grad, target, 3) < loss


def test_dice_ce_loss_is_the_sum():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 8, 8)
    target = torch.randint(0, 4, (2, 8, 8))
    expected = F.cross_entropy(logits, target) + 0.5 * dice_loss(logits, target, 4)
    assert dice_ce_loss(logits, target, 4, dice_weight=0.5).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("logits_shape,target,match", [
    ((2, 3, 8, 8), torch.zeros(2, 8, 9, dtype=torch.long), r"target: expected class map of shape \(2, 8, 8\)"),
    ((2, 4, 8, 8), torch.zeros(2, 8, 8, dtype=torch.long), r"logits: expected \(B, 3, H, W\), got \(2, 4, 8, 8\)"),
    ((2, 3, 8, 8), torch.zeros(2, 8, 8), r"integer class indices"),
    ((2, 3, 8, 8), torch.full((2, 8, 8), 3), r"classes in \[0, 2\], got min 3, max 3"),
])
def test_bad_inputs_raise_clear_errors(logits_shape, target, match):
    with pytest.raises(ValueError, match=match):
        dice_loss(torch.zeros(logits_shape), target, 3)
