"""Super-resolution (notebook 12): degradation, scales, networks that use their LR input, Y-channel metrics.

ERRATA rows tested here: the SRGAN generator's ``int(math.log(3, 2))`` silently built x2 for x3
(now x3 is one PixelShuffle(3) stage, other non-powers of two raise); its in-place ReLU aliased the
skip; the "super-resolution" generator never received the LR image and had no upsampling layer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.color import rgb2ycbcr

from course_lib.metrics import psnr, psnr_y, rgb_to_y, ssim_y
from course_lib.models.superres import (SRCNN, SRResNet, SRResidualBlock, bicubic_upsample, downsample,
                                        upsampling_stages)


@pytest.mark.parametrize("scale, stages", [(2, [2]), (4, [2, 2]), (8, [2, 2, 2]), (3, [3])])
def test_upsampling_stages(scale, stages):
    assert upsampling_stages(scale) == stages
    assert math.prod(stages) == scale


@pytest.mark.parametrize("scale", [5, 6, 1, 0, 2.0, True])
def test_scales_that_cannot_be_built_raise(scale):
    with pytest.raises(ValueError, match="scale"):
        SRResNet(scale=scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("residual", [False, True])
def test_srresnet_output_shape_is_scale_times_input(scale, residual):
    torch.manual_seed(0)
    model = SRResNet(scale=scale, features=8, num_blocks=2, residual=residual).eval()
    lr = torch.rand(2, 3, 6, 5)
    assert model(lr).shape == (2, 3, 6 * scale, 5 * scale)


def test_x3_is_not_silently_x2():
    model = SRResNet(scale=3, features=8, num_blocks=1)
    shuffles = [m.upscale_factor for m in model.modules() if isinstance(m, torch.nn.PixelShuffle)]
    assert shuffles == [3]
    assert model(torch.rand(1, 3, 4, 4)).shape[-2:] == (12, 12)


def test_pixel_shuffle_stage_has_r_squared_times_the_channels():
    model = SRResNet(scale=4, features=8, num_blocks=1)
    convs = [m for m in model.upsample if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(8, 32), (8, 32)]


@pytest.mark.parametrize("make", [lambda: SRResNet(2, features=8, num_blocks=2), lambda: SRCNN(2, n1=8, n2=4, residual=False)])
def test_output_depends_on_the_low_resolution_input(make):
    torch.manual_seed(0)
    model = make().eval()
    a, b = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    assert not torch.allclose(model(a), model(b))


@pytest.mark.parametrize("model", [SRResNet(2, features=8, num_blocks=2, residual=True), SRCNN(2, n1=8, n2=4)])
def test_residual_models_start_as_bicubic(model):
    lr = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(model.eval()(lr), bicubic_upsample(lr, 2))


def test_residual_block_keeps_its_input_intact():
    torch.manual_seed(0)
    block = SRResidualBlock(4).eval()
    x = torch.randn(1, 4, 5, 5)
    x_before = x.clone()
    y = block(x)
    torch.testing.assert_close(x, x_before)  # no in-place op touched the skip
    torch.testing.assert_close(y - block.body(x), x)


def test_training_on_lr_hr_pairs_lowers_the_loss():
    torch.manual_seed(0)
    hr = torch.rand(4, 3, 16, 16)
    lr = downsample(hr, 2)
    model = SRResNet(2, features=16, num_blocks=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(60):
        loss = F.mse_loss(model(lr), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_downsample_shape_range_and_size_check():
    hr = torch.rand(2, 3, 12, 8)
    lr = downsample(hr, 4)
    assert lr.shape == (2, 3, 3, 2) and lr.min() >= 0 and lr.max() <= 1
    with pytest.raises(ValueError, match="multiples of scale=4"):
        downsample(torch.rand(1, 3, 10, 8), 4)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        downsample(torch.rand(3, 8, 8), 2)


def test_antialiasing_keeps_the_mean_of_fine_detail():
    # thin vertical lines, one pixel in four: their average brightness is 0.25. Sampling every
    # 4th position without a low-pass filter lands between the lines and sees black (aliasing);
    # with antialiasing each LR pixel averages its 4x4 footprint.
    lines = torch.zeros(1, 3, 32, 32)
    lines[..., 0::4] = 1.0
    aa = downsample(lines, 4)[..., 1:-1]  # interior columns (the image border is padded)
    naive = F.interpolate(lines, size=(8, 8), mode="bicubic", align_corners=False, antialias=False).clamp(0, 1)
    assert torch.allclose(aa, torch.full_like(aa, 0.25), atol=0.01)
    assert naive.max() < 0.05


def test_downsample_matches_pillow_bicubic():
    from PIL import Image

    rng = np.random.default_rng(0)
    hr = rng.random((32, 32)).astype(np.float32)
    ours = downsample(torch.from_numpy(hr)[None, None], 2)[0, 0].numpy()
    pil = np.asarray(Image.fromarray(hr, mode="F").resize((16, 16), Image.BICUBIC))
    assert np.abs(ours - np.clip(pil, 0, 1)).max() < 0.02


def test_rgb_to_y_matches_scikit_image():
    rng = np.random.default_rng(1)
    img = rng.random((3, 9, 7)).astype(np.float32)
    ref = rgb2ycbcr(img.transpose(1, 2, 0))[..., 0] / 255
    ours = rgb_to_y(torch.from_numpy(img))
    assert ours.shape == (1, 9, 7)
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=1e-6)
    assert torch.allclose(rgb_to_y(torch.ones(2, 3, 1, 1)), torch.tensor(235 / 255))
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_y(torch.rand(1, 8, 8))


def test_psnr_y_crops_the_border():
    torch.manual_seed(0)
    hr = torch.rand(1, 3, 20, 20)
    est = hr.clone()
    est[..., :2, :] = 0  # errors only in the 2-pixel top border
    assert psnr_y(est, hr, border=2).isinf()
    assert psnr_y(est, hr, border=0).isfinite()
    torch.testing.assert_close(psnr_y(est, hr, border=1), psnr(rgb_to_y(est)[..., 1:-1, 1:-1], rgb_to_y(hr)[..., 1:-1, 1:-1]))
    assert ssim_y(hr, hr, border=2).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="border"):
        psnr_y(hr, hr, border=10)
