"""Image inpainting: a small U-Net that fills holes, the composition, losses, metric and baselines.

Mask convention (see ``course_lib.data.masks``): ``mask`` is a float ``(B, 1, H, W)`` tensor
with **1 = missing (hole)** and **0 = known**; images are ``(B, C, H, W)`` in [0, 1].

Notation::

    x        the complete image (known only outside the hole)
    m        the mask, 1 in the hole
    x_c      the coarse fill: biharmonic_fill(x, m) (default) or blur_fill(x, m)
    x_in     [x_c; m]                         (B, C + 1, H, W), the residual network's input
    x_hat    sigmoid(logit(x_c) + U-Net(x_in))     (B, C, H, W) in [0, 1], a prediction everywhere
    y        m * x_hat + (1 - m) * x          the composition: known pixels are kept exactly

With ``residual=True`` (the default) the network learns a **correction** to a classical fill
(residual learning, as DnCNN in notebook 07 and the bicubic residual of notebook 12; a coarse
fill refined by a network, as in Yu et al. 2018): its last layer starts at zero, so before
training ``x_hat`` is exactly the coarse fill and training only has to improve on it. The
network also *sees* the coarse fill (inside the hole instead of zeros). ``residual=False``
gives the plain ``sigmoid(U-Net([x * (1 - m); m]))`` with zeros in the hole.

Fills that need no training: :func:`mean_fill`, :func:`blur_fill` (normalised convolution) and
:func:`biharmonic_fill`, a batched torch solver of the equation that
``skimage.restoration.inpaint_biharmonic`` solves (coarse-to-fine conjugate gradients).

The network pads its input to a multiple of ``2**depth`` (replicate padding) and crops the
output back, so any ``H, W`` works (the source article's network needed multiples of 8).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["check_mask", "masked_input", "compose", "InpaintingUNet", "masked_l1", "masked_mse", "hole_psnr",
           "hole_psnr_loss", "mean_fill", "blur_fill", "biharmonic_fill", "laplacian_neumann", "pad_to_multiple"]


def check_mask(image: torch.Tensor, mask: torch.Tensor) -> None:
    """Raise a ``ValueError`` unless ``image`` is ``(B, C, H, W)`` and ``mask`` is ``(B, 1, H, W)``."""
    if image.ndim != 4:
        raise ValueError(f"expected an image batch (B, C, H, W), got {tuple(image.shape)}")
    B, _, H, W = image.shape
    if tuple(mask.shape) != (B, 1, H, W):
        raise ValueError(f"mask shape mismatch: expected (B, 1, H, W) = {(B, 1, H, W)} for an image "
                         f"{tuple(image.shape)}, got {tuple(mask.shape)} (convention: 1 = hole, 0 = known)")


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[image * (1 - mask); mask]``: ``(B, C, H, W)``, ``(B, 1, H, W)`` -> ``(B, C + 1, H, W)``."""
    check_mask(image, mask)
    return torch.cat([image * (1 - mask), mask], dim=1)  # (B, C + 1, H, W)


def compose(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * pred + (1 - mask) * image``: the prediction inside the hole, the input outside."""
    check_mask(image, mask)
    if pred.shape != image.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} differs from image shape {tuple(image.shape)}")
    return mask * pred + (1 - mask) * image


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(B, C, H, W)`` at the bottom and right to multiples of ``multiple``; returns it and ``(H, W)``."""
    H, W = x.shape[-2:]
    pad_h, pad_w = (-H) % multiple, (-W) % multiple  # e.g. 100 -> 4 more rows for multiple 8
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, (H, W)


def _block(c_in: int, c_out: int, groups: int = 8) -> nn.Sequential:
    """(3x3 conv -> GroupNorm -> ReLU) x 2, size-preserving.

    GroupNorm rather than BatchNorm: the holes change batch statistics, GroupNorm works per
    image. The normalisation keeps the pre-activations centred with unit spread, so an Adam step
    on a bias cannot push a whole layer below zero (without it the last decoder block's ReLUs
    died within 50 steps and the network stayed equal to the blur fill).
    """
    g = math.gcd(groups, c_out)
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(g, c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(g, c_out), nn.ReLU(inplace=True))


class InpaintingUNet(nn.Module):
    """U-Net-like encoder-decoder: masked image + mask -> a complete image in [0, 1].

    Blocks are (3x3 conv -> GroupNorm -> ReLU) x 2. The residual variant's input is the coarse
    fill plus the mask, the plain variant's the image with zeros in the hole plus the mask.

    Args:
        in_channels: image channels ``C`` (the network takes ``C + 1``: the mask is appended).
        base: channels at full resolution; level ``l`` has ``base * 2**l``.
        depth: number of stride-2 downsamplings (the stride of the network is ``2**depth``).
        residual: predict a correction to the coarse fill (default) instead of the image itself.
        coarse: the classical fill the residual network starts from and sees, ``"biharmonic"``
            (:func:`biharmonic_fill`, default) or ``"blur"`` (:func:`blur_fill`).

    ``forward(image, mask)`` returns the **composed** output ``(B, C, H, W)``: known pixels are
    the input's exactly. ``predict(image, mask)`` returns the raw prediction ``x_hat`` for every
    pixel (used by the training loss). Any ``H, W`` works (replicate padding, then a crop).
    """

    def __init__(self, in_channels: int = 3, base: int = 32, depth: int = 3, residual: bool = True,
                 coarse: str = "biharmonic"):
        super().__init__()
        if coarse not in _COARSE_FILLS:
            raise ValueError(f"coarse must be one of {sorted(_COARSE_FILLS)}, got {coarse!r}")
        self.in_channels, self.depth, self.residual, self.coarse = in_channels, depth, residual, coarse
        chans = [base * 2**level for level in range(depth + 1)]
        self.enc = nn.ModuleList([_block(in_channels + 1, chans[0])] +
                                 [_block(chans[level - 1], chans[level]) for level in range(1, depth + 1)])
        self.down = nn.ModuleList([nn.Conv2d(chans[level], chans[level], 3, stride=2, padding=1)
                                   for level in range(depth)])
        self.dec = nn.ModuleList([_block(chans[level + 1] + chans[level], chans[level]) for level in range(depth)])
        self.head = nn.Conv2d(chans[0], in_channels, 1)
        if residual:  # start as the coarse fill: the network's correction is zero before training
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def stride(self) -> int:
        return 2**self.depth

    def predict(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Raw prediction ``x_hat`` for every pixel, ``(B, C, H, W)`` in [0, 1] (see the module docstring)."""
        check_mask(image, mask)
        if image.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} image channels, got {tuple(image.shape)}")
        if self.residual:  # the coarse fill inside the hole (known pixels unchanged) + the mask
            coarse = _COARSE_FILLS[self.coarse](image * (1 - mask), mask)  # (B, C, H, W) in [0, 1]
            x_in = torch.cat([coarse, mask], dim=1)
        else:  # zeros inside the hole + the mask
            x_in = masked_input(image, mask)
        h, (H, W) = pad_to_multiple(x_in, self.stride)  # (B, C + 1, H', W')
        skips = []
        for level in range(self.depth):
            h = self.enc[level](h)  # (B, base * 2**level, H' / 2**level, W' / 2**level)
            skips.append(h)
            h = self.down[level](h)
        h = self.enc[self.depth](h)  # bottleneck (B, base * 2**depth, H' / stride, W' / stride)
        for level in reversed(range(self.depth)):
            h = F.interpolate(h, size=skips[level].shape[-2:], mode="bilinear", align_corners=False)
            h = self.dec[level](torch.cat([h, skips[level]], dim=1))  # concatenated skip
        logits = self.head(h)[..., :H, :W]  # crop back to (B, C, H, W)
        if self.residual:  # a correction to the coarse fill, in logit space so the output stays in [0, 1]
            logits = logits + torch.logit(coarse.clamp(1e-4, 1 - 1e-4))
        return torch.sigmoid(logits)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return compose(self.predict(image, mask), image, mask)


_COARSE_FILLS = {"blur": lambda image, mask: blur_fill(image, mask),
                 "biharmonic": lambda image, mask: biharmonic_fill(image, mask)}


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, known_weight: float = 0.0) -> torch.Tensor:
    """Mean L1 over hole pixels plus ``known_weight`` times the mean L1 over known pixels.

    Each term is averaged over its own pixels (and channels), so a small hole counts as much as
    a large one. With ``known_weight=0`` changes of ``pred`` outside the hole do not matter.
    """
    check_mask(target, mask)
    err = (pred - target).abs()  # (B, C, H, W)
    C = target.shape[1]
    hole = (err * mask).sum() / (mask.sum() * C).clamp_min(1.0)
    if known_weight == 0:
        return hole
    known = (err * (1 - mask)).sum() / ((1 - mask).sum() * C).clamp_min(1.0)
    return hole + known_weight * known


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hole pixels (and channels) of the whole batch: a scalar.

    ``sum(mask * (pred - target)**2) / (C * sum(mask))``; known pixels do not count. The
    training loss that matches the metric: :func:`hole_psnr` is ``-10 log10`` of a hole MSE.
    """
    check_mask(target, mask)
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    C = target.shape[1]
    return ((pred - target) ** 2 * mask).sum() / (mask.sum() * C).clamp_min(1.0)


def hole_psnr_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Minus the mean hole PSNR of the batch, in dB: ``mean_b 10 log10(MSE_b + eps)``, a scalar.

    :func:`masked_mse` pools the squared errors of the whole batch, so images with large errors
    (big holes) dominate it; the metric averages PSNR per image, on a log scale, where a thin
    hole with a small error counts as much as a big one. This loss optimises that mean
    directly. ``eps`` (about 50 dB) keeps the gradient finite for a hole that is filled exactly.
    """
    check_mask(target, mask)
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    C = target.shape[1]
    sq = ((pred - target) ** 2 * mask).flatten(1).sum(dim=1)  # (B,)
    mse = sq / (mask.flatten(1).sum(dim=1) * C).clamp_min(1.0)  # (B,)
    return 10 * torch.log10(mse + eps).mean()


def hole_psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB over the hole pixels only, per image: ``(B,)``.

    ``MSE_b = sum(mask * (pred - target)**2) / (C * sum(mask))`` over image ``b``, then
    ``10 log10(data_range**2 / MSE_b)``. Known pixels are ignored (an exact copy there would
    otherwise inflate the score). An image with an empty hole gives NaN.
    """
    check_mask(target, mask)
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
    C = target.shape[1]
    sq = ((pred - target) ** 2 * mask).flatten(1).sum(dim=1)  # (B,)
    n = mask.flatten(1).sum(dim=1) * C  # (B,) hole values per image
    mse = sq / n  # 0/0 = NaN for an empty hole
    return 10 * torch.log10(data_range**2 / mse)


def mean_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the hole with the per-image, per-channel mean of the known pixels (a baseline)."""
    check_mask(image, mask)
    known = 1 - mask
    mean = (image * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
    return compose(mean.expand_as(image), image, mask)  # (B, C, 1, 1) broadcast


def _gaussian_zero_pad(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with zero padding (outside the image counts as unknown)."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    C = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), padding=(0, radius), groups=C)  # along W
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), padding=(radius, 0), groups=C)  # along H


def blur_fill(image: torch.Tensor, mask: torch.Tensor, sigmas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
              min_weight: float = 0.1) -> torch.Tensor:
    """Normalised convolution: ``G_s * (x (1 - m)) / G_s * (1 - m)`` inside the hole.

    Each hole pixel takes the smallest ``sigma`` in ``sigmas`` whose known weight
    ``G_s * (1 - m)`` reaches ``min_weight`` (sharp near the border, smooth deep inside); pixels
    never reaching it take the largest sigma. Known pixels are kept exactly.
    """
    check_mask(image, mask)
    known = 1 - mask
    fill = torch.zeros_like(image)
    done = torch.zeros_like(mask, dtype=torch.bool)
    for i, sigma in enumerate(sigmas):
        num = _gaussian_zero_pad(image * known, sigma)  # (B, C, H, W)
        den = _gaussian_zero_pad(known, sigma)  # (B, 1, H, W)
        estimate = num / den.clamp_min(1e-12)
        take = ~done & ((den >= min_weight) | (i == len(sigmas) - 1))
        fill = torch.where(take, estimate, fill)
        done = done | take
    return compose(fill.clamp(0, 1), image, mask)


# ---------------------------------------------------------------------------------------
# Biharmonic fill, batched in torch
# ---------------------------------------------------------------------------------------

def laplacian_neumann(u: torch.Tensor) -> torch.Tensor:
    """5-point Laplacian ``(N, H, W) -> (N, H, W)`` with replicate padding (zero normal derivative)."""
    p = F.pad(u.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)  # (N, H + 2, W + 2)
    return p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * u


def _laplacian_neumann_adjoint(r: torch.Tensor) -> torch.Tensor:
    """The transpose of :func:`laplacian_neumann` as a linear map: ``<L u, r> = <u, L^T r>``."""
    p = F.pad(r, (1, 1, 1, 1))  # zeros outside: (N, H + 2, W + 2)
    g = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * r
    # replicate padding copied the border pixels outwards: their copies' coefficients come back to them
    g[:, 0, :] += r[:, 0, :]
    g[:, -1, :] += r[:, -1, :]
    g[:, :, 0] += r[:, :, 0]
    g[:, :, -1] += r[:, :, -1]
    return g


def _conjugate_gradient(known: torch.Tensor, hole: torch.Tensor, u: torch.Tensor, iters: int) -> torch.Tensor:
    """Minimise ``||L (known + hole * u)||^2`` over the hole values ``u`` by conjugate gradients.

    All tensors ``(N, H, W)``; ``known`` is 0 in the hole. The normal equations are
    ``A u = b`` with ``A = P L^T L P`` (``P`` keeps hole pixels), symmetric positive definite
    when at least one pixel is known. Each of the ``N`` maps has its own step sizes.
    """
    def A(v):
        return hole * _laplacian_neumann_adjoint(laplacian_neumann(v))

    u = u * hole
    r = -hole * _laplacian_neumann_adjoint(laplacian_neumann(known + u))  # b - A u
    p = r.clone()
    rr = (r * r).sum(dim=(1, 2), keepdim=True)  # (N, 1, 1)
    for _ in range(iters):
        Ap = A(p)
        alpha = rr / (p * Ap).sum(dim=(1, 2), keepdim=True).clamp_min(1e-30)
        u = u + alpha * p
        r = r - alpha * Ap
        rr_new = (r * r).sum(dim=(1, 2), keepdim=True)
        p = r + (rr_new / rr.clamp_min(1e-30)) * p
        rr = rr_new
    return known + hole * u


def _solve_coarse_to_fine(known: torch.Tensor, hole: torch.Tensor, iters: int, levels: int) -> torch.Tensor:
    """Solve on a half-resolution copy first (recursively), upsample it as the starting point."""
    N, H, W = known.shape
    if levels > 0 and min(H, W) >= 8:
        weight = 1 - hole
        num = F.avg_pool2d((known * weight).unsqueeze(1), 2, ceil_mode=True).squeeze(1)  # (N, H/2, W/2)
        den = F.avg_pool2d(weight.unsqueeze(1), 2, ceil_mode=True).squeeze(1)
        coarse_hole = (den == 0).to(known.dtype)  # a coarse pixel is known if any of its 4 pixels is
        coarse_known = num / den.clamp_min(1e-12) * (1 - coarse_hole)
        coarse = _solve_coarse_to_fine(coarse_known, coarse_hole, iters, levels - 1)
        start = F.interpolate(coarse.unsqueeze(1), size=(H, W), mode="bilinear", align_corners=False).squeeze(1)
    else:
        start = torch.zeros_like(known)
    return _conjugate_gradient(known, hole, start, iters)


def biharmonic_fill(image: torch.Tensor, mask: torch.Tensor, iters: int = 25, levels: int = 3) -> torch.Tensor:
    """Biharmonic inpainting of a batch: the hole values minimise the Laplacian energy ``||L y||^2``.

    Setting the gradient of ``sum (L y)^2`` to zero gives ``(L^T L y) = 0`` at every hole
    pixel, which away from the image border is the 13-point biharmonic stencil
    ``Delta^2 y = 0``, the equation ``skimage.restoration.inpaint_biharmonic`` solves; at the
    image border this version uses a zero normal derivative (replicate padding). The linear
    system is solved by conjugate gradients, ``iters`` steps at each of ``levels + 1``
    resolutions (coarse to fine): with the defaults the hole PSNR on 64 x 64 images matches
    scikit-image's to about 0.1 dB (see the tests), while a batch is solved at once.

    Args:
        image: ``(B, C, H, W)`` in [0, 1]; hole pixels are ignored.
        mask: ``(B, 1, H, W)``, 1 = hole. Every image needs at least one known pixel.
        iters: conjugate-gradient steps per resolution.
        levels: number of halvings for the coarse-to-fine start (0: start from zeros).

    Returns the composed ``(B, C, H, W)`` fill, clamped to [0, 1]; known pixels are exact.
    """
    check_mask(image, mask)
    B, C, H, W = image.shape
    if bool((mask.flatten(1).min(dim=1).values >= 1).any()):
        raise ValueError("biharmonic_fill needs at least one known pixel per image (a mask is all hole)")
    hole = mask.expand(B, C, H, W).reshape(B * C, H, W)  # one system per image and channel
    known = image.reshape(B * C, H, W) * (1 - hole)
    filled = _solve_coarse_to_fine(known, hole, iters, levels).reshape(B, C, H, W)
    return compose(filled.clamp(0, 1), image, mask)
