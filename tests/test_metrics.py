"""course_lib.metrics: image-quality metrics against hand-computed values and scikit-image.

Tolerances are the agreement measured on this machine with a small margin (comments).
"""

import math

import numpy as np
import pytest
import torch
from skimage import metrics as skm

from course_lib import classic
from course_lib.data import load_image
from course_lib.metrics import psnr, ssim


@pytest.fixture(scope="module")
def astronaut():
    return load_image("astronaut")[:, 0:128, 150:278].contiguous()  # (3, 128, 128)


@pytest.fixture(scope="module")
def distorted(astronaut):
    """Three distortions of the astronaut crop, as a (3, 3, 128, 128) batch."""
    g = torch.Generator().manual_seed(0)
    noisy = classic.add_gaussian_noise(astronaut, 0.1, generator=g)
    return torch.stack([noisy, classic.gaussian_blur(noisy, 1.0), classic.add_salt_and_pepper(astronaut, 0.2, generator=g)])


def skimage_ssim(x, y, data_range=1.0):
    """Wang et al.'s settings in scikit-image, for a (C, H, W) pair."""
    return skm.structural_similarity(
        x.permute(1, 2, 0).double().numpy(), y.permute(1, 2, 0).double().numpy(),  # (H, W, C)
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=data_range, channel_axis=-1,
    )


# --- PSNR --------------------------------------------------------------------------------------
def test_psnr_hand_computed_values():
    x = torch.full((3, 8, 8), 0.5)
    assert psnr(x, x).item() == math.inf
    assert torch.isclose(psnr(x, x + 0.1), torch.tensor(20.0), atol=1e-4)  # MSE 0.01 -> 10 log10(1 / 0.01)
    y = torch.full((1, 4, 4), 100.0)
    expected = 10 * math.log10(255**2 / 25)  # error 5 on a 0..255 scale
    assert math.isclose(psnr(y, y + 5, data_range=255).item(), expected, rel_tol=1e-6)


def test_psnr_matches_skimage(astronaut, distorted):
    ours = psnr(distorted, astronaut.expand_as(distorted))
    assert ours.shape == (3,)
    for i in range(3):
        ref = skm.peak_signal_noise_ratio(astronaut.double().numpy(), distorted[i].double().numpy(), data_range=1.0)
        assert abs(ours[i].item() - ref) < 1e-4  # measured 1.2e-6 dB (float32 MSE)


def test_psnr_batch_matches_single_images(astronaut, distorted):
    batch = psnr(distorted, astronaut.expand_as(distorted))
    single = torch.stack([psnr(d, astronaut) for d in distorted])
    assert psnr(distorted[0], astronaut).ndim == 0
    assert torch.allclose(batch, single)
    both = psnr(torch.stack([astronaut, distorted[0]]), torch.stack([astronaut, astronaut]))
    assert both[0].item() == math.inf and math.isfinite(both[1].item())  # one inf does not spread


# --- SSIM --------------------------------------------------------------------------------------
def test_ssim_of_an_image_with_itself_is_one(astronaut):
    assert abs(ssim(astronaut, astronaut).item() - 1.0) < 1e-6


def test_ssim_constant_images_hand_computed():
    # No variance anywhere, so SSIM = (2ab + C1) / (a² + b² + C1) with C1 = (0.01 * 1)².
    a, b, c1 = 0.2, 0.6, 0.01**2
    x, y = torch.full((1, 16, 16), a), torch.full((1, 16, 16), b)
    assert math.isclose(ssim(x, y).item(), (2 * a * b + c1) / (a * a + b * b + c1), rel_tol=1e-5)


def test_ssim_matches_skimage(astronaut, distorted):
    ours = ssim(distorted, astronaut.expand_as(distorted))
    assert ours.shape == (3,)
    for i in range(3):
        ref = skimage_ssim(distorted[i], astronaut)
        assert abs(ours[i].item() - ref) < 1e-6  # measured <= 8.4e-9
    grey, grey_noisy = astronaut[1:2, :, :100], distorted[0, 1:2, :, :100]  # one channel, not square
    assert abs(ssim(grey_noisy, grey).item() - skimage_ssim(grey_noisy, grey)) < 1e-6
    assert abs(ssim(grey_noisy * 255, grey * 255, data_range=255).item() - skimage_ssim(grey_noisy * 255, grey * 255, 255)) < 1e-6


def test_ssim_properties(astronaut, distorted):
    assert torch.allclose(ssim(distorted, astronaut.expand_as(distorted)),
                          ssim(astronaut.expand_as(distorted), distorted), atol=1e-7)  # symmetric
    g = torch.Generator().manual_seed(1)
    scores = [ssim(classic.add_gaussian_noise(astronaut, s, generator=g), astronaut).item() for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in zip(scores, scores[1:]))  # more noise, lower SSIM
    assert ssim(distorted[0], astronaut).dtype == torch.float32


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", [psnr, ssim])
def test_bad_input_is_rejected(metric):
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"\(2, 3, 16, 16\) and \(2, 3, 16, 15\)"):
        metric(x, x[..., :15])
    with pytest.raises(ValueError, match=r"expected \(C, H, W\) or \(B, C, H, W\), got \(16, 16\)"):
        metric(x[0, 0], x[1, 0])
    with pytest.raises(TypeError, match="floating-point"):
        metric((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="data_range must be positive"):
        metric(x, x, data_range=0)


def test_ssim_rejects_images_smaller_than_the_window():
    x = torch.rand(1, 8, 32)
    with pytest.raises(ValueError, match="win_size=11"):
        ssim(x, x)
