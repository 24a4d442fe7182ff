"""Image-quality metrics (restoration, super-resolution, inpainting): :func:`psnr`, :func:`ssim`.

Conventions: images are float ``(C, H, W)`` or ``(B, C, H, W)`` tensors; batched inputs give
one value per image, shape ``(B,)``, and single images a 0-d tensor. Average over the batch
yourself (``psnr(x, y).mean()``) when you need one number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim"]


# =============================================================================================
# Image quality
# =============================================================================================
def _check_pair(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Check two images of one shape; return them as ``(B, C, H, W)`` and whether to squeeze."""
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point image, got dtype {t.dtype} (use img.float() / 255)")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.ndim not in (3, 4):
        raise ValueError(f"expected (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    if x.ndim == 3:
        return x.unsqueeze(0), y.unsqueeze(0), True
    return x, y, False


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range² / MSE)``, per image.

    Args:
        x, y: ``(C, H, W)`` or ``(B, C, H, W)`` float images (e.g. estimate and reference).
        data_range: the span of possible values (1.0 for [0, 1] images, 255 for [0, 255]).

    Returns a 0-d tensor, or ``(B,)`` for batches: the MSE is averaged over channels and pixels
    of each image. Identical images give ``+inf``. Same as
    ``skimage.metrics.peak_signal_noise_ratio`` applied to each image.
    """
    x, y, squeeze = _check_pair(x, y)
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range!r}")
    mse = (x - y).pow(2).flatten(1).mean(dim=1)  # (B,)
    out = 10 * torch.log10(data_range**2 / mse)  # mse == 0 -> +inf
    return out[0] if squeeze else out


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - size // 2  # on the CPU: MPS has no float64
    g = torch.exp(-0.5 * (r / sigma) ** 2)
    return (g / g.sum()).to(device=device, dtype=dtype)  # (size,), sums to 1


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0,
    win_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
) -> torch.Tensor:
    r"""Structural similarity (Wang et al. 2004), per image, averaged over channels.

    With local Gaussian-weighted means :math:`\mu`, variances :math:`\sigma^2` and covariance
    :math:`\sigma_{xy}` (11x11 window, sigma 1.5),

    .. math:: \mathrm{SSIM} = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
              {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
              \quad C_1 = (K_1 L)^2,\ C_2 = (K_2 L)^2,

    averaged over every window that fits inside the image ("valid" positions, as in the
    paper's code). ``L = data_range``. 1 means identical; it can be negative.

    Args:
        x, y: ``(C, H, W)`` or ``(B, C, H, W)`` float images, H and W >= ``win_size``.

    Returns a 0-d tensor or ``(B,)``. Agrees with ``skimage.metrics.structural_similarity(...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=...,
    channel_axis=...)``. Computed in float64 on devices that have it (cancellation in
    ``E[x²] - E[x]²`` costs float32 a few 1e-6), the result has the input's dtype.
    """
    x, y, squeeze = _check_pair(x, y)
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range!r}")
    if not isinstance(win_size, int) or win_size < 1 or win_size % 2 == 0 or min(x.shape[-2:]) < win_size:
        raise ValueError(f"need an odd positive win_size <= H, W; got win_size={win_size!r} for images "
                         f"{tuple(x.shape)}")
    if not sigma > 0:
        raise ValueError(f"sigma (of the Gaussian window) must be positive, got {sigma!r}")
    out_dtype = x.dtype
    if x.device.type != "mps":
        x, y = x.double(), y.double()
    B, C, H, W = x.shape
    g = _gaussian_window(win_size, sigma, x.dtype, x.device)

    def local_mean(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid positions only
        t = t.reshape(B * C, 1, H, W)
        t = F.conv2d(t, g.view(1, 1, 1, -1))  # rows:    (B*C, 1, H, W - win + 1)
        t = F.conv2d(t, g.view(1, 1, -1, 1))  # columns: (B*C, 1, H - win + 1, W - win + 1)
        return t.reshape(B, C, H - win_size + 1, W - win_size + 1)

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov_xy = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    out = ssim_map.flatten(1).mean(dim=1).to(out_dtype)  # (B,): mean over channels and positions
    return out[0] if squeeze else out


# =============================================================================================
# Super-resolution conventions: luminance (Y) channel, border cropped
# =============================================================================================
__all__ += ["rgb_to_y", "psnr_y", "ssim_y"]

# ITU-R BT.601 luma for RGB in [0, 1], scaled to the studio range [16, 235] / 255 (MATLAB's
# rgb2ycbcr, which the SR papers' evaluation code uses).
_BT601 = (65.481, 128.553, 24.966)


def rgb_to_y(image: torch.Tensor) -> torch.Tensor:
    """Y channel of ``(3, H, W)`` or ``(B, 3, H, W)`` RGB in [0, 1] -> ``(1, H, W)`` / ``(B, 1, H, W)``.

    ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255``, so Y lies in [16/255, 235/255].
    Equals ``skimage.color.rgb2ycbcr(img)[..., 0] / 255``.
    """
    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4) or image.shape[-3] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"rgb_to_y expects RGB (3, H, W) or (B, 3, H, W), got {shape}")
    r, g, b = image.unbind(dim=-3)
    y = (16.0 + _BT601[0] * r + _BT601[1] * g + _BT601[2] * b) / 255.0
    return y.unsqueeze(-3)


def _crop(image: torch.Tensor, border: int) -> torch.Tensor:
    if border < 0 or 2 * border >= min(image.shape[-2:]):
        raise ValueError(f"border must be in [0, min(H, W) / 2), got {border} for {tuple(image.shape)}")
    return image[..., border:image.shape[-2] - border, border:image.shape[-1] - border] if border else image


def psnr_y(x: torch.Tensor, y: torch.Tensor, border: int = 0) -> torch.Tensor:
    """PSNR on the Y channel with ``border`` pixels cropped on each side (SR papers crop ``scale``).

    ``x``, ``y``: RGB ``(3, H, W)`` or ``(B, 3, H, W)`` in [0, 1]. Returns dB, 0-d or ``(B,)``.
    """
    return psnr(_crop(rgb_to_y(x), border), _crop(rgb_to_y(y), border))


def ssim_y(x: torch.Tensor, y: torch.Tensor, border: int = 0) -> torch.Tensor:
    """SSIM on the Y channel with ``border`` pixels cropped (see :func:`psnr_y`)."""
    return ssim(_crop(rgb_to_y(x), border), _crop(rgb_to_y(y), border))
