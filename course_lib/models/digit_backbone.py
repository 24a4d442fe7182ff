"""The course's own pretrained backbone, so that transfer learning can be measured offline.

Notebook 04 needs a network pretrained on a *source* task and a *target* task that network
never saw. ImageNet weights need a download, so the course pretrains a small one itself on
bundled data (``scripts/pretrain_backbone.py``):

* **source task**: the digits 0-4 of the bundled MNIST subset (2,000 training images);
* **target task**: the digits 5-9, other classes the backbone never saw in training (the
  source split holds no image of them), with a few labels per class.

The network is :class:`~course_lib.models.cifar_resnet.CifarResNet` with one basic block per
stage (16, 32, 64 channels, projection shortcuts), 77,429 parameters with its 5-class head:
``(B, 1, 28, 28) -> (B, 64)`` features before ``fc``. The shipped file
``data/files/digit_backbone.pt`` (about 320 KB) is checked against its sha256 before
``torch.load(..., weights_only=True)``; a file that does not match is an error, never a silent
retraining.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..integrity import load_verified
from .cifar_resnet import CifarResNet

__all__ = ["BACKBONE_FILE", "SOURCE_DIGITS", "TARGET_DIGITS", "digit_backbone", "load_digit_backbone",
           "pretrain_digit_backbone", "split_digits"]

BACKBONE_FILE = Path(__file__).resolve().parent.parent / "data" / "files" / "digit_backbone.pt"
# Written by scripts/pretrain_backbone.py; the file hash changes with every torch.save (a random
# serialisation id), the weights hash only when the weights change.
BACKBONE_FILE_SHA256 = "3af7370824fa9009fa25211ae24178c59e6bbeb83993d2faff23fddfe0ea5000"
BACKBONE_WEIGHTS_SHA256 = "a0efcb3161f305dd14c4d8393f0b55b13cb127d675e26737bbb11f89a68d163e"
SOURCE_DIGITS = (0, 1, 2, 3, 4)
TARGET_DIGITS = (5, 6, 7, 8, 9)
PRETRAIN_STEPS = 600


def digit_backbone(num_classes: int = len(SOURCE_DIGITS)) -> CifarResNet:
    """A freshly initialised backbone (in train mode): ``(B, 1, H, W)`` -> ``(B, num_classes)`` logits.

    ``model.fc`` is the head; ``model.fc.in_features`` (64) is the feature size.
    """
    return CifarResNet([1, 1, 1], [16, 32, 64], num_classes=num_classes, in_channels=1, shortcut="B")


def split_digits(images: torch.Tensor, labels: torch.Tensor, digits: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of ``digits`` only, relabelled ``0 .. len(digits) - 1`` in the order given.

    ``images (N, ...)``, ``labels (N,)`` -> ``(M, ...)``, ``(M,)``.
    """
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"expected one label per image, got {images.shape[0]} images and {labels.shape[0]} labels")
    digits_t = torch.tensor(digits, dtype=torch.long)
    keep = torch.isin(labels.long(), digits_t)
    new_label = torch.full((10,), -1, dtype=torch.long)
    new_label[digits_t] = torch.arange(len(digits))  # digit -> its index in `digits`
    return images[keep], new_label[labels[keep].long()]


def pretrain_digit_backbone(images: torch.Tensor, labels: torch.Tensor, steps: int = PRETRAIN_STEPS, seed: int = 0,
                            lr: float = 3e-3, batch_size: int = 64) -> CifarResNet:
    """Train :func:`digit_backbone` on ``images (N, 1, 28, 28)`` in [0, 1] with labels ``0..4``.

    AdamW with a one-cycle schedule for a fixed number of ``steps``; each batch is drawn with
    a seeded generator and shifted by up to 2 pixels (a cheap augmentation). Returns the model
    in eval mode. Deterministic for a seed on one thread.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = digit_backbone(num_classes=int(labels.max()) + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    for _ in range(steps):
        index = torch.randint(0, len(images), (batch_size,), generator=generator)
        shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
        batch = torch.roll(images[index], shifts=shift, dims=(2, 3))  # (B, 1, 28, 28)
        loss = F.cross_entropy(model(batch), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model.eval()


def load_digit_backbone(device: torch.device | str = "cpu", path: str | Path | None = None) -> nn.Module:
    """The shipped pretrained backbone (its 5-class source head included), in eval mode.

    Raises ``FileNotFoundError`` when the shipped file is missing and
    :class:`~course_lib.integrity.ChecksumError` (a ``ValueError``) when its sha256 differs from
    :data:`BACKBONE_FILE_SHA256` (the message names both hashes). With ``path``, that file is
    loaded instead (``weights_only=True``, hash not checked).
    """
    path = Path(path) if path is not None else BACKBONE_FILE
    if path == BACKBONE_FILE:
        state = load_verified(path, BACKBONE_FILE_SHA256, "rebuild it with `python scripts/pretrain_backbone.py` "
                              "(and record the printed hashes in course_lib/models/digit_backbone.py)")
    else:  # a file of the caller's: loaded safely, its hash is not checked
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = digit_backbone()
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
