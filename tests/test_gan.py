"""Tests of the GAN parts of course_lib: models (models.gan), losses (losses.gan_*), step helpers (train)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.losses import gan_d_loss, gan_g_loss, gan_g_loss_saturating
from course_lib.models.gan import (ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, DCGANDiscriminator,
                                  DCGANGenerator, MLPDiscriminator, MLPGenerator)
from course_lib.train import discriminator_step, generator_step

LATENT = 16


CONFIGS = {  # name -> (builder of a fresh (G, D) pair with small widths, image shape)
    "mlp-28x28x1": (lambda: (MLPGenerator(LATENT, (1, 28, 28), hidden=(32, 64)), MLPDiscriminator((1, 28, 28), hidden=(32,))), (1, 28, 28)),
    "mlp-32x32x3": (lambda: (MLPGenerator(LATENT, (3, 32, 32), hidden=(32, 64)), MLPDiscriminator((3, 32, 32), hidden=(32,))), (3, 32, 32)),
    "dcgan-28x28x1": (lambda: (DCGANGenerator(LATENT, 28, 1, width=8), DCGANDiscriminator(28, 1, width=8)), (1, 28, 28)),
    "dcgan-28x28x3": (lambda: (DCGANGenerator(LATENT, 28, 3, width=8), DCGANDiscriminator(28, 3, width=8)), (3, 28, 28)),
    "dcgan-32x32x1": (lambda: (DCGANGenerator(LATENT, 32, 1, width=8), DCGANDiscriminator(32, 1, width=8)), (1, 32, 32)),
    "dcgan-32x32x3": (lambda: (DCGANGenerator(LATENT, 32, 3, width=8), DCGANDiscriminator(32, 3, width=8)), (3, 32, 32)),
}


def _build(name):
    torch.manual_seed(0)
    build, shape = CONFIGS[name]
    G, D = build()
    return G, D, shape


# =============================================================================================
# Models
# =============================================================================================
@pytest.mark.parametrize("name", CONFIGS)
def test_generator_shape_and_range(name):
    G, D, shape = _build(name)
    images = G(torch.randn(5, LATENT))
    assert images.shape == (5, *shape)
    assert torch.isfinite(images).all() and images.min() >= -1 and images.max() <= 1
    last = [m for m in G.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        last.weight.mul_(1e3)  # huge pre-activations: the Tanh output saturates but stays in [-1, 1]
    images = G(torch.randn(5, LATENT))
    assert images.min() >= -1 and images.max() <= 1 and images.abs().max() > 0.99


@pytest.mark.parametrize("name", CONFIGS)
def test_discriminator_returns_one_logit_per_image(name):
    G, D, shape = _build(name)
    logits = D(torch.rand(7, *shape) * 2 - 1)
    assert logits.shape == (7,)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", CONFIGS)
def test_every_batchnorm_has_default_eps_and_momentum(name):
    G, D, shape = _build(name)
    norms = [m for m in (*G.modules(), *D.modules()) if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms, "expected BatchNorm layers"
    for m in norms:
        assert m.eps == 1e-5, f"{m} has eps {m.eps} (BatchNorm(n, 0.8) sets eps, not momentum)"
        assert m.momentum == 0.1


@pytest.mark.parametrize("name", CONFIGS)
def test_every_parameter_receives_a_gradient(name):
    G, D, shape = _build(name)
    D(G(torch.randn(4, LATENT))).sum().backward()
    for module in (G, D):
        for pname, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{pname} got no gradient"


def test_dcgan_accepts_4d_noise_and_rejects_wrong_shapes():
    G, D = DCGANGenerator(LATENT, 28, 1, width=8), DCGANDiscriminator(28, 1, width=8)
    z = torch.randn(3, LATENT)
    G.eval()
    assert torch.equal(G(z), G(z[:, :, None, None]))
    with pytest.raises(ValueError, match=rf"\(B, {LATENT}\)"):
        G(torch.randn(3, LATENT + 1))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        D(torch.zeros(3, 1, 32, 32))
    with pytest.raises(ValueError, match="multiple of 4"):
        DCGANGenerator(LATENT, image_size=30)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        MLPDiscriminator()(torch.zeros(25, 1, 32, 32))  # would be silently re-batched by view(-1, 784)


def test_dcgan_default_sizes_and_init():
    G, D = DCGANGenerator(), DCGANDiscriminator()
    assert G(torch.randn(2, 100)).shape == (2, 1, 28, 28)
    conv_weights = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert conv_weights.std().item() == pytest.approx(0.02, rel=0.1)  # DCGAN init N(0, 0.02)
    assert D(torch.zeros(2, 1, 28, 28)).shape == (2,)


# =============================================================================================
# Losses vs the formulas
# =============================================================================================
def test_d_loss_equals_the_formula():
    torch.manual_seed(0)
    real_logits, fake_logits = torch.randn(32) * 3, torch.randn(20) * 3  # batch sizes may differ
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    formula = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()  # L_D = -E log D(x) - E log(1 - D(G(z)))
    assert gan_d_loss(real_logits, fake_logits).item() == pytest.approx(formula.item(), rel=1e-5)
    smoothed = -(0.9 * torch.log(d_real) + 0.1 * torch.log(1 - d_real)).mean() - torch.log(1 - d_fake).mean()
    assert gan_d_loss(real_logits, fake_logits, real_label=0.9).item() == pytest.approx(smoothed.item(), rel=1e-5)


def test_d_loss_is_zero_for_a_perfect_discriminator_and_large_for_a_fooled_one():
    perfect = gan_d_loss(torch.full((8,), 30.0), torch.full((8,), -30.0)).item()
    undecided = gan_d_loss(torch.zeros(8), torch.zeros(8)).item()
    fooled = gan_d_loss(torch.full((8,), -30.0), torch.full((8,), 30.0)).item()
    assert perfect == pytest.approx(0.0, abs=1e-10)
    assert undecided == pytest.approx(2 * math.log(2))
    assert fooled == pytest.approx(60.0, rel=1e-6)  # finite: computed on logits, no log(0)
    # The reversed-sign, log-free formula E[D(x)] + E[1 - D(G(z))] ranks them the wrong way round.
    wrong = lambda r, f: (torch.sigmoid(r).mean() + (1 - torch.sigmoid(f)).mean()).item()  # noqa: E731
    assert wrong(torch.full((8,), 30.0), torch.full((8,), -30.0)) == pytest.approx(2.0)  # perfect D: highest
    assert wrong(torch.full((8,), -30.0), torch.full((8,), 30.0)) == pytest.approx(0.0, abs=1e-10)


def test_g_losses_equal_the_formulas():
    torch.manual_seed(1)
    fake_logits = torch.randn(16) * 2
    d_fake = torch.sigmoid(fake_logits)
    assert gan_g_loss(fake_logits).item() == pytest.approx(-torch.log(d_fake).mean().item(), rel=1e-5)
    assert gan_g_loss_saturating(fake_logits).item() == pytest.approx(torch.log(1 - d_fake).mean().item(), rel=1e-5)


def test_saturating_loss_has_a_vanishing_gradient_where_d_rejects_the_fakes():
    logit = torch.tensor([math.log(0.001 / 0.999)], requires_grad=True)  # D(G(z)) = 0.001
    (grad_saturating,) = torch.autograd.grad(gan_g_loss_saturating(logit), logit)
    (grad_non_saturating,) = torch.autograd.grad(gan_g_loss(logit), logit)
    assert grad_saturating.item() == pytest.approx(-0.001, rel=1e-4)  # d/dl log(1 - sigmoid(l)) = -D
    assert grad_non_saturating.item() == pytest.approx(-0.999, rel=1e-4)  # d/dl -log sigmoid(l) = -(1 - D)


def test_losses_reject_non_float_input():
    with pytest.raises(ValueError, match="float"):
        gan_g_loss(torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        gan_d_loss(torch.zeros(0), torch.zeros(3))


# =============================================================================================
# Step helpers
# =============================================================================================
def _setup(batch=16, seed=0):
    torch.manual_seed(seed)
    G, D = DCGANGenerator(LATENT, 28, 1, width=8), DCGANDiscriminator(28, 1, width=8)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, 1, 28, 28) * 2 - 1
    z = torch.randn(batch, LATENT)
    return G, D, opt_G, opt_D, real, z


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_discriminator_step_gradient_equals_dLD_dthetaD_with_detached_fake():
    G, D, opt_G, opt_D, real, z = _setup()
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    fake = G_ref(z).detach()
    loss_ref = gan_d_loss(D_ref(real), D_ref(fake))
    expected = torch.autograd.grad(loss_ref, list(D_ref.parameters()))
    G_before = _params(G)

    out = discriminator_step(D, G, real, z, opt_D)

    assert out["d_loss"] == pytest.approx(loss_ref.item(), rel=1e-6)
    assert 0 < out["d_real"] < 1 and 0 < out["d_fake"] < 1
    for (name, p), g in zip(D.named_parameters(), expected):
        torch.testing.assert_close(p.grad, g, msg=f"D.{name}")
    for p, before in zip(G.parameters(), G_before):
        assert p.grad is None  # nothing reached G
        assert torch.equal(p, before)  # G's parameters unchanged by the D step
    assert any(not torch.equal(p, q) for p, q in zip(D.parameters(), D_ref.parameters()))  # D did step


def test_discriminator_step_zeroes_old_gradients():
    G, D, opt_G, opt_D, real, z = _setup()
    for p in D.parameters():
        p.grad = torch.full_like(p, 1e3)  # stale gradient from somewhere else
    D_ref, G_ref = copy.deepcopy(D), copy.deepcopy(G)
    expected = torch.autograd.grad(gan_d_loss(D_ref(real), D_ref(G_ref(z).detach())), list(D_ref.parameters()))
    discriminator_step(D, G, real, z, opt_D)
    for p, g in zip(D.parameters(), expected):
        torch.testing.assert_close(p.grad, g)


def test_generator_step_leaves_D_untouched_and_gives_G_dLG_dthetaG():
    G, D, opt_G, opt_D, real, z = _setup()
    discriminator_step(D, G, real, z, opt_D)  # D now holds gradients from its own step
    D_grads = [p.grad.clone() for p in D.parameters()]
    D_params = _params(D)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    loss_ref = gan_g_loss(D_ref(G_ref(z)))
    expected = torch.autograd.grad(loss_ref, list(G_ref.parameters()))

    out = generator_step(D, G, z, opt_G)

    assert out["g_loss"] == pytest.approx(loss_ref.item(), rel=1e-6)
    for p, grad, value in zip(D.parameters(), D_grads, D_params):
        assert torch.equal(p.grad, grad)  # no G-loss gradient accumulated in D
        assert torch.equal(p, value)  # D not updated
        assert p.requires_grad  # restored
    for (name, p), g in zip(G.named_parameters(), expected):
        torch.testing.assert_close(p.grad, g, msg=f"G.{name}")


def test_generator_step_on_fresh_D_leaves_grad_none_and_restores_flags_on_error():
    G, D, opt_G, opt_D, real, z = _setup()
    frozen = next(D.parameters())
    frozen.requires_grad_(False)  # a parameter the user froze on purpose stays frozen
    generator_step(D, G, z, opt_G)
    assert all(p.grad is None for p in D.parameters())
    assert [p.requires_grad for p in D.parameters()] == [False] + [True] * (len(list(D.parameters())) - 1)

    def broken_loss(logits):
        raise RuntimeError("boom")

    frozen.requires_grad_(True)
    with pytest.raises(RuntimeError, match="boom"):
        generator_step(D, G, z, opt_G, loss_fn=broken_loss)
    assert all(p.requires_grad for p in D.parameters())


def test_uneven_last_batch_works_and_z_must_match_the_real_batch():
    G, D, opt_G, opt_D, real, z = _setup(batch=37)
    d = discriminator_step(D, G, real, z, opt_D)
    g = generator_step(D, G, z, opt_G)
    assert math.isfinite(d["d_loss"]) and math.isfinite(g["g_loss"])
    with pytest.raises(ValueError, match="37"):
        discriminator_step(D, G, real, torch.randn(64, LATENT), opt_D)


def test_optimizers_must_belong_to_their_network():
    G, D, opt_G, opt_D, real, z = _setup()
    both = torch.optim.Adam([*G.parameters(), *D.parameters()])
    with pytest.raises(ValueError, match="not D's"):
        discriminator_step(D, G, real, z, both)
    with pytest.raises(ValueError, match="not G's"):
        generator_step(D, G, z, opt_D)


def test_helpers_learn_a_one_batch_problem():
    G, D, opt_G, opt_D, real, z = _setup(batch=32)
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    first = discriminator_step(D, G, real, z, opt_D)["d_loss"]
    for _ in range(15):
        last = discriminator_step(D, G, real, z, opt_D)["d_loss"]
    assert last < 0.5 * first  # D learns to separate a fixed real batch from G's fakes
    g_first = generator_step(D, G, z, torch.optim.Adam(G.parameters(), lr=0.0))["g_loss"]
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for _ in range(15):
        g_last = generator_step(D, G, z, opt_G)["g_loss"]
    assert g_last < g_first  # and G learns to fool that (frozen) D


def test_the_classic_mistake_fails_loudly():
    """Both losses through one un-detached fake, then a second backward: PyTorch refuses."""
    G, D, opt_G, opt_D, real, z = _setup()
    fake = G(z)
    d_loss = gan_d_loss(D(real), D(fake))  # no detach
    g_loss = gan_g_loss(D(fake))
    d_loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        g_loss.backward()



# =============================================================================================
# Class-conditional DCGAN
# =============================================================================================
def _conditional_pair():
    torch.manual_seed(0)
    return ConditionalDCGANGenerator(LATENT, 10, 28, 1, width=8), ConditionalDCGANDiscriminator(10, 28, 1, width=8)


def test_conditional_dcgan_shapes_and_the_label_changes_both_outputs():
    G, D = _conditional_pair()
    G.eval()
    z = torch.randn(1, LATENT).expand(10, -1)  # the same noise for every class
    digits = torch.arange(10)
    images = G(z, digits)
    assert images.shape == (10, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert all(not torch.allclose(images[0], images[k]) for k in range(1, 10))  # the label reaches G
    logits = D(images.detach(), digits)
    assert logits.shape == (10,)
    same_image = images[:1].detach().expand(10, -1, -1, -1)
    assert D(same_image, digits).unique().numel() == 10  # ... and D: one image, ten labels, ten logits


def test_conditional_dcgan_equals_concatenating_the_one_hot_label_by_hand():
    G, D = _conditional_pair()
    G.eval()
    z, y = torch.randn(4, LATENT), torch.tensor([3, 0, 9, 3])
    one_hot = torch.zeros(4, 10)
    one_hot[torch.arange(4), y] = 1
    torch.testing.assert_close(G(z, y), G.body(torch.cat([z, one_hot], 1)))
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    planes = one_hot[:, :, None, None] * torch.ones(4, 10, 28, 28)
    torch.testing.assert_close(D(x, y), D.body(torch.cat([x, planes], 1)))


def test_conditional_dcgan_rejects_bad_labels_with_the_expected_shape():
    G, D = _conditional_pair()
    z = torch.randn(3, LATENT)
    with pytest.raises(ValueError, match=r"expected labels of shape \(3,\).*got \(2,\)"):
        G(z, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 9\].*max 10"):
        G(z, torch.tensor([1, 2, 10]))
    with pytest.raises(TypeError, match="integer"):
        D(torch.zeros(3, 1, 28, 28), torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        D(torch.zeros(3, 11, 28, 28), torch.tensor([0, 1, 2]))


def test_step_helpers_with_labels_give_the_conditional_gradients():
    G, D = _conditional_pair()
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
    real, z, y = torch.rand(6, 1, 28, 28) * 2 - 1, torch.randn(6, LATENT), torch.tensor([0, 1, 2, 7, 8, 9])
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    expected_D = torch.autograd.grad(gan_d_loss(D_ref(real, y), D_ref(G_ref(z, y).detach(), y)), list(D_ref.parameters()))
    out = discriminator_step(D, G, real, z, opt_D, labels=y)
    assert math.isfinite(out["d_loss"])
    for p, g in zip(D.parameters(), expected_D):
        torch.testing.assert_close(p.grad, g)
    assert all(p.grad is None for p in G.parameters())

    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    expected_G = torch.autograd.grad(gan_g_loss(D_ref(G_ref(z, y), y)), list(G_ref.parameters()))
    D_before = _params(D)
    generator_step(D, G, z, opt_G, labels=y)
    for p, g in zip(G.parameters(), expected_G):
        torch.testing.assert_close(p.grad, g)
    assert all(torch.equal(p, q) for p, q in zip(D.parameters(), D_before))


def test_conditional_discriminator_learns_to_reject_real_images_with_the_wrong_label():
    """The point of conditioning D: a real image presented with a wrong label counts as fake."""
    torch.manual_seed(0)
    D = ConditionalDCGANDiscriminator(2, 28, 1, width=8)
    opt = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    images = torch.full((32, 1, 28, 28), -1.0)
    images[16:, :, 7:21, 7:21] = 1.0  # class 1: a bright square; class 0: blank
    labels = torch.tensor([0] * 16 + [1] * 16)
    for _ in range(60):
        opt.zero_grad()
        gan_d_loss(D(images, labels), D(images, 1 - labels)).backward()  # "fakes": the same images, swapped labels
        opt.step()
    with torch.no_grad():  # still in train mode: each call normalised with its own batch, as in training
        right, wrong = torch.sigmoid(D(images, labels)), torch.sigmoid(D(images, 1 - labels))
    assert right.min() > 0.9 and wrong.max() < 0.1
