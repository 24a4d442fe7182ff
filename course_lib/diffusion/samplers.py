"""Reverse process: DDPM and DDIM steps, classifier-free guidance, and the sampling loop.

The sampler is kept apart from the network: a network only maps ``(x_t, t, labels)`` to a noise
estimate ``eps_theta``; the steps below turn that estimate into ``x_{t-1}`` (or ``x_{t_prev}``).
Code steps ``t = 0 .. T-1`` stand for the paper's ``1 .. T`` (see :mod:`.schedule`).

DDPM (Ho et al. 2020, eq. 11), ancestral sampling, one step per t::

    x_{t-1} = 1/sqrt(alpha_t) * (x_t - beta_t / sqrt(1 - ab_t) * eps_theta) + sigma_t z,
    sigma_t^2 = beta-tilde_t = beta_t (1 - ab_{t-1}) / (1 - ab_t),  z ~ N(0, I), and z = 0 at t = 0.

DDIM (Song, Meng and Ermon 2021, eq. 12) on any decreasing subsequence of steps t -> t_prev::

    x0_hat     = (x_t - sqrt(1 - ab_t) eps_theta) / sqrt(ab_t)                  "predicted x_0"
    sigma      = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev)      (eq. 16)
    x_{t_prev} = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps_theta + sigma z

with ``ab_prev = 1`` after the last step (``t_prev = -1``). ``eta = 0`` is deterministic;
``eta = 1`` with ``t_prev = t - 1`` has exactly DDPM's variance beta-tilde_t.

Classifier-free guidance (Ho and Salimans 2022): one network trained with labels that are
sometimes replaced by a null class gives a conditional and an unconditional estimate;
``eps = eps_uncond + s * (eps_cond - eps_uncond)``. ``s = 1`` is plain conditional sampling,
``s > 1`` trades diversity for samples that look more like their class.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from .schedule import NoiseSchedule, extract

__all__ = ["ddim_step", "ddim_timesteps", "ddpm_step", "guided_eps", "sample"]


def _steps(t, batch: int, device) -> torch.Tensor:
    """``t`` (int, 0-d or ``(B,)`` tensor) as a ``(B,)`` long tensor."""
    t = torch.as_tensor(t, device=device, dtype=torch.long)
    return t.expand(batch) if t.ndim == 0 else t


def ddpm_step(schedule: NoiseSchedule, x_t: torch.Tensor, t, eps: torch.Tensor, noise: torch.Tensor | None = None,
              clip_x0: bool = False) -> torch.Tensor:
    """One ancestral DDPM step ``x_t -> x_{t-1}`` (Ho et al., eq. 11).

    Args:
        x_t: ``(B, C, H, W)`` current sample.
        t: current step, int or ``(B,)`` long tensor in ``[0, T-1]``.
        eps: ``(B, C, H, W)`` the network's noise estimate ``eps_theta(x_t, t)``.
        noise: ``z``, standard normal like ``x_t``; drawn when ``None``. Never added where t = 0.
        clip_x0: clip the implied ``x0_hat`` to [-1, 1] and use the posterior mean (eq. 7) of the
            clipped value; without clipping this is the same mean as eq. 11.

    Returns:
        ``x_{t-1}``, same shape as ``x_t``.
    """
    schedule._check_t(t)
    t = _steps(t, x_t.shape[0], x_t.device)  # (B,)
    if clip_x0:
        x0_hat = schedule.predict_x0(x_t, t, eps).clamp(-1, 1)
        mean = schedule.posterior_mean(x0_hat, x_t, t)
    else:
        alpha, beta = extract(schedule.alphas, t, x_t.ndim), extract(schedule.betas, t, x_t.ndim)
        alpha_bar = extract(schedule.alpha_bars, t, x_t.ndim)
        mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()  # eq. 11
    if noise is None:
        noise = torch.randn_like(x_t)
    sigma = extract(schedule.posterior_variance, t, x_t.ndim).sqrt()  # beta-tilde_t ** 0.5, 0 at t = 0
    not_last = (t > 0).to(x_t.dtype).reshape(-1, *(1,) * (x_t.ndim - 1))  # (B, 1, 1, 1): no noise at t = 0
    return mean + not_last * sigma * noise


def ddim_step(schedule: NoiseSchedule, x_t: torch.Tensor, t, t_prev, eps: torch.Tensor, eta: float = 0.0,
              noise: torch.Tensor | None = None, clip_x0: bool = False) -> torch.Tensor:
    """One DDIM step ``x_t -> x_{t_prev}`` (Song et al., eq. 12), ``t_prev < t``; ``t_prev = -1`` ends.

    Args:
        x_t: ``(B, C, H, W)`` current sample; ``eps``: the network's noise estimate at ``(x_t, t)``.
        t, t_prev: ints or ``(B,)`` long tensors.
        eta: 0 for the deterministic DDIM sampler, 1 for DDPM-like stochasticity.
        noise: ``z`` for ``eta > 0``; drawn when ``None``.
        clip_x0: clip ``x0_hat`` to [-1, 1] (and recompute the implied ``eps``).
    """
    schedule._check_t(t)
    t = _steps(t, x_t.shape[0], x_t.device)  # (B,)
    t_prev = _steps(t_prev, x_t.shape[0], x_t.device)  # (B,)
    if (t_prev >= t).any() or (t_prev < -1).any():
        raise ValueError("ddim_step needs -1 <= t_prev < t")
    ab = extract(schedule.alpha_bars, t, x_t.ndim)
    ab_prev = torch.where(t_prev >= 0, schedule.alpha_bars[t_prev.clamp(min=0)],
                          torch.ones_like(schedule.alpha_bars[0]))  # (B,), 1 after the last step
    ab_prev = ab_prev.reshape(-1, *(1,) * (x_t.ndim - 1))
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()  # the "predicted x_0"
    if clip_x0:
        x0_hat = x0_hat.clamp(-1, 1)
        eps = (x_t - ab.sqrt() * x0_hat) / (1 - ab).sqrt()
    sigma = eta * ((1 - ab_prev) / (1 - ab)).sqrt() * (1 - ab / ab_prev).sqrt()  # eq. 16
    direction = (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps  # "direction pointing to x_t"
    x_prev = ab_prev.sqrt() * x0_hat + direction
    if eta > 0:
        if noise is None:
            noise = torch.randn_like(x_t)
        x_prev = x_prev + sigma * noise
    return x_prev


def ddim_timesteps(num_steps: int, num_sampling_steps: int) -> list[int]:
    """Evenly spaced steps, decreasing, from ``T-1`` down to 0: the DDIM sub-sequence tau."""
    if not 1 <= num_sampling_steps <= num_steps:
        raise ValueError(f"num_sampling_steps must be in [1, {num_steps}], got {num_sampling_steps}")
    steps = torch.linspace(0, num_steps - 1, num_sampling_steps).round().long().unique()
    return steps.flip(0).tolist()


def guided_eps(model: nn.Module, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None,
               guidance_scale: float = 1.0, null_class: int | None = None) -> torch.Tensor:
    """Noise estimate with classifier-free guidance: ``eps_u + s (eps_c - eps_u)``.

    Without labels, or with ``s = 1``, this is one plain call ``model(x_t, t, labels)``. Otherwise
    the conditional and unconditional estimates come from one batched call of size ``2B``.
    """
    if labels is None or guidance_scale == 1.0:
        return model(x_t, t, labels)
    null_class = getattr(model, "null_class", None) if null_class is None else null_class
    if null_class is None:
        raise ValueError("guidance needs a null class: pass null_class or give the model a .null_class")
    null = torch.full_like(labels, null_class)
    eps_cond, eps_uncond = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, null])).chunk(2)
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


@torch.no_grad()
def sample(model: nn.Module, schedule: NoiseSchedule, shape: tuple[int, ...], *, sampler: str = "ddpm",
           num_sampling_steps: int | None = None, eta: float = 0.0, labels: torch.Tensor | None = None,
           guidance_scale: float = 1.0, clip_x0: bool = True, num_frames: int = 0,
           generator: torch.Generator | None = None, progress: bool = True):
    """Generate images by running the reverse process from pure noise, without a gradient graph.

    Args:
        model: ``model(x_t, t, labels) -> eps``; it is put in eval mode and restored afterwards.
        schedule: the :class:`NoiseSchedule` the model was trained with (same device as the model).
        shape: ``(B, C, H, W)`` of the batch to generate.
        sampler: ``"ddpm"`` (all T steps) or ``"ddim"`` (``num_sampling_steps`` steps, default 50).
        eta: DDIM's stochasticity (0 = deterministic).
        labels: ``(B,)`` class labels for a conditional model; ``guidance_scale`` as in :func:`guided_eps`.
        clip_x0: clip the predicted x_0 to [-1, 1] at every step (the usual choice for images).
        num_frames: keep this many intermediate samples, evenly spaced along the chain.
        generator: a CPU ``torch.Generator`` for reproducible noise.

    Returns:
        ``x_0`` of ``shape`` in about [-1, 1] (``requires_grad`` False). With ``num_frames > 0``,
        ``(x_0, frames, frame_steps)``: frames ``(F, B, C, H, W)`` on the CPU and the step each was
        taken after (the first frame is the initial noise, step T).
    """
    device = schedule.betas.device
    T = schedule.num_steps
    if sampler == "ddpm":
        pairs = [(t, t - 1) for t in range(T - 1, -1, -1)]
    elif sampler == "ddim":
        ts = ddim_timesteps(T, num_sampling_steps or 50)
        pairs = list(zip(ts, ts[1:] + [-1]))
    else:
        raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    if labels is not None:
        labels = labels.to(device)
        if labels.shape != (shape[0],):
            raise ValueError(f"labels must have shape ({shape[0]},), got {tuple(labels.shape)}")

    def randn():
        return torch.randn(shape, generator=generator).to(device)

    was_training = model.training
    model.eval()
    x = randn()
    keep = set()
    if num_frames > 0:
        keep = {int(round(i)) for i in torch.linspace(0, len(pairs), num_frames).tolist()}
    frames, frame_steps = ([x.cpu()], [T]) if 0 in keep else ([], [])
    try:
        for i, (t, t_prev) in enumerate(tqdm(pairs, desc=f"{sampler} sampling", disable=not progress), start=1):
            t_batch = torch.full((shape[0],), t, device=device, dtype=torch.long)
            eps = guided_eps(model, x, t_batch, labels, guidance_scale)
            if sampler == "ddpm":
                x = ddpm_step(schedule, x, t, eps, noise=randn(), clip_x0=clip_x0)
            else:
                x = ddim_step(schedule, x, t, t_prev, eps, eta=eta, noise=randn() if eta > 0 else None,
                              clip_x0=clip_x0)
            if i in keep:
                frames.append(x.cpu())
                frame_steps.append(t_prev + 1)
    finally:
        model.train(was_training)
    if num_frames > 0:
        return x, torch.stack(frames), frame_steps
    return x
