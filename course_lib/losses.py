"""Loss functions the notebooks derive, grouped by task (one section per family).

Conventions: networks return **logits** (not probabilities); losses apply the softmax or
sigmoid themselves, and return a scalar tensor (mean over the batch) unless stated otherwise.

Sections:

* segmentation: :func:`dice_loss`, :func:`dice_ce_loss` (notebook 06).
* VAE: :func:`vae_loss` (per-image BCE + closed-form KL, with its parts :class:`VAELoss`),
  :func:`kl_divergence_normal` (notebook 08).
* GAN: :func:`gan_d_loss`, :func:`gan_g_loss` (non-saturating) and, for comparison,
  :func:`gan_g_loss_saturating`, all on discriminator logits (notebook 09).
* Image-to-image translation: :func:`cycle_consistency_loss`, :func:`identity_loss` (notebook 10).
* Style transfer: :func:`gram_matrix`, :func:`content_loss`, :func:`style_loss`,
  :func:`total_variation_loss`, :func:`perceptual_loss` (notebook 11).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

__all__ = ["dice_loss", "dice_ce_loss"]


def _check_segmentation_inputs(logits: torch.Tensor, target: torch.Tensor, num_classes: int) -> None:
    """Raise a ValueError unless logits ``(B, K, H, W)`` and target ``(B, H, W)`` integers in [0, K)."""
    if logits.ndim != 4 or logits.shape[1] != num_classes:
        raise ValueError(f"logits: expected (B, {num_classes}, H, W), got {tuple(logits.shape)}")
    if target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"target: expected class map of shape {(logits.shape[0], *logits.shape[2:])} "
                         f"to match the logits, got {tuple(target.shape)}")
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"target: expected integer class indices (int64), got {target.dtype}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise ValueError(f"target: expected classes in [0, {num_classes - 1}], "
                         f"got min {int(target.min())}, max {int(target.max())}")


# ---------------------------------------------------------------------------------------
# Segmentation losses
# ---------------------------------------------------------------------------------------


def dice_loss(logits: torch.Tensor, target: torch.Tensor, num_classes: int, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice loss on softmax probabilities: ``1 - mean over images b and classes k of``

    ``(2 sum_i p_bki t_bki + eps) / (sum_i p_bki + sum_i t_bki + eps)``

    where ``p = softmax(logits, dim=1)``, ``t`` is the one-hot target and ``i`` runs over the
    pixels of one image (Milletari et al. 2016, with the squares in the denominator replaced
    by plain sums, as most libraries do). ``eps`` smooths the ratio: a class absent from both
    the target and the prediction of an image scores 1 (no loss) instead of 0/0.

    Args:
        logits: ``(B, K, H, W)`` raw scores, ``K == num_classes``.
        target: ``(B, H, W)`` int64 class indices in ``[0, K)``.
        num_classes: ``K``.
        eps: smoothing added to numerator and denominator (> 0).

    Returns:
        A scalar in ``[0, 1)``: 0 when the probabilities equal the one-hot target.
    """
    _check_segmentation_inputs(logits, target, num_classes)
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    probs = logits.softmax(dim=1)  # (B, K, H, W)
    one_hot = F.one_hot(target, num_classes).permute(0, 3, 1, 2).to(probs.dtype)  # (B, H, W, K) -> (B, K, H, W)
    intersection = (probs * one_hot).sum(dim=(2, 3))  # (B, K)
    total = probs.sum(dim=(2, 3)) + one_hot.sum(dim=(2, 3))  # (B, K)
    dice = (2 * intersection + eps) / (total + eps)  # (B, K), each in (0, 1]
    return 1 - dice.mean()


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor, num_classes: int,
                 dice_weight: float = 1.0, eps: float = 1.0) -> torch.Tensor:
    """Per-pixel cross-entropy plus ``dice_weight`` times :func:`dice_loss` (same shapes).

    Cross-entropy gives every pixel a well-behaved gradient; Dice scores each class by its
    overlap, so small classes count as much as the background.
    """
    _check_segmentation_inputs(logits, target, num_classes)
    return F.cross_entropy(logits, target) + dice_weight * dice_loss(logits, target, num_classes, eps)


# ---------------------------------------------------------------------------------------
# VAE loss (notebook 08)
# ---------------------------------------------------------------------------------------
#
# Kingma and Welling 2014. For one image x with encoder q(z|x) = N(mu, diag(sigma²)), prior
# p(z) = N(0, I) and a Bernoulli decoder p(x|z):
#
#     log p(x) >= ELBO = E_{z~q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z))
#
# The loss is -ELBO: reconstruction (BCE summed over the pixels of the image, evaluated at a
# reparameterised sample z, i.e. a one-sample estimate of the expectation) plus the KL in
# closed form. Only with beta == 1 is it a bound on -log p(x); beta != 1 is a beta-VAE.


__all__ += ["VAELoss", "kl_divergence_normal", "vae_loss"]


class VAELoss(NamedTuple):
    """The parts of :func:`vae_loss`, each a scalar (``reduction="mean"``) or ``(B,)`` (``"none"``).

    ``loss = reconstruction + beta * kl``; unpack with ``loss, rec, kl = vae_loss(...)``.
    """

    loss: torch.Tensor  # the objective to minimise (= -ELBO when beta == 1), nats per image
    reconstruction: torch.Tensor  # -log p(x | z): BCE summed over the pixels of an image
    kl: torch.Tensor  # KL(q(z | x) || N(0, I)), nats per image


def kl_divergence_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample, in closed form.

    ``KL = 1/2 * sum_j (mu_j² + sigma_j² - 1 - log sigma_j²)``, summed over every dimension but
    the first.

    Args:
        mu, logvar: ``(B, D)`` (or ``(B, ...)``) means and log-variances of ``q(z | x)``.

    Returns:
        ``(B,)``, non-negative; 0 exactly when ``mu = 0`` and ``logvar = 0``.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if mu.ndim < 2:
        raise ValueError(f"expected (B, D) tensors (batch first), got shape {tuple(mu.shape)}")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)  # (B, D) -> (B,)


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0, logits: bool = True, reduction: str = "mean") -> VAELoss:
    """Negative ELBO of a VAE with a Bernoulli decoder: ``BCE_sum + beta * KL``, per image.

    ``reconstruction_b = -sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)]`` over the ``C*H*W``
    pixels of image ``b`` (``p = sigmoid(recon)`` when ``logits``), and
    ``kl_b = 1/2 sum_j (mu² + exp(logvar) - 1 - logvar)`` (:func:`kl_divergence_normal`).

    Sum over pixels, then mean over the batch: the reconstruction and KL terms must be on the
    same per-image scale (averaging the BCE over pixels makes the KL ~784 times too strong).

    Args:
        recon: ``(B, C, H, W)`` decoder output for ``z ~ q(z | x)``: **logits** (default) or
            probabilities in [0, 1] with ``logits=False``.
        x: ``(B, C, H, W)`` targets in [0, 1].
        mu, logvar: ``(B, D)`` encoder outputs.
        beta: weight of the KL term. ``beta = 1`` gives -ELBO, an upper bound on
            ``-log p(x)``; any other value is a beta-VAE objective, not a bound.
        reduction: ``"mean"`` (scalars, mean over the batch) or ``"none"`` (``(B,)`` tensors).

    Returns:
        :class:`VAELoss` ``(loss, reconstruction, kl)`` in nats per image.
    """
    if recon.shape != x.shape:
        raise ValueError(f"recon and x must have the same shape, got {tuple(recon.shape)} and {tuple(x.shape)}")
    if mu.shape[0] != x.shape[0]:
        raise ValueError(f"mu has batch size {mu.shape[0]} but x has {x.shape[0]}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if x.numel() and (float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError(f"x: expected targets in [0, 1], got min {float(x.min()):.4g}, max {float(x.max()):.4g}")
    if logits:
        bce = F.binary_cross_entropy_with_logits(recon, x, reduction="none")  # (B, C, H, W)
    else:
        bce = F.binary_cross_entropy(recon, x, reduction="none")  # log clamped at -100 by PyTorch
    reconstruction = bce.flatten(1).sum(dim=1)  # (B, C*H*W) -> (B,): nats per image
    kl = kl_divergence_normal(mu, logvar)  # (B,)
    loss = reconstruction + beta * kl  # (B,)
    if reduction == "mean":
        return VAELoss(loss.mean(), reconstruction.mean(), kl.mean())
    return VAELoss(loss, reconstruction, kl)


# ---------------------------------------------------------------------------------------
# GAN losses (notebook 09)
# ---------------------------------------------------------------------------------------
# Goodfellow et al. (2014): min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],
# with D(x) = sigmoid(logit). Written as binary cross-entropy on logits:
#   BCE(l, y) = -[y log sigmoid(l) + (1 - y) log(1 - sigmoid(l))]   (mean over the batch)
# D maximises V  <=>  D minimises L_D = BCE(D_logit(x), 1) + BCE(D_logit(G(z)), 0) = -V.
# G: the saturating loss is E[log(1 - D(G(z)))] (what the min-max says); the non-saturating
# loss -E[log D(G(z))] = BCE(D_logit(G(z)), 1) has the same fixed point and a strong gradient
# when D confidently rejects the fakes (d/dl: -(1 - D) instead of -D).

__all__ += ["gan_d_loss", "gan_g_loss", "gan_g_loss_saturating"]


def _check_logits(name: str, logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"{name}: expected a float tensor of logits (B,), got "
                         f"{type(logits).__name__ if not isinstance(logits, torch.Tensor) else logits.dtype}")
    if logits.numel() == 0:
        raise ValueError(f"{name}: got an empty tensor")


def gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Discriminator loss ``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]`` from logits.

    Computed as ``BCE_with_logits(real_logits, 1) + BCE_with_logits(fake_logits, 0)``, each a mean
    over its batch (numerically stable: no ``log(sigmoid)`` of saturated values). A perfect D
    (large positive real logits, large negative fake logits) scores about 0; a D that cannot
    tell them apart (``D = 1/2`` everywhere) scores ``2 log 2 ≈ 1.386``.

    Args:
        real_logits: ``(B,)`` discriminator logits for real images (not probabilities).
        fake_logits: ``(B',)`` logits for generated images; compute them on ``fake.detach()``
            so that this loss does not reach the generator.
        real_label: target for real images; 1.0 is the GAN objective, 0.9 is one-sided label
            smoothing (Salimans et al. 2016).
    """
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real_loss + fake_loss


def gan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``L_G = -E[log D(G(z))] = BCE_with_logits(fake_logits, 1)``.

    Args:
        fake_logits: ``(B,)`` discriminator logits for ``G(z)`` (not detached: the gradient must
            reach G).
    """
    _check_logits("fake_logits", fake_logits)
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def gan_g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The min-max generator loss ``E[log(1 - D(G(z)))] = -BCE_with_logits(fake_logits, 0)`` (to minimise).

    Shown for comparison only: when D rejects the fakes (``D(G(z)) → 0``) its gradient with
    respect to the logit is ``-D(G(z)) → 0`` and G stops learning; use :func:`gan_g_loss`.
    """
    _check_logits("fake_logits", fake_logits)
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


# ---------------------------------------------------------------------------------------
# CycleGAN losses (notebook 10)
# ---------------------------------------------------------------------------------------
# Zhu et al. (2017), eq. 2 and section 5.2. Two generators G_AB: A -> B and G_BA: B -> A.
#   cycle:    L_cyc = E_a[|G_BA(G_AB(a)) - a|_1] + E_b[|G_AB(G_BA(b)) - b|_1]
#   identity: L_id  = E_b[|G_AB(b) - b|_1] + E_a[|G_BA(a) - a|_1]
# Each function below is one of the two terms (one direction); the notebook adds both
# directions and weighs them (lambda_cyc = 10, lambda_id = 0.5 * lambda_cyc in the paper).
# The adversarial terms are gan_d_loss / gan_g_loss above: they average over every element
# of their input, so a PatchGAN's logit map (B, 1, H', W') can be passed as it is.

__all__ += ["cycle_consistency_loss", "identity_loss"]


def _check_same_images(name: str, output: torch.Tensor, target: torch.Tensor) -> None:
    if output.shape != target.shape:
        raise ValueError(f"{name}: expected the output to have the target's shape {tuple(target.shape)}, "
                         f"got {tuple(output.shape)}")
    if output.ndim != 4:
        raise ValueError(f"{name}: expected images (B, C, H, W), got shape {tuple(output.shape)}")


def cycle_consistency_loss(reconstructed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Cycle-consistency loss of one direction: ``mean |G_BA(G_AB(a)) - a|`` (L1, Zhu et al. 2017, eq. 2).

    Translating an image to the other domain and back should return the image. Without this
    term, a generator can map every input to *some* convincing image of the other domain
    and forget which input it came from.

    Args:
        reconstructed: ``(B, C, H, W)``, the round trip ``G_BA(G_AB(a))`` (not detached).
        original: ``(B, C, H, W)``, the input ``a``, in the same range (usually [-1, 1]).

    Returns:
        A scalar: the mean absolute error over every pixel, channel and image. The paper's
        ``L_cyc`` is the sum of this loss for both directions; weigh it with ``lambda_cyc``.
    """
    _check_same_images("cycle_consistency_loss", reconstructed, original)
    return (reconstructed - original).abs().mean()


def identity_loss(translated: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Identity loss of one generator: ``mean |G_AB(b) - b|`` (L1, Zhu et al. 2017, section 5.2).

    A generator into domain B, given an image that already belongs to B, should leave it
    alone. The term discourages changes the task does not ask for (in the paper: the tint
    of a painting turned into a photo).

    Args:
        translated: ``(B, C, H, W)``, ``G_AB(b)``: the generator *into* B applied to a B image.
        original: ``(B, C, H, W)``, ``b`` itself, in the same range.

    Returns:
        A scalar: the mean absolute error. Weigh it with ``lambda_id`` (0.5 * ``lambda_cyc`` in the paper).
    """
    _check_same_images("identity_loss", translated, original)
    return (translated - original).abs().mean()


# ---------------------------------------------------------------------------------------
# Style transfer: Gram matrix, content / style / total-variation / perceptual losses
# (Gatys et al. 2016; Johnson et al. 2016)
# ---------------------------------------------------------------------------------------


__all__ += ["gram_matrix", "content_loss", "style_loss", "total_variation_loss", "perceptual_loss"]

def _check_features(name: str, features: torch.Tensor) -> None:
    if not isinstance(features, torch.Tensor) or features.dim() != 4:
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise ValueError(f"{name} expects (B, C, H, W) features, got {shape}")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``G[b, i, j] = sum_p F[b, i, p] F[b, j, p] / (C * H * W)``.

    Args:
        features: ``(B, C, H, W)``.

    Returns:
        ``(B, C, C)``: channel correlations with the spatial layout summed away, which is why
        it measures *style* (texture, colour statistics) and not *where* things are.
    """
    _check_features("gram_matrix", features)
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / (c * h * w)  # (B, C, C)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between two feature maps ``(B, C, H, W)`` (the target is detached)."""
    _check_features("content_loss", features)
    if features.shape != target.shape:
        raise ValueError(f"content_loss: features {tuple(features.shape)} and target {tuple(target.shape)} differ")
    return F.mse_loss(features, target.detach())


def style_loss(features: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor],
               layer_weights: dict[str, float] | None = None) -> torch.Tensor:
    """``sum_l w_l * MSE(gram(F_l), G_l)`` over the layers of ``target_grams``.

    Args:
        features: name -> ``(B, C, H, W)`` of the image being optimised.
        target_grams: name -> ``(B or 1, C, C)`` Gram matrices of the style image (detached);
            a batch of 1 broadcasts over ``B``.
        layer_weights: optional name -> weight (default 1 for every layer).
    """
    if not target_grams:
        raise ValueError("style_loss needs at least one layer in target_grams")
    total = None
    for name, target in target_grams.items():
        if name not in features:
            raise ValueError(f"style_loss: layer {name!r} missing from features (have {list(features)})")
        gram = gram_matrix(features[name])  # (B, C, C)
        if target.dim() != 3 or target.shape[-2:] != gram.shape[-2:]:
            raise ValueError(f"style_loss: target Gram for {name!r} has shape {tuple(target.shape)}, "
                             f"expected (B, {gram.shape[-1]}, {gram.shape[-1]})")
        term = ((gram - target.detach()) ** 2).mean()
        weight = 1.0 if layer_weights is None else float(layer_weights.get(name, 1.0))
        total = weight * term if total is None else total + weight * term
    return total


def total_variation_loss(images: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean ``|x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|``.

    Args:
        images: ``(B, C, H, W)`` with ``H, W >= 2``.

    Returns:
        A scalar, zero for a constant image; it penalises pixel-level noise.
    """
    _check_features("total_variation_loss", images)
    if images.shape[-1] < 2 or images.shape[-2] < 2:
        raise ValueError(f"total_variation_loss needs H, W >= 2, got {tuple(images.shape)}")
    dh = (images[:, :, 1:, :] - images[:, :, :-1, :]).abs().mean()
    dw = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().mean()
    return dh + dw


def perceptual_loss(extractor, output: torch.Tensor, target: torch.Tensor,
                    layers: Sequence[str] | None = None) -> torch.Tensor:
    """Sum over layers of the MSE between extractor features of ``output`` and ``target``.

    Args:
        extractor: a callable returning name -> features, e.g. ``VGGFeatures``.
        output: ``(B, 3, H, W)`` images (gradients flow to them).
        target: ``(B, 3, H, W)`` reference images (no gradient).
        layers: subset of the extractor's layers (default: all of them).
    """
    if output.shape != target.shape:
        raise ValueError(f"perceptual_loss: output {tuple(output.shape)} and target {tuple(target.shape)} differ")
    feats = extractor(output)
    with torch.no_grad():
        ref = extractor(target)
    names = list(feats) if layers is None else list(layers)
    return sum(content_loss(feats[n], ref[n]) for n in names)
