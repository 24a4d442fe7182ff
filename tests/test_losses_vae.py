"""Tests of the VAE section of course_lib.losses: closed-form KL, the loss formula, and the bound.

ERRATA 000 (VAE: no loss given) and 003 (VAE formulas: the expectation over z is missing,
lambda must be 1 for a bound, "only reconstruction error").
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import VAELoss, kl_divergence_normal, vae_loss
from course_lib.models.vae import reparameterize


# --- closed-form KL ------------------------------------------------------------------------------
def test_kl_is_zero_for_the_prior_itself():
    kl = kl_divergence_normal(torch.zeros(3, 5), torch.zeros(3, 5))
    assert kl.shape == (3,)
    assert torch.equal(kl, torch.zeros(3))


def test_kl_on_hand_values():
    # 1-D: KL(N(m, s²) || N(0, 1)) = (m² + s² - 1 - log s²) / 2
    mu = torch.tensor([[1.0], [0.0], [2.0]])
    logvar = torch.tensor([[0.0], [math.log(4.0)], [math.log(0.25)]])
    expected = torch.tensor([0.5, (4 - 1 - math.log(4)) / 2, (4 + 0.25 - 1 - math.log(0.25)) / 2])
    assert torch.allclose(kl_divergence_normal(mu, logvar), expected)
    # dimensions add up
    assert torch.allclose(kl_divergence_normal(mu.T, logvar.T), expected.sum().reshape(1))


def test_kl_is_non_negative():
    g = torch.Generator().manual_seed(0)
    kl = kl_divergence_normal(3 * torch.randn(100, 4, generator=g), 3 * torch.randn(100, 4, generator=g))
    assert (kl >= 0).all()


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
    logvar = torch.tensor([[0.0, -1.0, 0.7], [-2.0, 0.5, 0.0]])
    n = 100_000
    z = reparameterize(mu.expand(n, 2, 3), logvar.expand(n, 2, 3), generator=g)  # (n, 2, 3)
    q = torch.distributions.Normal(mu, logvar.mul(0.5).exp())
    p = torch.distributions.Normal(0.0, 1.0)
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)  # log q(z|x) - log p(z), (n, 2)
    estimate, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    closed = kl_divergence_normal(mu, logvar)
    assert ((estimate - closed).abs() < 4 * se).all(), (estimate, closed, se)


# --- the loss formula ----------------------------------------------------------------------------
def test_vae_loss_on_hand_values():
    x = torch.rand(2, 1, 4, 4)
    logits = torch.zeros(2, 1, 4, 4)  # p = 1/2 everywhere: BCE = log 2 per pixel, whatever x is
    mu = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    logvar = torch.zeros(2, 3)
    out = vae_loss(logits, x, mu, logvar, beta=2.0, reduction="none")
    assert isinstance(out, VAELoss)
    assert torch.allclose(out.reconstruction, torch.full((2,), 16 * math.log(2)))  # summed, not averaged
    assert torch.allclose(out.kl, torch.tensor([0.5, 0.0]))
    assert torch.allclose(out.loss, out.reconstruction + 2.0 * out.kl)
    mean = vae_loss(logits, x, mu, logvar, beta=2.0)
    assert mean.loss.ndim == 0
    assert torch.allclose(mean.loss, out.loss.mean()) and torch.allclose(mean.kl, out.kl.mean())


def test_logits_and_probabilities_give_the_same_loss():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 5, 5, generator=g)
    x = torch.rand(3, 1, 5, 5, generator=g)
    mu, logvar = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g)
    a = vae_loss(logits, x, mu, logvar)
    b = vae_loss(torch.sigmoid(logits), x, mu, logvar, logits=False)
    for u, v in zip(a, b):
        assert torch.allclose(u, v, atol=1e-5)
    assert torch.allclose(a.reconstruction, F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 3)


def test_vae_loss_errors():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="same shape"):
        vae_loss(torch.zeros(2, 1, 4, 5), x, torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae_loss(torch.zeros(2, 1, 4, 4), 2 * x - 1.5, torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="batch size"):
        vae_loss(torch.zeros(2, 1, 4, 4), x, torch.zeros(3, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="reduction"):
        vae_loss(torch.zeros(2, 1, 4, 4), x, torch.zeros(2, 3), torch.zeros(2, 3), reduction="sum")


# --- with beta = 1 the loss bounds -log p(x) -----------------------------------------------------
# A model small enough to integrate exactly: z ~ N(0, 1) (one dimension) and three binary pixels
# x_i ~ Bernoulli(sigmoid(w_i z + b_i)). p(x) and the posterior p(z|x) come from a fine grid.
W = torch.tensor([2.0, -1.5, 0.7], dtype=torch.float64)
B = torch.tensor([0.3, 0.1, -0.5], dtype=torch.float64)
X = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)


def _decoder_logits(z: torch.Tensor) -> torch.Tensor:
    """``(K,)`` latent values -> ``(K, 1, 1, 3)`` Bernoulli logits."""
    return (z[:, None] * W + B).reshape(-1, 1, 1, 3)  # (K, 3) -> (K, 1, 1, 3)


def _exact_on_grid():
    """``-log p(x)`` and the log posterior density on a grid, by the trapezoidal rule."""
    z = torch.linspace(-12, 12, 48_001, dtype=torch.float64)
    log_lik = -F.binary_cross_entropy_with_logits(_decoder_logits(z), X.reshape(1, 1, 1, 3).expand(len(z), 1, 1, 3),
                                                  reduction="none").flatten(1).sum(1)  # log p(x|z), (K,)
    log_joint = log_lik + torch.distributions.Normal(0.0, 1.0).log_prob(z)  # log p(x, z)
    log_px = torch.log(torch.trapezoid(log_joint.exp(), z))
    return z, -log_px, log_joint - log_px  # grid, -log p(x), log p(z|x)


def _neg_elbo_by_quadrature(mu, logvar, beta: float = 1.0) -> torch.Tensor:
    """E_{z~q}[vae_loss] for q = N(mu, exp(logvar)), the expectation by 60-point Gauss-Hermite quadrature.

    ``mu`` and ``logvar`` are floats or 0-d tensors; the result is differentiable in them, because
    the quadrature nodes are reparameterised: z_k = mu + sqrt(2) sigma t_k.
    """
    mu, logvar = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(logvar, dtype=torch.float64)
    nodes, weights = np.polynomial.hermite.hermgauss(60)
    nodes, weights = torch.from_numpy(nodes), torch.from_numpy(weights) / math.sqrt(math.pi)
    z = mu + math.sqrt(2) * torch.exp(0.5 * logvar) * nodes  # (60,)
    k = len(z)
    parts = vae_loss(_decoder_logits(z), X.reshape(1, 1, 1, 3).expand(k, 1, 1, 3),
                     mu.reshape(1, 1).expand(k, 1), logvar.reshape(1, 1).expand(k, 1), beta=beta, reduction="none")
    return (weights * parts.loss).sum()  # sum_k w_k loss(z_k) = E_q[loss]


@pytest.mark.parametrize("mu, logvar", [(0.0, 0.0), (0.8, -1.0), (-1.0, 0.5), (0.3, -3.0)])
def test_neg_elbo_equals_neg_log_px_plus_kl_to_the_posterior(mu, logvar):
    z, neg_log_px, log_post = _exact_on_grid()
    q = torch.distributions.Normal(torch.tensor(mu, dtype=torch.float64), math.exp(0.5 * logvar))
    log_q = q.log_prob(z)
    kl_to_posterior = torch.trapezoid(log_q.exp() * (log_q - log_post), z)
    neg_elbo = _neg_elbo_by_quadrature(mu, logvar)
    # -ELBO = -log p(x) + KL(q(z|x) || p(z|x))  >=  -log p(x)
    assert torch.allclose(neg_elbo, neg_log_px + kl_to_posterior, atol=1e-6)
    assert neg_elbo >= neg_log_px


def test_the_best_gaussian_q_nearly_closes_the_gap_and_beta_below_one_is_not_a_bound():
    _, neg_log_px, _ = _exact_on_grid()
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([params], lr=0.1)
    for _ in range(150):
        loss = _neg_elbo_by_quadrature(params[0], params[1])
        opt.zero_grad()
        loss.backward()
        opt.step()
    mu, logvar = params.detach()
    gap = float(_neg_elbo_by_quadrature(mu, logvar) - neg_log_px)
    assert 0 <= gap < 0.02, gap  # about 0.004 nats: the posterior is nearly Gaussian here
    # beta = 0.3 down-weights the KL: the "loss" drops below -log p(x), so it bounds nothing
    assert _neg_elbo_by_quadrature(mu, logvar, beta=0.3) < neg_log_px


def test_a_single_reparameterised_sample_is_an_unbiased_estimate_of_the_neg_elbo():
    mu, logvar, n = 0.8, -1.0, 200_000
    g = torch.Generator().manual_seed(0)
    mu_t = torch.full((n, 1), mu, dtype=torch.float64)
    logvar_t = torch.full((n, 1), logvar, dtype=torch.float64)
    z = reparameterize(mu_t, logvar_t, generator=g)[:, 0]  # (n,)
    losses = vae_loss(_decoder_logits(z), X.reshape(1, 1, 1, 3).expand(n, 1, 1, 3), mu_t, logvar_t,
                      reduction="none").loss
    se = losses.std() / math.sqrt(n)
    assert abs(losses.mean() - _neg_elbo_by_quadrature(mu, logvar)) < 4 * se
