"""The course's pretrained digit backbone (notebook 04): integrity, source/target split, recipe."""

import shutil

import pytest
import torch

from course_lib.data import load_mnist
from course_lib.models import digit_backbone as db


def test_shipped_file_is_small_verified_and_loads_with_weights_only():
    assert db.BACKBONE_FILE.stat().st_size < 2 * 1024 * 1024
    model = db.load_digit_backbone()
    assert not model.training
    from course_lib.integrity import weights_sha256
    assert weights_sha256(model.state_dict()) == db.BACKBONE_WEIGHTS_SHA256
    logits = model(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, len(db.SOURCE_DIGITS))
    assert model.fc.in_features == 64


def test_shipped_backbone_knows_the_source_digits():
    images, labels = db.split_digits(*load_mnist(train=False, budget="standard").tensors(), db.SOURCE_DIGITS)
    with torch.no_grad():
        accuracy = (db.load_digit_backbone()(images).argmax(dim=1) == labels).float().mean()
    assert accuracy > 0.98  # 0.996 when it was written


def test_a_tampered_file_is_refused_naming_both_hashes(tmp_path, monkeypatch):
    copy = tmp_path / "digit_backbone.pt"
    shutil.copy(db.BACKBONE_FILE, copy)
    with open(copy, "ab") as f:
        f.write(b"\0")
    monkeypatch.setattr(db, "BACKBONE_FILE", copy)
    with pytest.raises(ValueError, match=f"expected {db.BACKBONE_FILE_SHA256}, received [0-9a-f]{{64}}; "
                                         "rebuild it with `python scripts/pretrain_backbone.py`"):
        db.load_digit_backbone()


def test_a_missing_file_says_how_to_rebuild_it(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "BACKBONE_FILE", tmp_path / "absent.pt")
    with pytest.raises(FileNotFoundError, match="absent.pt is missing; rebuild it with `python scripts/pretrain_backbone.py`"):
        db.load_digit_backbone()


def test_split_digits_keeps_only_the_asked_classes_and_relabels_them():
    images = torch.arange(10.0).view(10, 1, 1, 1)
    labels = torch.tensor([5, 0, 9, 4, 7, 5, 1, 8, 6, 2])
    x, y = db.split_digits(images, labels, db.TARGET_DIGITS)
    assert x.flatten().tolist() == [0, 2, 4, 5, 7, 8]
    assert y.tolist() == [0, 4, 2, 0, 3, 1]
    with pytest.raises(ValueError, match="10 images and 9 labels"):
        db.split_digits(images, labels[:9], db.SOURCE_DIGITS)


def test_source_and_target_digits_are_disjoint_and_cover_all_ten():
    assert set(db.SOURCE_DIGITS).isdisjoint(db.TARGET_DIGITS)
    assert set(db.SOURCE_DIGITS) | set(db.TARGET_DIGITS) == set(range(10))


def test_pretraining_recipe_is_deterministic_and_lowers_the_loss():
    images, labels = db.split_digits(*load_mnist(train=True, budget="standard").tensors(), db.SOURCE_DIGITS)
    images, labels = images[:256], labels[:256]
    a = db.pretrain_digit_backbone(images, labels, steps=100, seed=3)
    b = db.pretrain_digit_backbone(images, labels, steps=100, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    torch.manual_seed(3)
    untrained = db.digit_backbone().eval()
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(untrained(images), labels)
        after = torch.nn.functional.cross_entropy(a(images), labels)
    assert after < 0.5 * before
