"""Tests of course_lib.models.judge: the shipped MNIST judge, its integrity checks and its behaviour."""

from __future__ import annotations

import shutil

import pytest
import torch

import course_lib.models.judge as judge_module
from course_lib.data import load_mnist
from course_lib.integrity import ChecksumError
from course_lib.metrics import evaluate_with_judge
from course_lib.models.judge import (JUDGE_FILE, JUDGE_FILE_SHA256, JUDGE_WEIGHTS_SHA256, MNISTJudge, file_sha256,
                                     load_judge, non_digit_images, weights_sha256)


@pytest.fixture(scope="module")
def judge():
    return load_judge()


@pytest.fixture(scope="module")
def test_split():
    return load_mnist(train=False, budget="standard").tensors()


def test_shipped_file_is_small_and_matches_its_recorded_hashes():
    assert JUDGE_FILE.is_file()
    assert JUDGE_FILE.stat().st_size < 500 * 1024
    assert file_sha256(JUDGE_FILE) == JUDGE_FILE_SHA256
    state = torch.load(JUDGE_FILE, map_location="cpu", weights_only=True)
    assert weights_sha256(state) == JUDGE_WEIGHTS_SHA256


def test_loaded_judge_is_frozen_and_in_eval_mode(judge):
    assert not judge.training
    assert all(not p.requires_grad for p in judge.parameters())


def test_judge_accuracy_on_the_bundled_test_split(judge, test_split):
    images, labels = test_split
    with torch.no_grad():
        accuracy = (judge(images).argmax(dim=1) == labels).float().mean().item()
    assert accuracy >= 0.98  # measured 0.991 (scripts/train_judge.py)


def test_real_digits_are_judged_confidently_and_noise_is_not(judge, test_split):
    images, _ = test_split
    real = evaluate_with_judge(images, judge)
    assert real.judged_share >= 0.95 and real.classes_present == 10
    g = torch.Generator().manual_seed(0)
    noise = evaluate_with_judge(torch.rand(500, 1, 28, 28, generator=g), judge)
    blank = evaluate_with_judge(torch.zeros(50, 1, 28, 28), judge)
    assert noise.judged_share < 0.02 and blank.judged_share < 0.02


def test_features_and_logits_shapes(judge, test_split):
    images, _ = test_split
    features = judge.features(images[:7])
    assert features.shape == (7, MNISTJudge.feature_dim) == (7, 64)
    assert (features >= 0).all()  # after a ReLU
    assert judge(images[:7]).shape == (7, 10)


def test_judge_rejects_generator_range_and_wrong_shapes(judge):
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        judge(torch.rand(2, 1, 28, 28) * 2 - 1)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        judge(torch.rand(2, 3, 28, 28))


def test_weights_hash_sees_every_value():
    model = MNISTJudge()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = weights_sha256(state)
    assert weights_sha256(state) == before
    state["head.1.bias"][3] += 1e-6
    assert weights_sha256(state) != before


def test_non_digit_images_and_their_targets():
    digits, labels = load_mnist(train=True, budget="standard").tensors()
    images, targets = non_digit_images(30, digits[:64], labels[:64], torch.Generator().manual_seed(0))
    assert images.shape == (30, 1, 28, 28) and targets.shape == (30, 10)
    assert images.min() >= 0 and images.max() <= 1
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(30))
    assert (targets[0::3] == 0.1).all()  # noise: uniform target


def _tampered_copy(tmp_path):
    """A copy of the shipped judge with one byte flipped (the shipped file is never touched)."""
    copy = tmp_path / "mnist_judge.pt"
    shutil.copy(JUDGE_FILE, copy)
    with open(copy, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_tampered_or_missing_file_is_refused(tmp_path, monkeypatch):
    copy = _tampered_copy(tmp_path)
    monkeypatch.setattr(judge_module, "JUDGE_FILE", copy)
    with pytest.raises(ChecksumError) as err:
        load_judge()
    message = str(err.value)
    assert isinstance(err.value, ValueError) and str(copy) in message
    assert f"expected {JUDGE_FILE_SHA256}" in message and f"received {file_sha256(copy)}" in message
    assert "scripts/train_judge.py" in message
    monkeypatch.setattr(judge_module, "JUDGE_FILE", tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt is missing; rebuild it with `python scripts/train_judge.py`"):
        load_judge()


def test_a_tampered_file_is_never_replaced_by_a_retrained_judge(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(judge_module, "JUDGE_FILE", _tampered_copy(tmp_path))
    monkeypatch.setattr(judge_module, "train_judge", lambda **kwargs: calls.append(kwargs))
    with pytest.raises(ChecksumError, match="expected"):
        load_judge(train_if_missing=True)
    assert calls == []


def test_missing_file_trains_once_only_when_asked(tmp_path, monkeypatch, capsys):
    calls = []

    def quick_train(**kwargs):  # stands in for the minute-long recipe
        calls.append(kwargs)
        return MNISTJudge().eval(), 0.5

    monkeypatch.setattr(judge_module, "JUDGE_FILE", tmp_path / "missing.pt")
    monkeypatch.setattr(judge_module, "train_judge", quick_train)
    with pytest.raises(FileNotFoundError):
        load_judge()  # the default never trains
    assert calls == []
    first = load_judge(train_if_missing=True)
    out = capsys.readouterr().out
    assert "missing" in out and "training the judge" in out
    second = load_judge(train_if_missing=True)  # cached in runs/checkpoints (a temporary directory in the tests)
    assert len(calls) == 1 and "locally trained judge" in capsys.readouterr().out
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
