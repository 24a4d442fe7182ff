"""Tests of course_lib.models.vae: reparameterisation, shapes, sampling, gradients, one-batch overfit.

ERRATA 000 (VAE): the source's model and reparameterisation are right but it has no loss;
the loss lives in course_lib.losses.vae_loss (tests/test_losses_vae.py).
"""

from __future__ import annotations

import pytest
import torch

from course_lib.data import load_mnist
from course_lib.losses import vae_loss
from course_lib.models.vae import VAE, reparameterize


def test_reparameterised_z_has_mean_mu_and_variance_exp_logvar():
    n = 200_000
    mu = torch.tensor([[-1.0, 0.0, 2.5]]).expand(n, 3)
    logvar = torch.tensor([[0.0, -2.0, 1.0]]).expand(n, 3)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))  # (n, 3)
    var = logvar[0].exp()
    se_mean = (var / n).sqrt()  # standard error of the sample mean
    se_var = var * (2 / (n - 1)) ** 0.5  # standard error of the sample variance (Gaussian)
    assert ((z.mean(0) - mu[0]).abs() < 4 * se_mean).all()
    assert ((z.var(0) - var).abs() < 4 * se_var).all()


def test_gradients_flow_through_the_reparameterisation_but_not_through_sample():
    mu = torch.zeros(5, 2, requires_grad=True)
    logvar = torch.zeros(5, 2, requires_grad=True)
    eps_generator = torch.Generator().manual_seed(1)
    z = reparameterize(mu, logvar, generator=eps_generator)
    z.sum().backward()
    eps = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(mu.grad, torch.ones(5, 2))  # dz/dmu = 1
    assert torch.allclose(logvar.grad, 0.5 * eps)  # dz/dlogvar = sigma * eps / 2 with sigma = 1
    # drawing z directly from the distribution gives a tensor outside the graph
    drawn = torch.distributions.Normal(mu, logvar.mul(0.5).exp()).sample()
    assert not drawn.requires_grad and drawn.grad_fn is None


def test_reparameterize_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_vae_shapes(channels, size):
    torch.manual_seed(0)
    model = VAE(channels, size, latent_dim=6)
    x = torch.rand(4, channels, size, size)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape
    assert mu.shape == logvar.shape == (4, 6)
    assert torch.equal(model.encode(x)[0], mu)
    assert model.decode(mu).shape == x.shape


def test_forward_samples_z_so_two_calls_differ():
    torch.manual_seed(0)
    model = VAE(latent_dim=4).eval()
    x = torch.rand(2, 1, 28, 28)
    assert not torch.equal(model(x)[0], model(x)[0])  # z ~ q(z|x), even in eval mode


def test_sample_returns_probabilities_without_grad():
    torch.manual_seed(0)
    model = VAE(latent_dim=4).eval()
    samples = model.sample(7)
    assert samples.shape == (7, 1, 28, 28)
    assert samples.min() >= 0 and samples.max() <= 1
    assert not samples.requires_grad and samples.grad_fn is None
    a = model.sample(3, generator=torch.Generator().manual_seed(5))
    b = model.sample(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)


def test_vae_rejects_the_wrong_input_size():
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\).*got \(2, 1, 32, 32\)"):
        VAE()(torch.rand(2, 1, 32, 32))


def test_every_parameter_gets_a_gradient_and_one_batch_overfits():
    torch.manual_seed(0)
    model = VAE(latent_dim=8, channels=(16, 32))
    x = torch.stack([load_mnist(train=False)[i][0] for i in range(0, 1000, 63)])  # 16 digits (16, 1, 28, 28)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        logits, mu, logvar = model(x)
        loss = vae_loss(logits, x, mu, logvar).loss  # -ELBO, nats per image
        opt.zero_grad()
        loss.backward()
        if not losses:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
