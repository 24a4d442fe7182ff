"""Where downloads land, where they come from, and the checksums they must match.

The full data sets (MNIST, Fashion-MNIST, CIFAR-10) and torchvision's pretrained weights are
the only files the course downloads; ``data/README.md`` lists them. Three settings:

* **where they land**, :func:`data_dir`: ``$COURSE_DATA_DIR`` when set, else ``data/`` at the
  root of a clone of the course, else (the package installed without a clone)
  ``$XDG_CACHE_HOME/course_lib`` or ``~/.cache/course_lib``;
* **where they come from**: the hosts torchvision names (``MNIST.mirrors``, ``CIFAR10.url``,
  ``ResNet18_Weights.DEFAULT.url``), or, when ``$COURSE_DATA_MIRROR`` is set, that mirror only:
  a base URL or a local folder holding ``<torchvision class name>/<file name>`` for the data
  sets (``MNIST/train-images-idx3-ubyte.gz``, ``CIFAR10/cifar-10-python.tar.gz``) and
  ``weights/<file name>`` for the weights (``weights/resnet18-f37072fd.pth``);
* **what they must match**: the md5 that torchvision records for each data set file, and the
  sha256 prefix in each weights file's name, checked by :func:`course_lib.integrity.verify_file`
  whatever the source. A mismatch deletes the copy and raises ``ChecksumError`` naming the file,
  the expected and the received hash; a network failure (offline) raises ``OSError``, which the
  loaders turn into one line and the bundled data.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from ..integrity import ChecksumError, verify_file
from ..utils import project_root

__all__ = ["DATA_DIR_ENV", "MIRROR_ENV", "data_dir", "download_dataset", "fetch", "mirror"]

DATA_DIR_ENV = "COURSE_DATA_DIR"
MIRROR_ENV = "COURSE_DATA_MIRROR"


def data_dir() -> Path:
    """The folder downloads go to (not created here): see the module's docstring."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    root = project_root()
    if root is not None:
        return root / "data"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "course_lib"


def mirror() -> str | None:
    """``$COURSE_DATA_MIRROR`` without a trailing slash (a base URL or a local folder), or ``None``."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value.rstrip("/") or None


def _retrieve(base: str, name: str, dest: Path) -> None:
    """Copy ``<base>/<name>`` to ``dest``: ``base`` is a URL (``scheme://...``) or a local folder."""
    if "://" not in base:
        shutil.copyfile(Path(base).expanduser() / name, dest)  # FileNotFoundError is an OSError
        return
    with urllib.request.urlopen(f"{base}/{name}", timeout=60) as response:  # raises before dest exists
        with open(dest, "wb") as f:
            shutil.copyfileobj(response, f, length=1 << 20)


def fetch(bases: list[str], dest: Path, expected: str, algorithm: str = "sha256") -> Path:
    """Make ``dest`` a verified copy of the file ``dest.name`` from the first of ``bases`` that has it.

    A copy already at ``dest`` with the right hash is kept. A fresh copy whose hash differs is
    deleted and raises ``ChecksumError`` (naming the file, the source, both hashes); when no
    source answers, the last ``OSError`` is raised (offline: ``URLError`` within about 0.1 s).
    """
    if dest.is_file():
        try:
            return verify_file(dest, expected, "fetching it again", algorithm)
        except ChecksumError:
            dest.unlink()  # an interrupted or stale copy: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    error: OSError = FileNotFoundError(f"no source given for {dest.name}")
    for base in bases:
        try:
            _retrieve(base, dest.name, dest)
        except OSError as err:
            error = err
            continue
        try:
            return verify_file(dest, expected, f"the copy from {base} was deleted; check that source "
                               f"(${MIRROR_ENV} = {mirror()!r})", algorithm)
        except ChecksumError:
            dest.unlink()
            raise
    raise error


def download_dataset(builder, train: bool):
    """A ``torchvision.datasets`` MNIST-style or CIFAR-style data set stored under :func:`data_dir`.

    Uses the copy there when it is complete; otherwise fetches the archives torchvision lists
    (from ``$COURSE_DATA_MIRROR`` when set, else torchvision's hosts), checks their md5, and lets
    torchvision extract them (it finds them verified and downloads nothing itself).

    Args:
        builder: ``torchvision.datasets.MNIST``, ``FashionMNIST`` or ``CIFAR10`` (or a subclass).
        train: the training split (else the test split).

    Raises:
        OSError: no source answered (e.g. offline).
        ChecksumError: a fetched file does not match torchvision's md5.
    """
    root = data_dir()
    try:
        return builder(root=str(root), train=train, download=False)
    except RuntimeError:  # torchvision: "Dataset not found ..."
        pass
    if hasattr(builder, "resources"):  # the MNIST family: files under <root>/<class name>/raw
        files, bases, folder = builder.resources, list(builder.mirrors), root / builder.__name__ / "raw"
    else:  # the CIFAR family: one archive in <root>
        files, bases, folder = [(builder.filename, builder.tgz_md5)], [builder.url.rsplit("/", 1)[0]], root
    if mirror() is not None:
        bases = [f"{mirror()}/{builder.__name__}"]
    for name, md5 in files:
        fetch([base.rstrip("/") for base in bases], folder / name, md5, algorithm="md5")
    return builder(root=str(root), train=train, download=True)  # extracts the verified archives
