"""Tests of course_lib.schedules: warm-up + cosine learning rate, stepped once per batch."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from torch import nn

from course_lib import schedules
from course_lib.schedules import lr_trace, warmup_cosine, warmup_cosine_factor
from course_lib.train import fit

BASE_LR = 0.1


def _trace(warmup, total, ratio=0.0, steps=None, lr=BASE_LR):
    return lr_trace(lambda opt: warmup_cosine(opt, warmup, total, ratio), steps=steps or total + 5, lr=lr)


def test_key_values_start_end_of_warmup_and_end():
    rates = _trace(warmup=10, total=100, ratio=0.05)
    assert rates[0] == 0.0  # step 0: warm-up starts from zero
    assert rates[5] == pytest.approx(0.5 * BASE_LR)  # halfway through warm-up
    assert rates[10] == pytest.approx(BASE_LR)  # end of warm-up: the base rate
    assert rates[55] == pytest.approx(BASE_LR * (0.05 + 0.95 * 0.5))  # cosine halfway: mean of max and min
    assert rates[100] == pytest.approx(0.05 * BASE_LR)  # end: the minimum
    assert all(r == pytest.approx(0.05 * BASE_LR) for r in rates[100:])  # and it stays there


def test_pieces_are_monotone():
    rates = _trace(warmup=7, total=60, ratio=0.1)
    warm, decay = rates[:8], rates[7:61]
    assert all(b > a for a, b in zip(warm, warm[1:])), "warm-up must increase strictly"
    assert all(b < a for a, b in zip(decay, decay[1:])), "cosine part must decrease strictly"
    assert max(rates) == pytest.approx(BASE_LR)
    assert min(rates) >= 0.0


def test_without_warmup_starts_at_base_rate_and_reaches_zero():
    rates = _trace(warmup=0, total=20)
    assert rates[0] == pytest.approx(BASE_LR)
    assert rates[20] == pytest.approx(0.0, abs=1e-12)


def test_cosine_part_matches_torch_cosine_annealing():
    """After warm-up the schedule is PyTorch's CosineAnnealingLR with eta_min = ratio * base."""
    warmup, total, ratio = 5, 45, 0.2
    ours = _trace(warmup, total, ratio, steps=total + 1)[warmup:]
    reference = lr_trace(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=total - warmup, eta_min=ratio * BASE_LR), steps=total - warmup + 1, lr=BASE_LR)
    assert ours == pytest.approx(reference, abs=1e-12)


def test_factor_function_matches_scheduler_and_formula():
    rates = _trace(warmup=4, total=30, ratio=0.0, lr=1.0)
    for step, rate in enumerate(rates):
        assert warmup_cosine_factor(step, 4, 30) == pytest.approx(rate)
    assert warmup_cosine_factor(17, 4, 30) == pytest.approx(0.5 * (1 + math.cos(math.pi * 13 / 26)))


def test_every_param_group_keeps_its_own_base_rate():
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.01}])
    sched = warmup_cosine(opt, warmup_steps=2, total_steps=10)
    for _ in range(2):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1.0, 0.01])


@pytest.mark.parametrize("kwargs,match", [
    ({"warmup_steps": -1, "total_steps": 10}, "warmup_steps"),
    ({"warmup_steps": 10, "total_steps": 10}, "total_steps"),
    ({"warmup_steps": 2, "total_steps": 10, "min_lr_ratio": 1.5}, "min_lr_ratio"),
    ({"warmup_steps": 2.5, "total_steps": 10}, "warmup_steps"),
])
def test_invalid_arguments_raise_clear_errors(kwargs, match):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=match):
        warmup_cosine(opt, **kwargs)


def test_fit_steps_the_schedule_once_per_batch():
    """With fit (scheduler stepped after every batch), the rate at the start of each epoch follows the steps."""
    torch.manual_seed(0)
    x, y = torch.randn(24, 3), torch.randint(0, 2, (24,))
    loader = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 24, 8)]  # 3 batches per epoch
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=BASE_LR)
    sched = warmup_cosine(opt, warmup_steps=3, total_steps=12)
    history = fit(model, loader, opt, epochs=4, scheduler=sched, progress=False)
    expected = [BASE_LR * warmup_cosine_factor(3 * e, 3, 12) for e in range(4)]
    assert history["lr"] == pytest.approx(expected)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # after 12 steps: the end


def test_doctests():
    result = doctest.testmod(schedules)
    assert result.attempted >= 2 and result.failed == 0
