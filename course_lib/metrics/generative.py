"""Evaluating generators: Fréchet distance between feature Gaussians, and a classifier "judge".

Notation (Heusel et al. 2017, eq. 6; Dowson and Landau 1982): fit a Gaussian
``N(mu_1, Sigma_1)`` to the features of one set of images and ``N(mu_2, Sigma_2)`` to another;
their squared Fréchet (2-Wasserstein) distance is

    d² = |mu_1 - mu_2|² + tr(Sigma_1 + Sigma_2 - 2 (Sigma_1^{1/2} Sigma_2 Sigma_1^{1/2})^{1/2})

(the last term is often written ``2 tr((Sigma_1 Sigma_2)^{1/2})``: the two matrices are similar,
so their square roots have the same trace). With Inception-v3 features this is the FID; the
course uses the penultimate features of its MNIST judge (:mod:`course_lib.models.judge`).

The estimate is biased upwards for small samples: compare only distances computed with the
same number of images, and report the distance between two sets of *real* images of that
size as the floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["JudgeReport", "evaluate_with_judge", "feature_statistics", "frechet_distance"]


def _as_float64(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double()
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a tensor or array of numbers, got {type(value).__name__}") from err


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues clipped to 0)."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T  # V diag(sqrt(l)) V^T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (the quantity FID reports).

    Args:
        mu1, mu2: means, shape ``(D,)`` (tensors or arrays).
        sigma1, sigma2: covariance matrices, shape ``(D, D)``, symmetric positive semi-definite.

    Returns:
        ``|mu1 - mu2|² + tr(sigma1) + tr(sigma2) - 2 tr((sqrt(sigma1) sigma2 sqrt(sigma1))^{1/2})``
        as a Python float >= 0, computed in float64 from two symmetric eigen-decompositions
        (no complex square roots; exact 0 for identical inputs up to rounding).
    """
    mu1, mu2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    sigma1, sigma2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"expected means of one shape (D,), got {tuple(mu1.shape)} and {tuple(mu2.shape)}")
    d = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (d, d):
            raise ValueError(f"{name}: expected a ({d}, {d}) covariance for means of size {d}, got {tuple(sigma.shape)}")
        if not torch.isfinite(sigma).all():
            raise ValueError(f"{name} contains NaN or inf")
    sigma1 = (sigma1 + sigma1.T) / 2  # symmetrise away rounding errors
    sigma2 = (sigma2 + sigma2.T) / 2
    root1 = _psd_sqrt(sigma1)  # sigma1^{1/2}
    middle = root1 @ sigma2 @ root1  # symmetric PSD, similar to sigma1 @ sigma2
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)


def feature_statistics(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (float64) of features ``(N, D)``, N >= 2."""
    features = _as_float64(features, "features")
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"expected features of shape (N, D) with N >= 2, got {tuple(features.shape)}")
    mu = features.mean(dim=0)  # (D,)
    centred = features - mu  # (N, D)
    sigma = centred.T @ centred / (features.shape[0] - 1)  # (D, D), like numpy.cov(features, rowvar=False)
    return mu, sigma


# =============================================================================================
# Judge-based evaluation of generated digits
# =============================================================================================
@dataclass
class JudgeReport:
    """What the judge says about a set of generated images (see :func:`evaluate_with_judge`)."""

    num_samples: int
    threshold: float
    judged_share: float  # share of samples whose top class probability is >= threshold
    class_counts: list[int]  # samples per predicted class (argmax), all samples
    confident_class_counts: list[int]  # samples per class among the confident ones
    mean_confidence: float
    frechet_distance: float | None = None  # to the reference features, when given
    predictions: torch.Tensor = field(default=None, repr=False)  # (N,) argmax classes
    confidences: torch.Tensor = field(default=None, repr=False)  # (N,) top probabilities

    @property
    def classes_present(self) -> int:
        """Number of classes that at least one *confident* sample was assigned to."""
        return sum(1 for c in self.confident_class_counts if c > 0)

    def __str__(self) -> str:
        text = (f"{self.num_samples} samples: {self.judged_share:.1%} judged with confidence >= {self.threshold:g}, "
                f"{self.classes_present}/{len(self.class_counts)} classes present, "
                f"mean confidence {self.mean_confidence:.3f}")
        if self.frechet_distance is not None:
            text += f", Fréchet distance {self.frechet_distance:.3f}"
        return text + f"\n  class histogram (confident samples): {self.confident_class_counts}"


@torch.no_grad()
def _judge_outputs(judge: torch.nn.Module, images: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities ``(N, K)`` and features ``(N, D)`` of ``images`` in batches, on the judge's device."""
    tensors = [*judge.parameters(), *judge.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    probs, feats = [], []
    was_training = judge.training
    judge.eval()
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        feats.append(judge.features(batch).cpu())  # (b, D)
        probs.append(judge(batch).softmax(dim=1).cpu())  # (b, K)
    judge.train(was_training)
    return torch.cat(probs), torch.cat(feats)


def evaluate_with_judge(images: torch.Tensor, judge: torch.nn.Module, reference=None, threshold: float = 0.9,
                        batch_size: int = 500) -> JudgeReport:
    """Judge generated images: confident share, class histogram and (optionally) Fréchet distance.

    Args:
        images: ``(N, 1, 28, 28)`` generated images **in [0, 1]** (map a Tanh generator's
            output with ``(x + 1) / 2``; the judge raises on values outside [0, 1]).
        judge: a classifier with ``features(x) -> (N, D)`` and ``forward(x) -> (N, K)`` logits,
            e.g. :func:`course_lib.models.judge.load_judge`.
        reference: real images ``(M, 1, 28, 28)`` in [0, 1], or their ``(mu, sigma)`` from
            :func:`feature_statistics` on judge features; ``None`` skips the Fréchet distance.
            Use the same number of images as ``images`` (the estimate depends on N).
        threshold: a sample counts as recognisable when its top probability is >= this.

    Returns:
        A :class:`JudgeReport`; ``report.classes_present`` counts classes with at least one
        confident sample (mode coverage: 10 for a generator that draws every digit).
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty (N, C, H, W) tensor of images, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    probs, feats = _judge_outputs(judge, images, batch_size)
    confidences, predictions = probs.max(dim=1)  # (N,), (N,)
    confident = confidences >= threshold
    num_classes = probs.shape[1]
    distance = None
    if reference is not None:
        if isinstance(reference, torch.Tensor):
            reference = feature_statistics(_judge_outputs(judge, reference, batch_size)[1])
        mu_ref, sigma_ref = reference
        distance = frechet_distance(*feature_statistics(feats), mu_ref, sigma_ref)
    return JudgeReport(
        num_samples=len(images), threshold=threshold, judged_share=float(confident.float().mean()),
        class_counts=torch.bincount(predictions, minlength=num_classes).tolist(),
        confident_class_counts=torch.bincount(predictions[confident], minlength=num_classes).tolist(),
        mean_confidence=float(confidences.mean()), frechet_distance=distance,
        predictions=predictions, confidences=confidences,
    )
