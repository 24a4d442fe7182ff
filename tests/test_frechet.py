"""Tests of course_lib.metrics.generative: Fréchet distance, feature statistics, judge report."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.metrics import JudgeReport, evaluate_with_judge, feature_statistics, frechet_distance


def _random_covariance(d: int, seed: int, rank: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, rank or d, generator=g, dtype=torch.float64)
    return a @ a.T / (rank or d)


def test_identical_gaussians_give_zero():
    mu = torch.randn(16, dtype=torch.float64)
    sigma = _random_covariance(16, seed=0)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_singular_identical_covariances_give_zero():
    # rank-3 covariance in 10-D (e.g. ReLU features that are often 0): the square root must not blow up
    sigma = _random_covariance(10, seed=1, rank=3)
    mu = torch.zeros(10, dtype=torch.float64)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-7)


def test_mean_shift_only_gives_squared_distance():
    sigma = _random_covariance(8, seed=2)
    mu1 = torch.zeros(8, dtype=torch.float64)
    mu2 = torch.arange(8, dtype=torch.float64)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(float((mu2 ** 2).sum()), rel=1e-9)


def test_commuting_diagonal_covariances():
    s1 = torch.tensor([1.0, 4.0, 9.0, 0.25], dtype=torch.float64)
    s2 = torch.tensor([4.0, 1.0, 9.0, 1.0], dtype=torch.float64)
    mu1 = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    mu2 = torch.tensor([0.0, 0.0, 2.0, 0.0], dtype=torch.float64)
    expected = float((mu1 - mu2).square().sum() + (s1.sqrt() - s2.sqrt()).square().sum())  # 5 + 1 + 1 + 0 + 0.25
    assert expected == pytest.approx(7.25)
    assert frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2)) == pytest.approx(expected, rel=1e-12)


def test_one_dimensional_closed_form_and_symmetry():
    # d^2 = (m1 - m2)^2 + (s1 - s2)^2 for N(m1, s1^2), N(m2, s2^2)
    value = frechet_distance([1.0], [[4.0]], [-2.0], [[0.25]])
    assert value == pytest.approx(9 + (2 - 0.5) ** 2)
    sigma_a, sigma_b = _random_covariance(6, 3), _random_covariance(6, 4)
    mu_a, mu_b = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    assert frechet_distance(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(frechet_distance(mu_b, sigma_b, mu_a, sigma_a), rel=1e-9)


def test_matches_scipy_sqrtm_on_non_commuting_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    sigma1, sigma2 = _random_covariance(12, 5), _random_covariance(12, 6)
    mu1, mu2 = torch.randn(12, dtype=torch.float64), torch.randn(12, dtype=torch.float64)
    covmean = linalg.sqrtm(sigma1.numpy() @ sigma2.numpy()).real  # the usual FID formula
    reference = float(((mu1 - mu2) ** 2).sum()) + np.trace(sigma1.numpy() + sigma2.numpy() - 2 * covmean)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(reference, rel=1e-8)


def test_accepts_numpy_and_float32_and_is_non_negative():
    sigma = _random_covariance(5, 7).float().numpy()
    mu = np.zeros(5, dtype=np.float32)
    value = frechet_distance(mu, sigma, mu, sigma)
    assert isinstance(value, float) and value >= 0.0 and value < 1e-5


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        frechet_distance(torch.zeros(3), torch.eye(4), torch.zeros(3), torch.eye(3))
    with pytest.raises(ValueError, match="means"):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(4), torch.eye(4))


def test_feature_statistics_match_numpy():
    x = torch.randn(50, 7)
    mu, sigma = feature_statistics(x)
    assert mu.dtype == torch.float64 and sigma.shape == (7, 7)
    np.testing.assert_allclose(mu.numpy(), x.double().mean(0).numpy(), atol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x.double().numpy(), rowvar=False), atol=1e-12)
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(torch.zeros(1, 7))


def test_sample_estimate_approaches_closed_form():
    # two Gaussians sampled with many points: the estimate is near the exact distance
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * 2 + 1  # N(1, 4 I)
    exact = 3 * 1.0 + 3 * (2 - 1) ** 2  # |mu|^2 + sum (sqrt 4 - sqrt 1)^2 = 6
    estimate = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert estimate == pytest.approx(exact, rel=0.05)


class _FakeJudge(nn.Module):
    """'Classifies' by which of 10 horizontal bands holds the brightest pixel; features = band sums."""

    def features(self, x):
        return x[:, 0].sum(dim=2).view(len(x), 10, -1).sum(dim=2)  # (N, 1, 30, W) -> (N, 30) -> (N, 10)

    def forward(self, x):
        return 20.0 * self.features(x)  # (N, 10) logits: very confident for a lit band


def test_evaluate_with_judge_counts_confident_samples_and_classes():
    judge = _FakeJudge()
    images = torch.zeros(12, 1, 30, 4)
    for i in range(10):  # samples 0..9 light band i: one confident sample per class
        images[i, 0, 3 * i:3 * i + 3] = 1.0
    images[10, 0] = 0.0  # all black: uniform probabilities, not confident
    images[11, 0, 0:3] = 1.0  # a second '0'
    report = evaluate_with_judge(images, judge, reference=images)
    assert isinstance(report, JudgeReport)
    assert report.num_samples == 12
    assert report.judged_share == pytest.approx(11 / 12)
    assert report.confident_class_counts == [2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert report.class_counts[0] == 3  # the black image's argmax is class 0 (ties -> first)
    assert report.classes_present == 10
    assert report.frechet_distance == pytest.approx(0.0, abs=1e-9)  # compared with itself
    assert report.confidences[10] == pytest.approx(0.1)
    assert "91.7%" in str(report)


def test_evaluate_with_judge_with_precomputed_reference_and_missing_class():
    judge = _FakeJudge()
    images = torch.zeros(20, 1, 30, 4)
    images[:, 0, 0:3] = 1.0  # everything is a '0': mode collapse
    report = evaluate_with_judge(images, judge, reference=(torch.zeros(10), torch.eye(10)), threshold=0.5)
    assert report.classes_present == 1 and report.judged_share == 1.0
    assert report.frechet_distance == pytest.approx(12.0 ** 2 + 10 - 0.0, rel=1e-6)  # |mu|^2 + tr(I) + tr(0) - 0
    assert math.isfinite(report.mean_confidence)


def test_evaluate_with_judge_rejects_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        evaluate_with_judge(torch.zeros(2, 1, 30, 4), _FakeJudge(), threshold=0.0)
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_with_judge(torch.zeros(0, 1, 30, 4), _FakeJudge())
