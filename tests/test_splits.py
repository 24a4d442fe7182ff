"""course_lib.data.train_val_split: stratified, disjoint, complete, deterministic, clear errors."""

import pytest
import torch

from course_lib.data import load_mnist, train_val_split


def test_split_is_stratified_disjoint_complete_and_deterministic():
    _, labels = load_mnist(train=True, budget="standard").tensors()  # 400 per digit
    train, val = train_val_split(labels, val_fraction=0.1, seed=0)
    assert len(train) == 3600 and len(val) == 400
    assert torch.bincount(labels[val], minlength=10).tolist() == [40] * 10
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(len(labels)))
    again_train, again_val = train_val_split(labels, val_fraction=0.1, seed=0)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    _, other_val = train_val_split(labels, val_fraction=0.1, seed=1)
    assert not torch.equal(val, other_val)


def test_every_class_keeps_training_examples():
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    train, val = train_val_split(labels, val_fraction=0.9)
    assert set(labels[train].tolist()) == {0, 1, 2} and set(labels[val].tolist()) == {0, 1, 2}


@pytest.mark.parametrize("labels, fraction, message", [
    (torch.zeros(2, 3, dtype=torch.long), 0.1, r"1-D tensor of labels, got shape \(2, 3\)"),
    (torch.tensor([0, 0, 1]), 0.1, "class 1 has 1 example"),
    (torch.tensor([0, 0, 1, 1]), 1.0, r"val_fraction must be in \(0, 1\), got 1.0"),
])
def test_bad_input_is_refused_with_what_was_expected(labels, fraction, message):
    with pytest.raises(ValueError, match=message):
        train_val_split(labels, val_fraction=fraction)
