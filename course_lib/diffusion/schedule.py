"""The forward (noising) process of a diffusion model and its noise schedule.

Notation (Ho, Jain and Abbeel 2020, "Denoising Diffusion Probabilistic Models"), code index
``t = 0 .. T-1`` standing for the paper's ``t = 1 .. T``:

=====================  ==========================  ==============================================
code                   paper                       meaning
=====================  ==========================  ==============================================
``betas[t]``           beta_t                      variance of the noise added at step t
``alphas[t]``          alpha_t = 1 - beta_t
``alpha_bars[t]``      alpha-bar_t = prod alpha_s  signal kept after t steps: x_t = sqrt(ab) x0 + sqrt(1-ab) eps
``alpha_bars_prev[t]`` alpha-bar_{t-1}             1 at t = 0 (no noise yet)
``posterior_variance`` beta-tilde_t                variance of q(x_{t-1} | x_t, x_0), eq. 7; 0 at t = 0
=====================  ==========================  ==============================================

All of them are **buffers**: they are saved in the ``state_dict`` and follow ``.to(device)`` and
``.to(dtype)`` together with the network, so a schedule on the CPU never meets a batch on the GPU.

Two schedules:

- ``kind="linear"`` (Ho et al.): beta_t rises linearly from ``beta_start`` to ``beta_end``.
- ``kind="cosine"`` (Nichol and Dhariwal 2021, eq. 17): alpha-bar_t = f(t) / f(0) with
  ``f(t) = cos^2(((t/T) + s) / (1 + s) * pi / 2)``, s = 0.008; beta_t clipped at 0.999. It destroys
  the image more gradually, so fewer steps are wasted on almost pure noise.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["NoiseSchedule", "epsilon_loss", "extract"]


def extract(values: torch.Tensor, t: torch.Tensor | int, ndim: int) -> torch.Tensor:
    """``values[t]`` shaped to broadcast against a ``ndim``-dimensional batch.

    Args:
        values: ``(T,)`` a schedule buffer.
        t: an int (same step for the whole batch) or a ``(B,)`` long tensor of steps.
        ndim: number of dimensions of the batch, e.g. 4 for ``(B, C, H, W)``.

    Returns:
        ``(1, 1, ..., 1)`` for an int ``t``, else ``(B, 1, ..., 1)``.
    """
    if isinstance(t, int):
        return values[t].reshape((1,) * ndim)
    t = t.to(device=values.device, dtype=torch.long)
    if t.ndim == 0:
        return values[t].reshape((1,) * ndim)
    return values[t].reshape(t.shape[0], *(1,) * (ndim - 1))  # (B,) -> (B, 1, ..., 1)


class NoiseSchedule(nn.Module):
    """Noise schedule with closed-form forward process and posterior (no learnable parameters).

    Args:
        num_steps: T, the number of diffusion steps.
        beta_start, beta_end: first and last beta of the linear schedule (ignored by "cosine").
        kind: ``"linear"`` or ``"cosine"``.
    """

    def __init__(self, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 kind: str = "linear"):
        super().__init__()
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        if kind == "linear":
            if not 0 < beta_start <= beta_end < 1:
                raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
            betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
        elif kind == "cosine":
            s = 0.008
            steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps  # t/T for t = 0 .. T
            f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
            alpha_bar = f / f[0]  # (T + 1,), alpha_bar(0) = 1
            betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
        else:
            raise ValueError(f"kind must be 'linear' or 'cosine', got {kind!r}")
        self.num_steps, self.kind = num_steps, kind
        self.beta_start, self.beta_end = beta_start, beta_end
        # computed in float64, stored in float32
        alphas = 1 - betas
        alpha_bars = torch.cumprod(alphas, dim=0)
        alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
        posterior_variance = betas * (1 - alpha_bars_prev) / (1 - alpha_bars)  # beta-tilde, eq. 7
        for name, value in (("betas", betas), ("alphas", alphas), ("alpha_bars", alpha_bars),
                            ("alpha_bars_prev", alpha_bars_prev), ("posterior_variance", posterior_variance)):
            self.register_buffer(name, value.float())

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, kind={self.kind!r}"

    def __len__(self) -> int:
        return self.num_steps

    def _check_t(self, t) -> None:
        values = torch.as_tensor(t)
        if values.numel() and (values.min() < 0 or values.max() >= self.num_steps):
            raise ValueError(f"timesteps must lie in [0, {self.num_steps - 1}], got "
                             f"[{int(values.min())}, {int(values.max())}]")

    def sample_timesteps(self, batch_size: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform random steps ``(B,)`` in ``[0, T-1]`` for training."""
        return torch.randint(0, self.num_steps, (batch_size,), generator=generator,
                             device=device if device is not None else self.betas.device)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Draw ``x_t ~ q(x_t | x_0)`` in one step (Ho et al., eq. 4):
        ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``.

        Args:
            x0: ``(B, C, H, W)`` clean images, scaled to [-1, 1].
            t: ``(B,)`` long tensor of steps in ``[0, T-1]`` (or one int for all).
            noise: ``eps``, same shape as ``x0``; fresh standard normal noise when ``None``.
        """
        self._check_t(t)
        if noise is None:
            noise = torch.randn_like(x0)
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        alpha_bar = extract(self.alpha_bars, t, x0.ndim)
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """Invert eq. 4 for x_0 given a noise estimate: ``(x_t - sqrt(1 - ab) eps) / sqrt(ab)``."""
        alpha_bar = extract(self.alpha_bars, t, x_t.ndim)
        return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()

    def posterior_mean(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """Mean of ``q(x_{t-1} | x_t, x_0)`` (Ho et al., eq. 7):
        ``sqrt(ab_{t-1}) beta_t / (1 - ab_t) x_0 + sqrt(alpha_t) (1 - ab_{t-1}) / (1 - ab_t) x_t``."""
        self._check_t(t)
        ab, ab_prev = extract(self.alpha_bars, t, x_t.ndim), extract(self.alpha_bars_prev, t, x_t.ndim)
        beta, alpha = extract(self.betas, t, x_t.ndim), extract(self.alphas, t, x_t.ndim)
        return ab_prev.sqrt() * beta / (1 - ab) * x0 + alpha.sqrt() * (1 - ab_prev) / (1 - ab) * x_t

    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio ``alpha_bar / (1 - alpha_bar)`` per step, ``(T,)``."""
        return self.alpha_bars / (1 - self.alpha_bars)

    # The reverse steps live in samplers.py; these methods give them the signatures of the course's contract.
    def ddpm_step(self, x_t: torch.Tensor, t, eps: torch.Tensor, noise: torch.Tensor | None = None,
                  clip_x0: bool = False) -> torch.Tensor:
        """One ancestral step x_t -> x_{t-1} (Ho et al., eq. 11); see :func:`samplers.ddpm_step`."""
        from .samplers import ddpm_step
        return ddpm_step(self, x_t, t, eps, noise, clip_x0=clip_x0)

    def ddim_step(self, x_t: torch.Tensor, t, t_prev, eps: torch.Tensor, eta: float = 0.0,
                  noise: torch.Tensor | None = None, clip_x0: bool = False) -> torch.Tensor:
        """One DDIM step x_t -> x_{t_prev} (Song et al., eq. 12); see :func:`samplers.ddim_step`."""
        from .samplers import ddim_step
        return ddim_step(self, x_t, t, t_prev, eps, eta=eta, noise=noise, clip_x0=clip_x0)


def epsilon_loss(model: nn.Module, schedule: NoiseSchedule, x0: torch.Tensor, labels: torch.Tensor | None = None,
                 p_uncond: float = 0.0, null_class: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """The simple DDPM loss (Ho et al., eq. 14): ``E ||eps - eps_theta(x_t, t[, y])||^2``.

    Args:
        model: ``model(x_t, t, labels)`` predicting the noise, ``(B, C, H, W)``.
        x0: ``(B, C, H, W)`` clean images in [-1, 1].
        labels: ``(B,)`` class labels for a conditional model, else ``None``.
        p_uncond: probability of replacing a label by ``null_class`` (classifier-free guidance
            trains one network for both the conditional and the unconditional noise estimate).
        null_class: the label meaning "no class"; defaults to ``model.null_class``.

    Returns:
        the mean squared error, a scalar tensor.
    """
    t = schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)  # (B,)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = schedule.q_sample(x0, t, noise)
    if labels is not None and p_uncond > 0:
        null_class = model.null_class if null_class is None else null_class
        drop = torch.rand(labels.shape, generator=generator, device=labels.device) < p_uncond  # (B,)
        labels = torch.where(drop, torch.full_like(labels, null_class), labels)
    return torch.nn.functional.mse_loss(model(x_t, t, labels), noise)
