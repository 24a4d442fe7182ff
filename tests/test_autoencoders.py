"""Tests of course_lib.models.autoencoder.Autoencoder and course_lib.models.denoiser.DnCNN.

ERRATA 000 (Autoencoder): the source hard-codes ``128*4*4`` and works at 32x32 only.
ERRATA 004 ("deep restoration"): the source network makes its output 32x larger than its input
and is trained against its own noisy input, so it learns the identity.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.data import load_mnist
from course_lib.metrics import psnr
from course_lib.models.autoencoder import Autoencoder, conv_feature_sizes
from course_lib.models.denoiser import DnCNN


# --- Autoencoder -----------------------------------------------------------------------------------
@pytest.mark.parametrize("channels, size", [(3, 32), (3, 64), (1, 28), (3, (30, 45))])
@pytest.mark.parametrize("latent_dim", [2, 16])
def test_autoencoder_shapes_and_range(channels, size, latent_dim):
    torch.manual_seed(0)
    model = Autoencoder(channels, size, latent_dim=latent_dim).eval()
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.rand(4, channels, h, w)
    z = model.encode(x)
    recon = model(x)
    assert z.shape == (4, latent_dim)
    assert recon.shape == x.shape
    assert recon.min() >= 0 and recon.max() <= 1
    assert model.decode(z).shape == x.shape


def test_autoencoder_flatten_size_follows_the_input_size():
    assert Autoencoder(3, 32, channels=(32, 64, 128)).encoder.flat_features == 128 * 4 * 4
    assert Autoencoder(3, 64, channels=(32, 64, 128)).encoder.flat_features == 128 * 8 * 8
    assert Autoencoder(1, 28, channels=(32, 64)).encoder.flat_features == 64 * 7 * 7
    assert conv_feature_sizes(28, 3) == [(28, 28), (14, 14), (7, 7), (4, 4)]


def test_autoencoder_three_downsamplings_of_an_odd_side_come_back_to_the_input_size():
    # 28 -> 14 -> 7 -> 4 and back 4 -> 7 -> 14 -> 28 (output_padding chosen per level)
    model = Autoencoder(1, 28, latent_dim=8, channels=(8, 16, 32)).eval()
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)


def test_autoencoder_rejects_a_size_it_was_not_built_for():
    model = Autoencoder(3, 32)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\).*got \(2, 3, 64, 64\)"):
        model(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match="expected codes"):
        model.decode(torch.rand(2, model.latent_dim + 1))


def test_autoencoder_every_parameter_gets_a_gradient_and_one_batch_overfits():
    torch.manual_seed(0)
    model = Autoencoder(1, 28, latent_dim=8, channels=(8, 16))
    x = torch.stack([load_mnist(train=False)[i][0] for i in range(0, 1000, 63)])  # 16 digits (16, 1, 28, 28)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = F.binary_cross_entropy_with_logits(model.decode_logits(model.encode(x)), x)
        opt.zero_grad()
        loss.backward()
        if not losses:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


# --- DnCNN -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(16, 16), (28, 28), (17, 33), (1, 1)])
def test_denoiser_output_shape_equals_input_shape(channels, size):
    torch.manual_seed(0)
    model = DnCNN(channels, depth=5, features=8).eval()
    y = torch.rand(2, channels, *size)
    out = model(y)
    assert out.shape == y.shape  # the source's "restoration" network made it 32x larger
    assert torch.allclose(out, y - model.predict_noise(y))  # residual learning: y - R(y)


def test_denoiser_rejects_the_wrong_channel_count():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*got \(2, 1, 8, 8\)"):
        DnCNN(3)(torch.rand(2, 1, 8, 8))


def _toy_images(n: int, seed: int, size: int = 16) -> torch.Tensor:
    """Piecewise-constant images ``(n, 1, size, size)`` in [0, 1]: a background and two rectangles."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 1, 1, generator=g).expand(n, 1, size, size).clone()
    for _ in range(2):
        top, left = torch.randint(0, size - 4, (2, n), generator=g).tolist()
        height, width = torch.randint(4, size // 2 + 1, (2, n), generator=g).tolist()
        value = torch.rand(n, generator=g).tolist()
        for i in range(n):
            images[i, 0, top[i]:top[i] + height[i], left[i]:left[i] + width[i]] = value[i]
    return images


def _train_toy_denoiser(target: str, steps: int = 60, sigma: float = 0.2) -> float:
    """Train a tiny DnCNN on the toy task; return its mean held-out PSNR gain over the noisy input (dB)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(3)
    train, test = _toy_images(512, seed=1), _toy_images(128, seed=2)
    noisy_test = test + sigma * torch.randn(test.shape, generator=g)
    model = DnCNN(1, depth=4, features=16)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        clean = train[torch.randint(0, len(train), (32,), generator=g)]
        noisy = clean + sigma * torch.randn(clean.shape, generator=g)
        loss = F.mse_loss(model(noisy), clean if target == "clean" else noisy)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        denoised = model(noisy_test).clamp(0, 1)
    return float((psnr(denoised, test) - psnr(noisy_test.clamp(0, 1), test)).mean())


def test_denoiser_trained_against_clean_targets_beats_the_noisy_input():
    assert _train_toy_denoiser("clean") > 3.0  # about +5.8 dB after 60 steps


def test_denoiser_trained_against_its_noisy_input_learns_nothing_useful():
    # ERRATA 004: loss = MSE(model(noisy), noisy) is minimised by the identity
    assert abs(_train_toy_denoiser("noisy")) < 0.5  # about -0.06 dB
