"""The MNIST "judge": a small classifier that evaluates generated digits (notebooks 08, 09, 15).

A generator of digits is good when its samples (1) look like *some* digit, (2) cover all ten
digits, and (3) are distributed like real digits. A classifier trained on real MNIST measures
all three: the share of samples it classifies with confidence >= 0.9, the histogram of the
classes it assigns, and the Fréchet distance between its penultimate features of generated
and real images (the idea of the FID of Heusel et al. 2017, with this judge in place of
Inception-v3). See :mod:`course_lib.metrics.generative`.

Architecture (about 94k parameters, 0.4 MB; about 6 M multiply-adds per image)::

    (B, 1, 28, 28) in [0, 1] -> standardise with the training pixels' mean and std
    conv5x5 32 BN ReLU, maxpool 2     -> (B, 32, 14, 14)
    conv3x3 64 BN ReLU, maxpool 2     -> (B, 64, 7, 7)
    conv3x3 64 BN ReLU, maxpool 2     -> (B, 64, 3, 3)
    flatten, Linear 576 -> 64, ReLU   -> features(x): (B, 64)
    Dropout 0.3, Linear 64 -> 10      -> forward(x): (B, 10) logits

The weights ship as ``course_lib/data/files/mnist_judge.pt``, trained by
``scripts/train_judge.py`` (seeded, deterministic, single-threaded) with :func:`train_judge`:
30 epochs on the bundled 4,000 training digits with light affine augmentation, AdamW and a
one-cycle schedule, cross-entropy without label smoothing on the digits (some with added noise) (so that a confidence
of 0.9 means what it says), plus non-digit images (noise, blobs, two overlaid digits) with
soft targets, so that those are *not* judged confidently (a classifier trained on digits
alone calls uniform noise an "8" with confidence 1.0).

:func:`load_judge` checks the file's sha256 against :data:`JUDGE_FILE_SHA256` before
``torch.load(..., weights_only=True)`` (through :mod:`course_lib.integrity`). A file whose hash
differs is an error, never replaced silently: every notebook must be scored by the same judge.
A *missing* file (e.g. a broken install) is an error too, unless the caller asks for
``load_judge(train_if_missing=True)``, which trains a judge with the same recipe (a few minutes
on a laptop CPU), says so in one line and caches it in ``runs/checkpoints/mnist_judge_local.pt``.

``torch.save`` files are not byte-reproducible (each one carries a random serialization id),
so two hashes are recorded: the file's (integrity of the shipped file) and the weights'
(:func:`~course_lib.integrity.weights_sha256`, a hash of the tensors themselves, which a re-run
of the script on the same machine and library versions reproduces).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..integrity import file_sha256, load_verified, weights_sha256  # re-exported: older code imports them from here

__all__ = ["JUDGE_FILE", "JUDGE_FILE_SHA256", "JUDGE_WEIGHTS_SHA256", "MNISTJudge", "file_sha256",
           "load_judge", "non_digit_images", "train_judge", "weights_sha256"]

JUDGE_FILE = Path(__file__).resolve().parent.parent / "data" / "files" / "mnist_judge.pt"
#: sha256 of the shipped file (printed by scripts/train_judge.py when it wrote the file).
JUDGE_FILE_SHA256 = "607916d4bf804591cc28fd576dd3bde1e597fd757a84cdbd8cdb75f4760e0b2d"
#: sha256 of the weights' contents (see weights_sha256), reproducible by re-running the script.
JUDGE_WEIGHTS_SHA256 = "4182209ea6f07b2f301fe5a9d59eaf6eb7cf69ea89a9611c12a0b2d6dec6e990"

# Mean and standard deviation of the pixels of the 4,000 bundled training digits (0.1315, 0.3088).
MNIST_MEAN, MNIST_STD = 0.1315, 0.3088


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class MNISTJudge(nn.Module):
    """Digit classifier ``(B, 1, 28, 28)`` images in **[0, 1]** -> ``(B, 10)`` logits; ``features`` -> ``(B, 64)``.

    Standardisation is part of the model (buffers ``mean``, ``std``), so it takes images as
    they come from :func:`course_lib.data.load_mnist`. Generator outputs in ``[-1, 1]`` must
    be mapped with ``(x + 1) / 2`` first: inputs outside ``[0, 1]`` raise a ``ValueError``.
    """

    feature_dim = 64

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MNIST_MEAN))
        self.register_buffer("std", torch.tensor(MNIST_STD))
        self.body = nn.Sequential(
            *_conv_bn_relu(1, 32, kernel_size=5), nn.MaxPool2d(2),  # (B, 32, 14, 14)
            *_conv_bn_relu(32, 64), nn.MaxPool2d(2),  # (B, 64, 7, 7)
            *_conv_bn_relu(64, 64), nn.MaxPool2d(2),  # (B, 64, 3, 3)
            nn.Flatten(1),  # (B, 576)
            nn.Linear(64 * 3 * 3, self.feature_dim),
            nn.ReLU(inplace=True),  # (B, 64): the features
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.feature_dim, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``(B, 64)`` (non-negative), for Fréchet distances."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected (B, 1, 28, 28) images, got {tuple(x.shape)}")
        if x.numel():
            low, high = float(x.min()), float(x.max())
            if low < -1e-3 or high > 1 + 1e-3:
                raise ValueError(f"expected images in [0, 1], got values in [{low:.3f}, {high:.3f}]; "
                                 "map generator outputs in [-1, 1] with (x + 1) / 2")
        return self.body((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10) logits


# =============================================================================================
# Training (the recipe of scripts/train_judge.py) and loading
# =============================================================================================
def non_digit_images(n: int, digits: torch.Tensor, labels: torch.Tensor,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images that are not one digit, with the soft targets a judge should give them.

    Three kinds in equal parts: uniform noise (brightness 0.3 to 1), smooth random blobs, and two
    digits of different classes overlaid (pixel-wise maximum). Targets: the uniform distribution
    for noise and blobs, half-half for an overlay of digits ``a`` and ``b``.

    Args:
        n: number of images to make.
        digits: ``(B, 1, 28, 28)`` real digits in [0, 1] to overlay; labels ``(B,)``.

    Returns:
        images ``(n, 1, 28, 28)`` in [0, 1] and soft targets ``(n, 10)`` (rows sum to 1).
    """
    kinds = torch.arange(n) % 3  # 0 noise, 1 blobs, 2 overlays
    images = torch.empty(n, 1, 28, 28)
    targets = torch.full((n, 10), 0.1)
    brightness = 0.3 + 0.7 * torch.rand(n, 1, 1, 1, generator=generator)  # faint noise would look like a dark background
    images[kinds == 0] = (torch.rand(n, 1, 28, 28, generator=generator) * brightness)[kinds == 0]
    coarse = torch.rand(n, 1, 7, 7, generator=generator)  # (n, 1, 7, 7) -> smooth (n, 1, 28, 28)
    blobs = torch.sigmoid(8 * (F.interpolate(coarse, size=28, mode="bilinear", align_corners=False) - 0.6))
    images[kinds == 1] = blobs[kinds == 1]
    overlay_rows = (kinds == 2).nonzero().flatten()
    first = torch.randint(len(digits), (len(overlay_rows),), generator=generator)
    shift = torch.randint(1, len(digits), (len(overlay_rows),), generator=generator)
    second = (first + shift) % len(digits)
    images[overlay_rows] = torch.maximum(digits[first], digits[second])
    soft = 0.5 * F.one_hot(labels[first], 10) + 0.5 * F.one_hot(labels[second], 10)  # (k, 10); 1.0 if same class
    targets[overlay_rows] = soft.float()
    return images, targets


def _add_noise(images: torch.Tensor, generator: torch.Generator, share: float = 0.3, max_sigma: float = 0.2) -> torch.Tensor:
    """Add Gaussian noise of a random sigma in [0, max_sigma] to a random ``share`` of the images (clamped to [0, 1])."""
    b = len(images)
    sigma = max_sigma * torch.rand(b, 1, 1, 1, generator=generator) * (torch.rand(b, 1, 1, 1, generator=generator) < share)
    return (images + sigma * torch.randn(images.shape, generator=generator)).clamp(0, 1)


def train_judge(epochs: int = 30, seed: int = 0, batch_size: int = 64, lr: float = 3e-3,
                device: torch.device | str = "cpu", progress: bool = True) -> tuple[MNISTJudge, float]:
    """Train a judge on the bundled 4,000 training digits; return it (eval mode) and its test accuracy.

    Each batch of ``batch_size`` augmented digits (random affine; Gaussian noise of sigma up to
    0.2 on 30% of them; cross-entropy with the true label) comes
    with ``batch_size // 4`` images from :func:`non_digit_images` (cross-entropy with their soft
    targets), so that noise, blobs and overlaid digits get low confidence ("outlier exposure",
    Hendrycks et al. 2019): the share of samples judged with confidence >= 0.9 then measures
    recognisable digits, not any input that happens to excite one class.

    Seeded; repeatable on the same machine, thread count and library versions (the script
    also enables ``torch.use_deterministic_algorithms``).
    """
    from torch.utils.data import DataLoader
    from torchvision.transforms import v2
    from tqdm.auto import tqdm

    from ..data import load_mnist
    from ..train import evaluate
    from ..utils import seed_everything

    seed_everything(seed)
    augment = v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
    train_set = load_mnist(train=True, transform=augment, budget="standard")
    test_set = load_mnist(train=False, budget="standard")
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=500)
    outlier_rng = torch.Generator().manual_seed(seed + 1)
    model = MNISTJudge().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(train_loader))
    model.train()
    for _ in tqdm(range(epochs), desc="judge", disable=not progress):
        for images, labels in train_loader:
            others, soft_targets = non_digit_images(max(3, len(images) // 4), images, labels, outlier_rng)
            images = _add_noise(images, outlier_rng)  # a noisy digit is still a digit
            inputs = torch.cat([images, others]).to(device)  # (B + B/4, 1, 28, 28)
            targets = torch.cat([F.one_hot(labels, 10).float(), soft_targets]).to(device)  # (B + B/4, 10)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(inputs), targets)  # soft targets: -sum_k t_k log p_k, mean over rows
            loss.backward()
            optimizer.step()
            scheduler.step()
    accuracy = evaluate(model, test_loader, device=device)["accuracy"]
    return model.eval(), accuracy


#: The end of every error message about the shipped judge.
REBUILD_JUDGE = ("rebuild it with `python scripts/train_judge.py` (and record the printed hashes in "
                 "course_lib/models/judge.py)")


def load_judge(device: torch.device | str = "cpu", path: str | Path | None = None,
               train_if_missing: bool = False) -> MNISTJudge:
    """The shipped MNIST judge in eval mode, with ``requires_grad=False`` on every parameter.

    Args:
        device: where to put it.
        path: a weights file to use instead of the shipped one (loaded with ``weights_only=True``,
            its hash is not checked).
        train_if_missing: when the shipped file is missing (a broken install), train a judge with
            the script's recipe, saying so in one line, and cache it in
            ``runs/checkpoints/mnist_judge_local.pt``. Off by default.

    Raises:
        FileNotFoundError: the shipped file is missing (and ``train_if_missing`` is off).
        course_lib.integrity.ChecksumError: its sha256 differs from :data:`JUDGE_FILE_SHA256`,
            whatever ``train_if_missing`` says (a ``ValueError``).
    """
    if path is not None:
        state = torch.load(path, map_location="cpu", weights_only=True)
    elif not JUDGE_FILE.is_file() and train_if_missing:
        state = torch.load(_local_judge(f"{JUDGE_FILE} is missing", device), map_location="cpu", weights_only=True)
    else:
        state = load_verified(JUDGE_FILE, JUDGE_FILE_SHA256, REBUILD_JUDGE)
    model = MNISTJudge()
    model.load_state_dict(state)
    model.requires_grad_(False)
    return model.to(device).eval()


def _local_judge(problem: str, device: torch.device | str) -> Path:
    """Path of a locally trained judge, training (and caching) one first when needed."""
    from ..train import checkpoint_path, save_checkpoint

    local = checkpoint_path("mnist_judge_local")
    if local.is_file():
        print(f"[course_lib] {problem}; using the locally trained judge {local}")
        return local
    print(f"[course_lib] {problem}; training the judge now with the recipe of scripts/train_judge.py "
          "(a few minutes on a CPU)")
    model, accuracy = train_judge(device=device, progress=False)
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    save_checkpoint(local, **state)
    print(f"[course_lib] judge trained: test accuracy {accuracy:.4f}; saved to {local}")
    return local
