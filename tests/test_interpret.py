"""Tests of course_lib.interpret: saliency maps, Grad-CAM, overlays.

Hand-made models whose answer is known: a linear model (saliency = |weights|), a model
whose logit only sees the left half of the image (zero saliency on the right), and a
colour-detector CNN (Grad-CAM of "red" lies on the red square, of "blue" on the blue one).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import models
from course_lib.interpret import grad_cam, overlay_heatmap, saliency


def _all_hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_backward_pre_hooks", {})) for m in model.modules())


class ColourDetector(nn.Module):
    """Channel 0 of ``features`` detects red, channel 1 blue; logit k = mean of channel k."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 2, kernel_size=1), nn.ReLU())
        with torch.no_grad():
            self.features[0].weight.copy_(torch.tensor([[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]).view(2, 3, 1, 1))
            self.features[0].bias.zero_()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(self.features(x)).flatten(1)  # (B, 2) logits


def red_left_blue_right(size: int = 32) -> torch.Tensor:
    """(1, 3, size, size): a red square in the left half, a blue one in the right half."""
    x = torch.zeros(1, 3, size, size)
    q = size // 4
    x[0, 0, q:3 * q, 2:2 + q] = 1.0  # red, left half
    x[0, 2, q:3 * q, size - 2 - q:size - 2] = 1.0  # blue, right half
    return x


class LeftHalfOnly(nn.Module):
    """A small CNN whose logits are computed from the left half of the image only."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4, 3))

    def forward(self, x):
        return self.body(x[..., : x.shape[-1] // 2])


# ---------------------------------------------------------------------------------------
# saliency
# ---------------------------------------------------------------------------------------

def test_saliency_of_a_linear_model_is_the_absolute_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 6, 4))
    images = torch.rand(2, 3, 5, 6)
    target = torch.tensor([1, 3])
    maps = saliency(model, images, target)
    weights = model[1].weight.view(4, 3, 5, 6)  # (classes, C, H, W)
    expected = weights[target].abs().amax(dim=1)  # (B, H, W)
    assert maps.shape == (2, 5, 6)
    torch.testing.assert_close(maps, expected)


def test_saliency_is_zero_where_the_model_does_not_look():
    torch.manual_seed(0)
    maps = saliency(LeftHalfOnly(), torch.rand(3, 3, 16, 16), target=2)
    assert maps.shape == (3, 16, 16) and (maps >= 0).all() and not maps.requires_grad
    assert torch.count_nonzero(maps[..., 8:]) == 0
    assert (maps[..., :8].flatten(1).amax(1) > 0).all()


def test_saliency_default_target_is_the_prediction():
    torch.manual_seed(0)
    model, images = LeftHalfOnly(), torch.rand(4, 3, 16, 16)
    predicted = model(images).argmax(1)
    torch.testing.assert_close(saliency(model, images), saliency(model, images, predicted))


def test_saliency_rejects_bad_inputs():
    model = LeftHalfOnly()
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        saliency(model, torch.rand(3, 16, 16), 0)
    with pytest.raises(ValueError, match=r"targets must be in \[0, 2\]"):
        saliency(model, torch.rand(1, 3, 16, 16), 3)
    with pytest.raises(ValueError, match=r"\(2,\) targets"):
        saliency(model, torch.rand(2, 3, 16, 16), torch.tensor([0, 1, 2]))


# ---------------------------------------------------------------------------------------
# Grad-CAM
# ---------------------------------------------------------------------------------------

def test_grad_cam_localises_the_class_in_a_handmade_case():
    model, x = ColourDetector(), red_left_blue_right(32)
    cams = grad_cam(model, model.features, x.repeat(2, 1, 1, 1), target=torch.tensor([0, 1]))
    assert cams.shape == (2, 32, 32)
    red, blue = cams
    assert red[:, :16].sum() / red.sum() > 0.99  # "red" looks at the left half
    assert blue[:, 16:].sum() / blue.sum() > 0.99  # "blue" at the right half
    # eq. 2 by hand: alpha_red > 0, alpha_blue = 0, so the map is the red channel / its max
    red_channel = model.features(x)[0, 0].detach()
    torch.testing.assert_close(red, red_channel / red_channel.max())


def test_grad_cam_localises_with_a_tiny_trained_cnn():
    """A CNN trained so that class 1 means 'bright blob in the left half' puts its map there."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    g = torch.Generator().manual_seed(0)

    def batch(n):
        x = 0.1 * torch.rand(n, 1, 16, 16, generator=g)
        labels = torch.randint(0, 2, (n,), generator=g)
        for i in range(n):
            if labels[i] == 1:
                r, c = torch.randint(2, 12, (1,), generator=g).item(), torch.randint(1, 5, (1,), generator=g).item()
                x[i, 0, r:r + 3, c:c + 3] = 1.0  # blob in the left half
        return x, labels

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        x, y = batch(32)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    x, y = batch(64)
    x, y = x[y == 1], y[y == 1]
    assert (model(x).argmax(1) == 1).float().mean() > 0.9
    cams = grad_cam(model, model[3], x, target=1)  # after the second conv + ReLU
    left_mass = cams[..., :8].sum(dim=(1, 2)) / cams.sum(dim=(1, 2)).clamp_min(1e-12)
    assert left_mass.mean() > 0.8


def test_grad_cam_on_resnet18_shape_range_and_no_side_effects():
    torch.manual_seed(0)
    model = models.resnet18(num_classes=5)
    for p in model.layer1.parameters():
        p.requires_grad_(False)  # partly frozen, as in fine-tuning
    images = torch.rand(2, 3, 64, 64)
    # a previous training step left gradients behind; they must survive unchanged
    model(images).sum().backward()
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    model.train()
    cams = grad_cam(model, model.layer4, images, target=torch.tensor([0, 4]))
    assert cams.shape == (2, 64, 64) and cams.dtype == torch.float32
    assert cams.min() >= 0 and cams.max() <= 1 and not cams.requires_grad
    assert torch.isclose(cams.flatten(1).amax(1), torch.ones(2)).all()  # normalised by its maximum
    maps = saliency(model, images, 3)
    assert maps.shape == (2, 64, 64)
    assert model.training  # mode restored
    assert _all_hooks(model) == 0
    for n, p in model.named_parameters():
        assert (p.grad is None) == (grads[n] is None), n
        if p.grad is not None:
            assert torch.equal(p.grad, grads[n]), n
    for n, b in model.named_buffers():  # eval mode inside: BatchNorm statistics untouched
        assert torch.equal(b, buffers[n]), n


def test_grad_cam_works_on_a_fully_frozen_model():
    model = ColourDetector().requires_grad_(False)
    cams = grad_cam(model, model.features, red_left_blue_right(), target=0)
    assert cams.shape == (1, 32, 32) and cams.max() == 1


def test_grad_cam_removes_its_hook_when_it_fails():
    model = models.resnet18(num_classes=3)
    with pytest.raises(ValueError, match="ran 2 times"):  # a BasicBlock calls its ReLU twice
        grad_cam(model, model.layer1[0].relu, torch.rand(1, 3, 64, 64), 0)
    assert _all_hooks(model) == 0
    with pytest.raises(ValueError, match="not a submodule"):
        grad_cam(model, nn.Conv2d(1, 1, 1), torch.rand(1, 3, 64, 64), 0)
    with pytest.raises(ValueError, match=r"\(B, K, h, w\)"):
        grad_cam(model, model.fc, torch.rand(1, 3, 64, 64), 0)
    assert _all_hooks(model) == 0


# ---------------------------------------------------------------------------------------
# overlay
# ---------------------------------------------------------------------------------------

def test_overlay_heatmap():
    image = torch.rand(3, 8, 10)
    heat = torch.rand(8, 10)
    out = overlay_heatmap(image, heat, alpha=0.4)
    assert out.shape == (8, 10, 3) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(overlay_heatmap(image, heat, alpha=0.0), image.permute(1, 2, 0).numpy(), atol=1e-6)
    grey = overlay_heatmap(image[:1], 5 * heat, alpha=0.5)  # grey image, heat map scaled by its max
    assert grey.shape == (8, 10, 3)
    with pytest.raises(ValueError, match="heat map of shape"):
        overlay_heatmap(image, torch.rand(10, 8))
