import random

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.utils import count_parameters, get_device, runs_dir, seed_everything


def _fake(monkeypatch, cuda, mps):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _fake(monkeypatch, cuda, mps)
    assert get_device() == torch.device(expected)


def test_course_device_overrides_the_choice(monkeypatch):
    _fake(monkeypatch, cuda=True, mps=False)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda", 1)


def test_course_device_refuses_a_missing_or_unknown_device(monkeypatch):
    _fake(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no cuda device"):
        get_device()
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="must be one of cuda, mps, cpu.*'tpu'"):
        get_device()


def test_seed_everything_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(3)

    seed_everything(123)
    a = draw()
    seed_everything(123)
    b = draw()
    seed_everything(124)
    c = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and not torch.equal(a[2], c[2])


def test_seed_everything_rejects_bad_seed():
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_count_parameters_counts_weights_and_biases():
    model = nn.Sequential(nn.Linear(10, 5), nn.Linear(5, 2))  # 55 + 12
    assert count_parameters(model) == 67
    model[0].weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 17
    assert count_parameters(model) == 67


def test_runs_dir_honours_override(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "elsewhere"))
    path = runs_dir("results")
    assert path == tmp_path / "elsewhere" / "results" and path.is_dir()
