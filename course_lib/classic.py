"""Classical image processing written with torch ops: filters, edges, enhancement, noise.

Every filter takes a float image ``(C, H, W)`` or a batch ``(B, C, H, W)`` and returns the same
layout; each channel is processed on its own (colour images are filtered channel by channel).
Pixel values are expected in [0, 1] wherever the value scale matters (bilateral, Canny,
equalisation, gamma, noise); the linear and order filters (Gaussian, Sobel, median) accept any
real values.

Borders. A filter near the border needs pixels outside the image; ``pad2d`` invents them.
Mode names follow ``scipy.ndimage`` and scikit-image, not ``torch.nn.functional.pad``:

==============  ======================  =================  =====================
mode (here)     padded row ``|abcd|``    ``F.pad`` name     ``numpy.pad`` name
==============  ======================  =================  =====================
``"reflect"``   ``ba|abcd|dc``           (none)             ``"symmetric"``
``"mirror"``    ``cb|abcd|cb``           ``"reflect"``      ``"reflect"``
``"nearest"``   ``aa|abcd|dd``           ``"replicate"``    ``"edge"``
``"wrap"``      ``cd|abcd|ab``           ``"circular"``     ``"wrap"``
``"constant"``  ``00|abcd|00``           ``"constant"``     ``"constant"``
==============  ======================  =================  =====================

The default everywhere is ``"reflect"``, which is scikit-image's default for ``filters.sobel``
and ``metrics.structural_similarity``. ``skimage.filters.gaussian`` and ``filters.median``
default to ``"nearest"`` and ``feature.canny`` to ``"constant"``: pass the same mode to both
libraries when you compare them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PAD_MODES = ("reflect", "mirror", "nearest", "wrap", "constant")


# --- input checks ------------------------------------------------------------------------------
def _as_batch(img: torch.Tensor, name: str = "img") -> tuple[torch.Tensor, bool]:
    """Check a float ``(C, H, W)`` / ``(B, C, H, W)`` image; return it as a batch and whether to squeeze."""
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(img).__name__}")
    if not img.is_floating_point():
        raise TypeError(
            f"{name}: expected a floating-point image in [0, 1], got dtype {img.dtype} "
            "(convert uint8 with img.float() / 255)"
        )
    if img.ndim not in (3, 4):
        raise ValueError(f"{name}: expected (C, H, W) or (B, C, H, W), got {tuple(img.shape)}")
    channels = img.shape[-3]
    if img.shape[-1] in (1, 3, 4) and channels not in (1, 3, 4):  # e.g. (64, 64, 3): channels last
        layout = "(H, W, C)" if img.ndim == 3 else "(B, H, W, C)"
        fix = "img.permute(2, 0, 1)" if img.ndim == 3 else "img.permute(0, 3, 1, 2)"
        raise ValueError(f"{name}: expected channels first, (C, H, W) or (B, C, H, W), got {tuple(img.shape)}, "
                         f"which looks like {layout}; use {fix}")
    if img.shape[-1] == 0 or img.shape[-2] == 0:
        raise ValueError(f"{name}: expected an image of at least 1 x 1 pixels, got {tuple(img.shape)}")
    return (img.unsqueeze(0), True) if img.ndim == 3 else (img, False)


def _check_unit_range(img: torch.Tensor, name: str = "img") -> None:
    lo, hi = img.min().item(), img.max().item()
    if lo < 0 or hi > 1:
        raise ValueError(f"{name}: expected values in [0, 1], got min {lo:.4g} and max {hi:.4g}")


def _check_positive(value: float, name: str) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


def _check_odd_size(size: int, name: str = "size") -> None:
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"{name} must be an odd positive int (3, 5, ...), got {size!r}")


# --- padding and correlation -------------------------------------------------------------------
def _pad_index(n: int, before: int, after: int, mode: str, device) -> torch.Tensor:
    """Source index of each padded position along one axis of length ``n``."""
    idx = torch.arange(-before, n + after, device=device)
    if mode == "nearest":
        return idx.clamp(0, n - 1)
    if mode == "wrap":
        return idx % n
    if mode == "reflect":  # period 2n: the edge pixel is repeated
        idx = idx % (2 * n)
        return torch.where(idx >= n, 2 * n - 1 - idx, idx)
    if n == 1:  # "mirror" of a single pixel is that pixel
        return torch.zeros_like(idx)
    idx = idx % (2 * n - 2)  # "mirror", period 2n - 2: the edge pixel is not repeated
    return torch.where(idx >= n, 2 * n - 2 - idx, idx)


def pad2d(img: torch.Tensor, pad_h: int, pad_w: int, mode: str = "reflect") -> torch.Tensor:
    """Pad the last two dims by ``pad_h`` rows and ``pad_w`` columns on each side.

    ``(..., H, W)`` -> ``(..., H + 2 pad_h, W + 2 pad_w)``; ``mode`` as in the module docstring
    (any pad width works, also wider than the image).
    """
    if mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    if mode == "constant":
        return F.pad(img, (pad_w, pad_w, pad_h, pad_h))
    H, W = img.shape[-2:]
    rows = _pad_index(H, pad_h, pad_h, mode, img.device)
    cols = _pad_index(W, pad_w, pad_w, mode, img.device)
    return img.index_select(-2, rows).index_select(-1, cols)


def correlate2d(img: torch.Tensor, kernel: torch.Tensor, mode: str = "reflect") -> torch.Tensor:
    """Cross-correlate every channel with one ``(kh, kw)`` kernel (odd sizes); same-size output.

    ``out[y, x] = sum_ij kernel[i, j] * img[y + i - kh // 2, x + j - kw // 2]``: the kernel is
    *not* flipped, exactly like ``F.conv2d`` and ``scipy.ndimage.correlate``.
    """
    x, squeeze = _as_batch(img)
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"expected a 2-D kernel with odd sizes, got shape {tuple(kernel.shape)}")
    kh, kw = kernel.shape
    B, C, H, W = x.shape
    planes = pad2d(x.reshape(B * C, 1, H, W), kh // 2, kw // 2, mode)  # (B*C, 1, H+kh-1, W+kw-1)
    out = F.conv2d(planes, kernel.to(x)[None, None])  # (B*C, 1, H, W)
    out = out.reshape(B, C, H, W)
    return out[0] if squeeze else out


# --- smoothing ---------------------------------------------------------------------------------
def _gaussian_1d(sigma: float, radius: int, dtype=torch.float32, device=None) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)  # built on the CPU (MPS has no float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).to(device=device, dtype=dtype)  # (2 radius + 1,), sums to 1


def gaussian_kernel(size: int, sigma: float, dtype=torch.float32) -> torch.Tensor:
    """The ``(size, size)`` Gaussian ``G(x, y) ∝ exp(-(x² + y²) / 2σ²)``, normalised to sum 1.

    ``size`` must be odd so the kernel has a centre pixel. The 2-D kernel is the outer product
    of two 1-D Gaussians, which is why ``gaussian_blur`` can filter rows then columns.
    """
    _check_odd_size(size)
    _check_positive(sigma, "sigma")
    g = _gaussian_1d(sigma, size // 2, torch.float64)
    return torch.outer(g, g).to(dtype)


def gaussian_blur(img: torch.Tensor, sigma: float, truncate: float = 4.0, mode: str = "reflect") -> torch.Tensor:
    """Gaussian smoothing, separable (a row pass then a column pass).

    Args:
        img: ``(C, H, W)`` or ``(B, C, H, W)`` float.
        sigma: standard deviation in pixels (> 0).
        truncate: the kernel radius is ``int(truncate * sigma + 0.5)`` pixels, as in scipy.
        mode: border handling (see module docstring).

    Returns the same shape. Equals ``skimage.filters.gaussian(..., sigma, mode=mode,
    truncate=truncate)`` channel by channel (scikit-image's own default mode is "nearest").
    """
    _as_batch(img)
    _check_positive(sigma, "sigma")
    _check_positive(truncate, "truncate")
    g = _gaussian_1d(sigma, int(truncate * sigma + 0.5), img.dtype, img.device)
    return correlate2d(correlate2d(img, g[None, :], mode), g[:, None], mode)


def median_filter(img: torch.Tensor, size: int = 3, mode: str = "reflect") -> torch.Tensor:
    """Median of each ``size x size`` neighbourhood (odd ``size``); robust to salt-and-pepper noise.

    Same as ``scipy.ndimage.median_filter(..., size=size, mode=mode)`` per channel.
    """
    x, squeeze = _as_batch(img)
    _check_odd_size(size)
    B, C, H, W = x.shape
    planes = pad2d(x.reshape(B * C, 1, H, W), size // 2, size // 2, mode)
    patches = F.unfold(planes, size)  # (B*C, size*size, H*W): one column per output pixel
    out = patches.median(dim=1).values.reshape(B, C, H, W)
    return out[0] if squeeze else out


def bilateral_filter(
    img: torch.Tensor, size: int = 5, sigma_space: float = 1.0, sigma_color: float = 0.1,
    mode: str = "reflect", joint: bool = False,
) -> torch.Tensor:
    """Edge-preserving smoothing (Tomasi & Manduchi 1998).

    ``out(p) = sum_q w(p, q) I(q) / sum_q w(p, q)`` over the ``size x size`` window, with
    ``w(p, q) = exp(-|p - q|² / 2 sigma_space²) * exp(-(I(p) - I(q))² / 2 sigma_color²)``:
    neighbours with a very different value (across an edge) get almost no weight.

    Args:
        img: ``(C, H, W)`` or ``(B, C, H, W)`` float in [0, 1].
        size: odd window size; sigma_space in pixels; sigma_color in intensity units.
        joint: ``False`` filters each channel alone; ``True`` uses the colour distance
            ``|I(p) - I(q)|`` over all channels (like scikit-image with ``channel_axis``).
    """
    x, squeeze = _as_batch(img)
    _check_unit_range(x)
    _check_odd_size(size)
    _check_positive(sigma_space, "sigma_space")
    _check_positive(sigma_color, "sigma_color")
    r, (H, W) = size // 2, x.shape[-2:]
    padded = pad2d(x, r, r, mode)  # (B, C, H + 2r, W + 2r)
    num, den = torch.zeros_like(x), torch.zeros_like(x)
    for dy in range(-r, r + 1):  # one shifted copy of the image per window offset
        for dx in range(-r, r + 1):
            q = padded[..., r + dy : r + dy + H, r + dx : r + dx + W]  # I(p + (dy, dx))
            d2 = (q - x) ** 2
            if joint:
                d2 = d2.sum(dim=1, keepdim=True)  # (B, 1, H, W) colour distance²
            w = math.exp(-(dy * dy + dx * dx) / (2 * sigma_space**2)) * torch.exp(-d2 / (2 * sigma_color**2))
            num += w * q
            den += w
    out = num / den  # den >= 1: the centre pixel always has weight 1
    return out[0] if squeeze else out


# --- edges -------------------------------------------------------------------------------------
SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])  # d/dx, smoothed along y


def sobel_gradients(img: torch.Tensor, mode: str = "reflect") -> tuple[torch.Tensor, torch.Tensor]:
    """The Sobel derivatives ``(gx, gy)`` with the textbook (unnormalised) kernels.

    ``gx`` is positive where brightness increases to the right (along W), ``gy`` where it
    increases downwards (along H). For images in [0, 1] each lies in [-4, 4]. Same as
    ``scipy.ndimage.sobel(axis=1)`` and ``(axis=0)``.
    """
    _as_batch(img)
    kx = SOBEL_X.to(img.dtype)
    return correlate2d(img, kx, mode), correlate2d(img, kx.T, mode)


def sobel(img: torch.Tensor, mode: str = "reflect") -> torch.Tensor:
    """Gradient magnitude ``sqrt((gx² + gy²) / 2) / 4``, in [0, 1] for images in [0, 1].

    The scaling (kernels divided by 4, root-mean-square over the two axes) is that of
    ``skimage.filters.sobel``, so the two agree; the textbook magnitude ``hypot(gx, gy)`` from
    :func:`sobel_gradients` is ``4 * sqrt(2)`` times larger.
    """
    gx, gy = sobel_gradients(img, mode)
    return torch.sqrt((gx**2 + gy**2) / 2) / 4


def non_maximum_suppression(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Canny step 3: True where the magnitude is >= both neighbours along the gradient direction.

    The two neighbours at ``p ± g / max(|gx|, |gy|)`` fall between two pixels of the 3x3 ring;
    their magnitude is interpolated linearly between those two pixels. ``mag = hypot(gx, gy)``;
    all four are ``(B, C, H, W)``; the result is a bool mask of thin ridges.
    """
    H, W = mag.shape[-2:]
    padded = F.pad(mag, (1, 1, 1, 1))
    ring = torch.stack([padded[..., 1 + dy : 1 + dy + H, 1 + dx : 1 + dx + W]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)])  # (9, B, C, H, W)

    def at(dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:  # magnitude at p + (dy, dx)
        return ring.gather(0, ((dy + 1) * 3 + (dx + 1)).unsqueeze(0)).squeeze(0)

    ax, ay = gx.abs(), gy.abs()
    sx = torch.where(gx >= 0, 1, -1)
    sy = torch.where(gy >= 0, 1, -1)
    major_y = ay > ax  # gradient closer to vertical: step one row, a fraction of a column
    zero = torch.zeros_like(sx)
    dy1, dx1 = torch.where(major_y, sy, zero), torch.where(major_y, zero, sx)
    w = torch.where(major_y, ax / ay.clamp_min(1e-30), ay / ax.clamp_min(1e-30))  # in [0, 1]
    ahead = at(dy1, dx1) * (1 - w) + at(sy, sx) * w
    behind = at(-dy1, -dx1) * (1 - w) + at(-sy, -sx) * w
    return (ahead <= mag) & (behind <= mag)


def hysteresis(weak: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
    """Canny step 5: the ``weak`` pixels 8-connected (through weak pixels) to a ``strong`` one.

    Both are bool ``(B, C, H, W)`` masks; grows ``strong`` by 3x3 dilations inside ``weak``.
    """
    edges = strong & weak
    while True:
        grown = edges
        for _ in range(8):  # several dilation steps per convergence check
            grown = F.max_pool2d(grown.float(), 3, stride=1, padding=1).bool() & weak
        if torch.equal(grown, edges):
            return edges
        edges = grown


def canny(img: torch.Tensor, low: float = 0.1, high: float = 0.2, sigma: float = 1.0,
          mode: str = "reflect") -> torch.Tensor:
    """Canny (1986) edge detector; returns a bool edge map of the input's shape.

    1. Gaussian smoothing with ``sigma``; 2. Sobel gradients, magnitude ``hypot(gx, gy)``;
    3. non-maximum suppression along the gradient (interpolated neighbours); 4. double
    threshold: ``>= high`` is a strong edge, ``>= low`` a weak one; 5. hysteresis: keep weak
    pixels connected to a strong one. The 1-pixel image frame is never an edge.

    ``low`` and ``high`` are on the scale of the unnormalised Sobel magnitude (below
    4 sqrt(2) ~ 5.7 for images in [0, 1]; a sharp step of height 1 gives 4), as in ``skimage.feature.canny`` for
    float images, with which this agrees when given the same ``mode``.
    """
    x, squeeze = _as_batch(img)
    _check_unit_range(x)
    if not 0 <= low <= high:
        raise ValueError(f"expected 0 <= low <= high, got low={low!r}, high={high!r}")
    gx, gy = sobel_gradients(gaussian_blur(x, sigma, mode=mode))
    mag = torch.hypot(gx, gy)
    candidate = non_maximum_suppression(mag, gx, gy) & (mag >= max(low, 1e-14))
    candidate[..., [0, -1], :] = False  # the frame: what lies beyond the border is unknown
    candidate[..., :, [0, -1]] = False
    edges = hysteresis(candidate, candidate & (mag >= high))
    return edges[0] if squeeze else edges


# --- enhancement -------------------------------------------------------------------------------
def equalize_histogram(img: torch.Tensor, nbins: int = 256) -> torch.Tensor:
    """Histogram equalisation: map each value through the channel's cumulative histogram.

    The histogram has ``nbins`` equal bins between the channel's min and max; the cumulative
    distribution (CDF, from 1/N to 1) is interpolated linearly between bin centres, so the
    output of a ``(C, H, W)`` or ``(B, C, H, W)`` image in [0, 1] is spread over [0, 1] with a
    roughly flat histogram. Matches ``skimage.exposure.equalize_hist`` per channel.
    """
    x, squeeze = _as_batch(img)
    _check_unit_range(x)
    if not isinstance(nbins, int) or nbins < 2:
        raise ValueError(f"nbins must be an int >= 2, got {nbins!r}")
    B, C, H, W = x.shape
    work = torch.float32 if x.device.type == "mps" else torch.float64  # MPS has no float64
    v = x.reshape(B * C, H * W).to(work)  # (N, P), one row per channel
    lo, hi = v.min(dim=1, keepdim=True).values, v.max(dim=1, keepdim=True).values
    flat = hi == lo  # numpy widens an empty range to (v - 0.5, v + 0.5)
    lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)
    width = (hi - lo) / nbins
    bins = ((v - lo) / width).floor().long().clamp(0, nbins - 1)  # (N, P)
    hist = torch.zeros(B * C, nbins, dtype=work, device=x.device).scatter_add_(1, bins, torch.ones_like(v))
    cdf = hist.cumsum(dim=1) / hist.sum(dim=1, keepdim=True)  # (N, nbins)
    t = (v - lo) / width - 0.5  # position in units of bins, 0 at the first bin centre
    i = t.floor().long().clamp(0, nbins - 2)
    frac = (t - i).clamp(0, 1)
    out = cdf.gather(1, i) * (1 - frac) + cdf.gather(1, i + 1) * frac
    out = out.to(x.dtype).reshape(B, C, H, W)
    return out[0] if squeeze else out


def adjust_gamma(img: torch.Tensor, gamma: float, gain: float = 1.0) -> torch.Tensor:
    """Power-law (gamma) correction ``out = gain * img ** gamma`` for images in [0, 1].

    ``gamma < 1`` brightens dark tones, ``gamma > 1`` darkens them; 0 and 1 stay fixed.
    """
    x, _ = _as_batch(img)
    _check_unit_range(x)
    _check_positive(gamma, "gamma")
    return gain * img.pow(gamma)


# --- noise models ------------------------------------------------------------------------------
def add_gaussian_noise(img: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
                       clip: bool = True) -> torch.Tensor:
    """``img + sigma * n`` with ``n ~ N(0, 1)`` i.i.d. per value, clipped to [0, 1] by default.

    Pass a seeded ``torch.Generator`` (on the image's device) for repeatable noise.
    """
    x, _ = _as_batch(img)
    _check_unit_range(x)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    noise = torch.randn(img.shape, generator=generator, dtype=img.dtype, device=img.device)
    out = img + sigma * noise
    return out.clamp(0, 1) if clip else out


def add_salt_and_pepper(img: torch.Tensor, amount: float, generator: torch.Generator | None = None,
                        salt_ratio: float = 0.5) -> torch.Tensor:
    """Set a fraction ``amount`` of the values to 0 (pepper) or 1 (salt), independently per value.

    ``salt_ratio`` is the share of corrupted values set to 1. Like ``skimage.util.random_noise``
    with ``mode="s&p"``, every channel value is corrupted on its own.
    """
    x, _ = _as_batch(img)
    _check_unit_range(x)
    if not 0 <= amount <= 1 or not 0 <= salt_ratio <= 1:
        raise ValueError(f"amount and salt_ratio must lie in [0, 1], got {amount!r} and {salt_ratio!r}")
    u = torch.rand(img.shape, generator=generator, dtype=img.dtype, device=img.device)
    corrupt = u < amount
    salt = u < amount * salt_ratio  # a subset of the corrupted values
    out = img.masked_fill(corrupt, 0.0)
    return out.masked_fill(salt, 1.0)
