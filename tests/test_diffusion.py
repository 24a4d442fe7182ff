"""Diffusion: schedule buffers, forward process, posterior, DDPM/DDIM steps, sampling, U-Net."""

import pytest
import torch

from course_lib.diffusion import (DiffusionUNet, NoiseSchedule, UNetConfig, ddim_step, ddim_timesteps, ddpm_step,
                                  epsilon_loss, guided_eps, sample, sinusoidal_embedding)


def tiny_unet(num_classes=None, seed=0):
    torch.manual_seed(seed)
    model = DiffusionUNet(UNetConfig(base_channels=8, channel_mults=(1, 2), time_dim=32, num_classes=num_classes,
                                     groups=4))
    # conv_out starts at zero (eps = 0); randomise it so that outputs carry information
    torch.nn.init.normal_(model.conv_out.weight, std=0.1)
    return model


# --------------------------------------------------------------------------- schedule
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_values(kind):
    s = NoiseSchedule(1000, kind=kind)
    assert s.betas.shape == s.alphas.shape == s.alpha_bars.shape == (1000,)
    torch.testing.assert_close(s.alphas, 1 - s.betas)
    torch.testing.assert_close(s.alpha_bars, torch.cumprod(s.alphas.double(), 0).float())
    assert (s.betas > 0).all() and (s.betas < 1).all()
    assert (s.alpha_bars[1:] < s.alpha_bars[:-1]).all()
    assert s.alpha_bars[-1] < 1e-3  # almost pure noise at the end
    if kind == "linear":
        assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    with pytest.raises(ValueError):
        NoiseSchedule(kind="quadratic")


def test_schedule_tensors_are_buffers_that_follow_to():
    s = NoiseSchedule(50)
    keys = set(s.state_dict())
    assert {"betas", "alphas", "alpha_bars", "posterior_variance"} <= keys
    assert not list(s.parameters())
    s64 = s.to(torch.float64)
    assert s64.alpha_bars.dtype == torch.float64 and s64.betas.dtype == torch.float64
    loaded = NoiseSchedule(50, kind="cosine")
    loaded.load_state_dict(NoiseSchedule(50).state_dict())  # the state travels with a checkpoint
    torch.testing.assert_close(loaded.betas, NoiseSchedule(50).betas)


def test_q_sample_has_the_closed_form_mean_and_variance():
    s = NoiseSchedule(1000)
    torch.manual_seed(0)
    x0 = torch.full((20_000, 1), 0.7)
    for step in (0, 250, 999):
        t = torch.full((20_000,), step)
        x_t = s.q_sample(x0, t)
        ab = s.alpha_bars[step].item()
        assert x_t.mean().item() == pytest.approx(ab ** 0.5 * 0.7, abs=0.02)
        assert x_t.var().item() == pytest.approx(1 - ab, abs=0.03 * (1 - ab) + 1e-6)
    # explicit noise, per-sample steps, and bad inputs
    noise = torch.randn(3, 1, 4, 4)
    x = torch.rand(3, 1, 4, 4)
    t = torch.tensor([0, 10, 999])
    want = torch.stack([s.alpha_bars[i].sqrt() * x[j] + (1 - s.alpha_bars[i]).sqrt() * noise[j]
                        for j, i in enumerate(t.tolist())])
    torch.testing.assert_close(s.q_sample(x, t, noise), want)
    with pytest.raises(ValueError, match="timesteps"):
        s.q_sample(x, torch.tensor([0, 1, 1000]))
    with pytest.raises(ValueError, match="noise"):
        s.q_sample(x, t, noise[:, :, :2])


def test_posterior_mean_and_variance_match_their_closed_forms():
    """q(x_{t-1} | x_t, x_0) is the Gaussian of Ho et al. eq. 6-7; check it from Bayes' rule in 1-D."""
    s = NoiseSchedule(100).to(torch.float64)
    x0, x_t = torch.tensor([0.3]), torch.tensor([-0.4])
    betas = torch.linspace(1e-4, 0.02, 100, dtype=torch.float64)  # float64 reference of the linear schedule
    alpha_bars = torch.cumprod(1 - betas, 0)
    for t in (1, 40, 99):
        beta, ab_prev = betas[t].item(), alpha_bars[t - 1].item()
        # prior q(x_{t-1}|x_0) = N(sqrt(ab_prev) x0, 1 - ab_prev); likelihood q(x_t|x_{t-1}) = N(sqrt(1-beta) x_{t-1}, beta)
        precision = 1 / (1 - ab_prev) + (1 - beta) / beta
        mean = (ab_prev ** 0.5 * 0.3 / (1 - ab_prev) + (1 - beta) ** 0.5 * -0.4 / beta) / precision
        assert s.posterior_variance[t].item() == pytest.approx(1 / precision, rel=1e-4)
        assert s.posterior_mean(x0.double(), x_t.double(), t).item() == pytest.approx(mean, rel=1e-4)
    assert s.posterior_variance[0].item() == 0.0


def test_ddpm_step_is_eq_11_with_beta_tilde_and_no_noise_at_t0():
    s = NoiseSchedule(1000).to(torch.float64)
    torch.manual_seed(0)
    x_t, eps, z = (torch.randn(4, 1, 3, 3, dtype=torch.float64) for _ in range(3))
    t = 500
    want = ((x_t - s.betas[t] / (1 - s.alpha_bars[t]).sqrt() * eps) / s.alphas[t].sqrt()
            + s.posterior_variance[t].sqrt() * z)
    torch.testing.assert_close(ddpm_step(s, x_t, t, eps, z), want)
    torch.testing.assert_close(s.ddpm_step(x_t, t, eps, z), want)  # the contract's method form
    # eq. 11's mean is the posterior mean at the predicted x0
    mean = s.posterior_mean(s.predict_x0(x_t, t, eps), x_t, t)
    torch.testing.assert_close(ddpm_step(s, x_t, t, eps, torch.zeros_like(z)), mean)
    # t = 0: the result does not depend on the noise; per-sample steps mask it per sample
    torch.testing.assert_close(ddpm_step(s, x_t, 0, eps, z), ddpm_step(s, x_t, 0, eps, 5 * z))
    steps = torch.tensor([0, 3, 0, 3])
    diff = ddpm_step(s, x_t, steps, eps, z) - ddpm_step(s, x_t, steps, eps, torch.zeros_like(z))
    assert diff[[0, 2]].abs().max() == 0 and diff[[1, 3]].abs().min() > 0


def test_ddim_eta0_is_deterministic_and_eta1_has_ddpm_variance():
    s = NoiseSchedule(1000).to(torch.float64)
    torch.manual_seed(0)
    x_t, eps = torch.randn(2, 1, 4, 4, dtype=torch.float64), torch.randn(2, 1, 4, 4, dtype=torch.float64)
    a = ddim_step(s, x_t, 600, 580, eps, eta=0.0, noise=torch.randn_like(x_t))
    b = s.ddim_step(x_t, 600, 580, eps, eta=0.0, noise=torch.randn_like(x_t))
    torch.testing.assert_close(a, b)
    # eta = 1, t_prev = t - 1: the spread over the noise equals DDPM's beta-tilde, the mean DDPM's mean
    t = 300
    x1 = x_t[:1].expand(20_000, 1, 4, 4)
    e1 = eps[:1].expand(20_000, 1, 4, 4)
    ddim = ddim_step(s, x1, t, t - 1, e1, eta=1.0)
    ddpm = ddpm_step(s, x1, t, e1, torch.zeros_like(x1))
    assert ddim.var(0).mean().item() == pytest.approx(s.posterior_variance[t].item(), rel=0.03)
    torch.testing.assert_close(ddim.mean(0), ddpm[0], atol=4 * s.posterior_variance[t].sqrt().item() / 100, rtol=0)
    sigma_sq = (1 - s.alpha_bars_prev[t]) / (1 - s.alpha_bars[t]) * (1 - s.alpha_bars[t] / s.alpha_bars_prev[t])
    assert sigma_sq.item() == pytest.approx(s.posterior_variance[t].item(), rel=1e-4)  # float32 buffers
    # the last step (t_prev = -1) returns the predicted x0
    torch.testing.assert_close(ddim_step(s, x_t, 5, -1, eps), s.predict_x0(x_t, 5, eps))
    with pytest.raises(ValueError):
        ddim_step(s, x_t, 5, 5, eps)


def test_ddim_timesteps():
    assert ddim_timesteps(1000, 50)[0] == 999 and ddim_timesteps(1000, 50)[-1] == 0
    assert len(ddim_timesteps(1000, 50)) == 50
    assert ddim_timesteps(10, 10) == list(range(9, -1, -1))


# --------------------------------------------------------------------------- U-Net
def test_sinusoidal_embedding_keeps_batch_rows_apart():
    t = torch.tensor([0, 1, 500])
    emb = sinusoidal_embedding(t, 16)
    assert emb.shape == (3, 16)
    torch.testing.assert_close(emb[1], sinusoidal_embedding(torch.tensor([1]), 16)[0])
    torch.testing.assert_close(emb[0], torch.cat([torch.zeros(8), torch.ones(8)]))


def test_unet_shape_depends_on_t_and_labels_and_is_per_sample():
    model = tiny_unet(num_classes=10).eval()
    x = torch.randn(3, 1, 28, 28)
    t = torch.tensor([10, 10, 10])
    out = model(x, t, torch.tensor([1, 2, 10]))
    assert out.shape == x.shape
    assert not torch.allclose(model(x, t), model(x, torch.tensor([900, 900, 900])))
    assert not torch.allclose(out, model(x, t, torch.tensor([3, 3, 3])))
    torch.testing.assert_close(model(x, t), model(x, t, torch.full((3,), 10)))  # None = the null class
    # each sample's output depends only on its own t (no mixing of the batch)
    single = model(x[1:2], t[1:2], torch.tensor([2]))
    torch.testing.assert_close(out[1:2], single, atol=1e-5, rtol=1e-5)
    assert model(torch.randn(2, 1, 32, 32), 5).shape == (2, 1, 32, 32)
    rgb = DiffusionUNet(UNetConfig(in_channels=3, base_channels=8, channel_mults=(1, 2), time_dim=32, groups=4))
    assert rgb(torch.randn(2, 3, 32, 32), torch.tensor([1, 2])).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="divisible"):
        model(torch.randn(1, 1, 27, 27), 0)


def test_unet_zeroed_bottleneck_still_depends_on_the_input():
    model = tiny_unet().eval()
    model.mid.register_forward_hook(lambda module, args, output: torch.zeros_like(output))
    t = torch.tensor([100, 100])
    a, b = model(torch.randn(2, 1, 28, 28), t), model(torch.randn(2, 1, 28, 28), t)
    assert (a - b).abs().mean() > 1e-3  # information flows through the skips


def test_loss_falls_when_overfitting_one_batch():
    model = tiny_unet(num_classes=10)
    schedule = NoiseSchedule(100)
    x0 = torch.rand(8, 1, 28, 28) * 2 - 1
    labels = torch.arange(8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    fixed = lambda: epsilon_loss(model, schedule, x0, labels, generator=torch.Generator().manual_seed(1))  # noqa: E731
    before = fixed().item()
    for _ in range(40):
        opt.zero_grad()
        loss = epsilon_loss(model, schedule, x0, labels, p_uncond=0.2, generator=g)
        loss.backward()
        opt.step()
    assert fixed().item() < 0.7 * before


# --------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sample_returns_tensors_without_a_graph_and_restores_train_mode(sampler):
    model = tiny_unet(num_classes=10).train()
    schedule = NoiseSchedule(20)
    x, frames, steps = sample(model, schedule, (2, 1, 28, 28), sampler=sampler, num_sampling_steps=5,
                              labels=torch.tensor([3, 4]), guidance_scale=2.0, num_frames=3,
                              generator=torch.Generator().manual_seed(0), progress=False)
    assert x.shape == (2, 1, 28, 28) and not x.requires_grad and x.grad_fn is None
    assert frames.shape == (3, 2, 1, 28, 28) and steps[0] == 20 and steps[-1] == 0
    torch.testing.assert_close(frames[-1], x)
    assert model.training
    again = sample(model, schedule, (2, 1, 28, 28), sampler=sampler, num_sampling_steps=5, labels=torch.tensor([3, 4]),
                   guidance_scale=2.0, generator=torch.Generator().manual_seed(0), progress=False)
    torch.testing.assert_close(again, x)  # seeded


def test_guidance_combines_conditional_and_unconditional_estimates():
    model = tiny_unet(num_classes=10).eval()
    x, t, y = torch.randn(2, 1, 28, 28), torch.tensor([50, 60]), torch.tensor([1, 7])
    cond, uncond = model(x, t, y), model(x, t, None)
    torch.testing.assert_close(guided_eps(model, x, t, y, 3.0), uncond + 3.0 * (cond - uncond), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(guided_eps(model, x, t, y, 1.0), cond)
    torch.testing.assert_close(guided_eps(model, x, t, y, 0.0), uncond, atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------- EMA and the shipped checkpoint
def test_ema_moves_towards_the_weights():
    from course_lib.diffusion.checkpoint import EMA

    model = torch.nn.Linear(2, 1)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        before = ema.model.weight.clone()
        model.weight.add_(1.0)
    ema.update(model, step=1000)  # decay min(0.9, 1001/1010) = 0.9
    torch.testing.assert_close(ema.model.weight, 0.9 * before + 0.1 * model.weight.detach())
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_shipped_checkpoint_has_the_recorded_hash_and_loads():
    from course_lib.diffusion.checkpoint import (SHIPPED_UNET_CONFIG, UNET_FILE, UNET_FILE_SHA256, file_sha256,
                                                 load_mnist_unet)

    assert UNET_FILE.is_file(), f"{UNET_FILE} is part of the package and must be present"
    assert file_sha256(UNET_FILE) == UNET_FILE_SHA256
    model = load_mnist_unet()
    assert model is not None and not model.training and model.cfg == SHIPPED_UNET_CONFIG
    assert not any(p.requires_grad for p in model.parameters())
    out = model(torch.zeros(2, 1, 28, 28), torch.tensor([10, 500]), torch.tensor([3, 10]))
    assert out.shape == (2, 1, 28, 28) and torch.isfinite(out).all()
    assert out.abs().mean() > 1e-3  # trained weights: the zero-initialised output layer has moved


def test_a_tampered_checkpoint_is_an_error_and_a_missing_one_gives_none(tmp_path, monkeypatch, capsys):
    import shutil

    from course_lib.diffusion import checkpoint
    from course_lib.integrity import ChecksumError

    copy = tmp_path / "mnist_diffusion_unet.pt"
    shutil.copy(checkpoint.UNET_FILE, copy)
    with open(copy, "ab") as f:  # one byte more
        f.write(b"\0")
    monkeypatch.setattr(checkpoint, "UNET_FILE", copy)
    with pytest.raises(ChecksumError, match=f"expected {checkpoint.UNET_FILE_SHA256}, received [0-9a-f]{{64}}; "
                                            "rebuild it with `python scripts/train_diffusion.py`"):
        checkpoint.load_mnist_unet()
    monkeypatch.setattr(checkpoint, "UNET_FILE", tmp_path / "absent.pt")
    assert checkpoint.load_mnist_unet() is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "absent.pt is missing" in out[0] and "scripts/train_diffusion.py" in out[0]


# --------------------------------------------------------------------------- training recipe
def test_recipe_learning_rate_warms_up_then_decays_to_zero():
    from course_lib.diffusion.checkpoint import DiffusionRecipe

    recipe = DiffusionRecipe(steps=1000, warmup_steps=100, lr_decay="cosine")
    assert recipe.lr_factor(0) == pytest.approx(0.01) and recipe.lr_factor(99) == pytest.approx(1.0)
    assert recipe.lr_factor(100) == pytest.approx(1.0)
    assert recipe.lr_factor(550) == pytest.approx(0.5)  # half way through the decay
    assert recipe.lr_factor(1000) == pytest.approx(0.0, abs=1e-12)
    factors = [recipe.lr_factor(s) for s in range(100, 1001)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))  # monotone after the warm-up
    constant = DiffusionRecipe(steps=1000, warmup_steps=10, lr_decay="constant")
    assert constant.lr_factor(5) == pytest.approx(0.6) and constant.lr_factor(999) == 1.0
    assert DiffusionRecipe(warmup_steps=0).lr_factor(0) == 1.0
    with pytest.raises(ValueError, match="lr_decay"):
        DiffusionRecipe(lr_decay="linear")
    with pytest.raises(ValueError):
        DiffusionRecipe(steps=0)


def test_notebook_recipe_trains_a_model_the_shipped_config_differs_from():
    from course_lib.diffusion.checkpoint import MNIST_UNET_CONFIG, NOTEBOOK_RECIPE, SHIPPED_RECIPE, SHIPPED_UNET_CONFIG

    assert NOTEBOOK_RECIPE.config == MNIST_UNET_CONFIG and SHIPPED_RECIPE.config == SHIPPED_UNET_CONFIG
    assert MNIST_UNET_CONFIG.num_classes == SHIPPED_UNET_CONFIG.num_classes == 10
    assert NOTEBOOK_RECIPE.num_diffusion_steps == SHIPPED_RECIPE.num_diffusion_steps == 1000
    assert DiffusionUNet(MNIST_UNET_CONFIG)(torch.zeros(1, 1, 28, 28), 3, torch.tensor([2])).shape == (1, 1, 28, 28)


def _tiny_recipe(**changes):
    from course_lib.diffusion.checkpoint import DiffusionRecipe

    cfg = UNetConfig(base_channels=8, channel_mults=(1, 2), time_dim=32, num_classes=10, groups=4)
    return DiffusionRecipe(**{"config": cfg, "steps": 6, "batch_size": 8, "warmup_steps": 2, "lr": 3e-3,
                              "num_diffusion_steps": 50, **changes})


def test_train_mnist_unet_is_deterministic_for_a_seed():
    from course_lib.diffusion.checkpoint import train_mnist_unet

    g = torch.Generator().manual_seed(0)
    images, labels = torch.rand(20, 1, 28, 28, generator=g), torch.arange(20) % 10
    recipe = _tiny_recipe()
    model_a, losses_a = train_mnist_unet(images, labels, recipe, seed=1, progress=False)
    model_b, losses_b = train_mnist_unet(images, labels, recipe, seed=1, progress=False)
    model_c, losses_c = train_mnist_unet(images, labels, recipe, seed=2, progress=False)
    assert len(losses_a) == recipe.steps  # a fixed number of steps, across epochs of 2 batches
    assert losses_a == losses_b and losses_a != losses_c
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert not model_a.training and not any(p.requires_grad for p in model_a.parameters())
    with pytest.raises(ValueError, match="expected images"):
        train_mnist_unet(images[:, :, :27], labels, recipe, progress=False)


def test_train_mnist_unet_loss_falls():
    from course_lib.diffusion.checkpoint import train_mnist_unet

    g = torch.Generator().manual_seed(0)
    images = (torch.rand(16, 1, 28, 28, generator=g) > 0.7).float()  # one batch, 16 fixed binary images
    _, losses = train_mnist_unet(images, torch.arange(16) % 10, _tiny_recipe(steps=60, batch_size=16, ema_decay=0.9, lr=1e-2,
                                                                                lr_decay="constant"),
                                 seed=0, progress=False)
    assert sum(losses[-10:]) < 0.75 * sum(losses[:10])  # measured: 0.58
