import random

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.utils import count_parameters, get_device, runs_dir, seed_everything


def test_get_device_is_cpu_here_or_an_available_accelerator():
    device = get_device()
    assert isinstance(device, torch.device)
    if not torch.cuda.is_available():
        assert device.type in ("cpu", "mps")
    else:
        assert device.type == "cuda"


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
