"""Tests of course_lib.models.unet.UNet: shapes at any size, real concatenated skips, gradients,
one-batch overfit, clear errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.models.unet import UNet
from course_lib.utils import count_parameters


def _zero_bottleneck(model: UNet):
    """A forward hook that replaces the deepest feature map e_depth by zeros."""
    return model.bottleneck.register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))


@pytest.mark.parametrize("in_channels", [3, 1])
@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
def test_output_shape_at_a_size_not_divisible_by_16(in_channels, upsampling):
    torch.manual_seed(0)
    model = UNet(in_channels, num_classes=5, base_channels=4, upsampling=upsampling).eval()
    out = model(torch.rand(1, in_channels, 100, 100))
    assert out.shape == (1, 5, 100, 100)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("size", [(64, 64), (37, 53), (5, 3), (1, 1)])
def test_any_input_size(size):
    torch.manual_seed(0)
    model = UNet(3, num_classes=2, base_channels=4, depth=3).eval()
    assert model(torch.rand(2, 3, *size)).shape == (2, 2, *size)


def test_zeroed_bottleneck_still_depends_on_the_input_through_the_skips():
    torch.manual_seed(0)
    model = UNet(3, num_classes=4, base_channels=4).eval()
    handle = _zero_bottleneck(model)
    x1, x2 = torch.rand(2, 1, 3, 48, 48)
    with torch.no_grad():
        y1, y2 = model(x1), model(x2)
    handle.remove()
    assert (y1 - y2).abs().max() > 1e-3  # the skips carry the input around the bottleneck


def test_without_skips_a_zeroed_bottleneck_makes_the_output_input_independent():
    torch.manual_seed(0)
    plain = UNet(3, num_classes=4, base_channels=4, skips=False).eval()
    handle = _zero_bottleneck(plain)
    x1, x2 = torch.rand(2, 1, 3, 48, 48)
    with torch.no_grad():
        y1, y2 = plain(x1), plain(x2)
    handle.remove()
    assert torch.equal(y1, y2)
    # and without the hook the plain network does depend on its input (the test is not vacuous)
    with torch.no_grad():
        assert (plain(x1) - plain(x2)).abs().max() > 1e-3


def test_skips_are_concatenated_not_added():
    model = UNet(3, num_classes=2, base_channels=8, depth=4)
    plain = UNet(3, num_classes=2, base_channels=8, depth=4, skips=False)
    for up, up_plain in zip(model.ups, plain.ups):
        first, first_plain = up.conv[0], up_plain.conv[0]
        # concatenation doubles the input channels of each decoder block
        assert first.in_channels == 2 * first_plain.in_channels


def test_paper_width_parameter_count():
    # 64 -> 128 -> 256 -> 512 -> 1024 with transposed-convolution upsampling, BatchNorm and no
    # conv bias before BN: 31,036,546 parameters for 1 input channel and 2 classes (the usual ~31 M of the paper's U-Net).
    model = UNet(1, num_classes=2)
    assert count_parameters(model) == 31_036_546


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    for upsampling in ("transpose", "bilinear"):
        model = UNet(3, num_classes=3, base_channels=4, upsampling=upsampling)
        loss = F.cross_entropy(model(torch.rand(2, 3, 36, 36)), torch.randint(0, 3, (2, 36, 36)))
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not missing, f"parameters without gradient: {missing}"


def test_loss_falls_when_overfitting_one_batch():
    torch.manual_seed(0)
    model = UNet(3, num_classes=3, base_channels=8, depth=2)
    x = torch.rand(4, 3, 24, 24)
    y = (x[:, 0] > 0.5).long() + (x[:, 1] > 0.7).long()  # a per-pixel rule the network can learn
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::10]


def test_wrong_channel_count_raises_a_clear_error():
    model = UNet(3, num_classes=2, base_channels=4)
    with pytest.raises(ValueError, match=r"expected input \(B, 3, H, W\), got \(1, 1, 64, 64\)"):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"got \(3, 64, 64\)"):
        model(torch.rand(3, 64, 64))  # a single image without the batch dimension


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="upsampling"):
        UNet(3, 2, upsampling="nearest")
    with pytest.raises(ValueError, match="depth"):
        UNet(3, 2, depth=0)
