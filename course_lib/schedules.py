"""Learning-rate schedules counted in optimizer steps (one step = one batch).

``course_lib.train.fit`` calls ``scheduler.step()`` after every batch, so every schedule here
is a function of the *step* (batch) number, not of the epoch. With ``s`` the step, ``w`` the
number of warm-up steps, ``T`` the total number of steps and ``eta_0`` the optimizer's base
learning rate, :func:`warmup_cosine` gives

.. math::

    \\eta(s) = \\eta_0 \\cdot \\begin{cases}
        s / w & 0 \\le s < w \\quad \\text{(linear warm-up)} \\\\
        r + (1 - r) \\tfrac12 \\bigl(1 + \\cos(\\pi \\tfrac{s - w}{T - w})\\bigr) & w \\le s \\le T
            \\quad \\text{(cosine decay, Loshchilov \\& Hutter 2017)} \\\\
        r & s > T
    \\end{cases}

with ``r = min_lr_ratio``. Warm-up (Goyal et al. 2017) keeps the first updates small while
BatchNorm statistics and Adam's moment estimates settle; the cosine then spends most steps
at a high rate and anneals smoothly to ``r * eta_0``.

:func:`lr_trace` records the rate a scheduler gives at each step without training anything,
which is what a plot of "learning rate vs step" needs.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

__all__ = ["lr_trace", "warmup_cosine", "warmup_cosine_factor"]


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> float:
    """The multiplier of the base learning rate at ``step`` (see the module docstring).

    Returns a float in ``[0, 1]``: ``0`` at step 0 when ``warmup_steps > 0`` (``1`` without
    warm-up), ``1`` at ``step == warmup_steps``, ``min_lr_ratio`` at ``step >= total_steps``.
    """
    _check_arguments(warmup_steps, total_steps, min_lr_ratio)
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < warmup_steps:
        return step / warmup_steps  # linear warm-up from 0
    if step >= total_steps:
        return min_lr_ratio
    progress = (step - warmup_steps) / (total_steps - warmup_steps)  # in [0, 1)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _check_arguments(warmup_steps: int, total_steps: int, min_lr_ratio: float) -> None:
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if not isinstance(total_steps, int) or total_steps <= warmup_steps:
        raise ValueError(f"total_steps must be an int > warmup_steps ({warmup_steps}), got {total_steps!r}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio!r}")


def warmup_cosine(optimizer: Optimizer, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> LambdaLR:
    """Linear warm-up for ``warmup_steps`` steps, then cosine decay to ``min_lr_ratio`` times the base rate.

    Step the returned scheduler once per batch (``course_lib.train.fit`` does). ``total_steps``
    is the number of batches of the whole run, e.g. ``epochs * len(train_loader)``. The base
    rate is the ``lr`` each parameter group had when the scheduler was created; the rate for
    the first batch is 0 when ``warmup_steps > 0``.

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = warmup_cosine(opt, warmup_steps=10, total_steps=100)
    >>> opt.param_groups[0]["lr"]
    0.0
    """
    _check_arguments(warmup_steps, total_steps, min_lr_ratio)
    return LambdaLR(optimizer, lambda step: warmup_cosine_factor(step, warmup_steps, total_steps, min_lr_ratio))


def lr_trace(make_scheduler: Callable[[Optimizer], LRScheduler], steps: int, lr: float = 1.0,
             optimizer_class: type[Optimizer] = torch.optim.SGD) -> list[float]:
    """Learning rates of the first ``steps`` batches under a schedule, without any training.

    ``make_scheduler(optimizer)`` builds the scheduler on a throw-away optimizer (one scalar
    parameter, base rate ``lr``). Returns ``steps`` floats: entry ``i`` is the rate used for
    batch ``i``.

    >>> lr_trace(lambda opt: warmup_cosine(opt, 2, 4), steps=5)
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = optimizer_class([parameter], lr=lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()  # no gradient: the parameter stays put, but the step order is the real one
        scheduler.step()
    return rates
