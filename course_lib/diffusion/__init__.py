"""Denoising diffusion (notebook 15): noise schedule and forward process, samplers, a time-conditioned U-Net.

- :mod:`.schedule`: :class:`NoiseSchedule` (betas, alphas, alpha_bars as buffers), ``q_sample``,
  the posterior of the forward process, and the epsilon-prediction loss;
- :mod:`.samplers`: ``ddpm_step`` (Ho et al. 2020, eq. 11), ``ddim_step`` (Song et al. 2021,
  eq. 12), classifier-free guidance and the ``sample`` loop (no gradient graph);
- :mod:`.unet`: :class:`DiffusionUNet`, the noise predictor.
"""

from .samplers import ddim_step, ddim_timesteps, ddpm_step, guided_eps, sample
from .schedule import NoiseSchedule, epsilon_loss, extract
from .unet import DiffusionUNet, ResBlock, UNetConfig, sinusoidal_embedding

__all__ = [
    "NoiseSchedule", "epsilon_loss", "extract",
    "ddim_step", "ddim_timesteps", "ddpm_step", "guided_eps", "sample",
    "DiffusionUNet", "ResBlock", "UNetConfig", "sinusoidal_embedding",
]
