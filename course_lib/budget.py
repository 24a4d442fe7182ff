"""The budget switch: how much data and compute a notebook spends.

The environment variable ``COURSE_BUDGET`` is read here and nowhere else.

==========  ===========================  ==================================================
budget      where                        promise
==========  ===========================  ==================================================
smoke       CI, ``make test``            every notebook runs end to end in < 60 s on 2 CPU
                                         cores; the numbers are not meaningful
standard    a laptop, offline (default)  < 10 min per notebook on 2 CPU cores, bundled data,
                                         reaches the quality target in its header
full        a GPU (Colab)                full data sets when downloadable, paper-like settings
==========  ===========================  ==================================================
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

BUDGETS = ("smoke", "standard", "full")
ENV_VAR = "COURSE_BUDGET"


def read_budget(value: str | None = None) -> str:
    """Validate a budget name (default: the ``COURSE_BUDGET`` environment variable, else ``standard``)."""
    if value is None:
        value = os.environ.get(ENV_VAR, "standard")
    if not isinstance(value, str):
        raise TypeError(f"a budget is a name, one of {', '.join(BUDGETS)}; got {type(value).__name__} {value!r}")
    name = value.strip().lower()
    if name not in BUDGETS:
        raise ValueError(
            f"{ENV_VAR}={value!r} is not a budget; expected one of {', '.join(BUDGETS)}"
        )
    return name


def __getattr__(name: str) -> str:
    """``BUDGET``, the active budget, is read when asked for (``from course_lib.budget import BUDGET``).

    Reading it lazily keeps a bad ``COURSE_BUDGET`` from breaking every import of ``course_lib``:
    the error comes where the budget is used, with the allowed names.
    """
    if name == "BUDGET":
        return read_budget()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_STEPS_VAR = "COURSE_MAX_STEPS"


def max_steps() -> int | None:
    """``COURSE_MAX_STEPS`` as a positive int, or ``None`` when unset (no cap)."""
    value = os.environ.get(MAX_STEPS_VAR, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_STEPS_VAR} must be a positive whole number of steps, got {value!r}")
    return int(value)


def pick_count(smoke: int, standard: int, full: int, budget: str | None = None) -> int:
    """Like :func:`pick`, for a count the budget sets: steps, epochs, iterations, samples, images.

    With ``COURSE_MAX_STEPS=N`` the count is capped at ``max(N, smoke)``: a dry run of the
    ``full`` budget (``COURSE_BUDGET=full COURSE_MAX_STEPS=2``, part of ``make test``) then builds
    the full-size models and takes the full data paths, but loops no longer than the smoke run
    does, which is known to work. Model sizes and resolutions use :func:`pick` and are not capped.

    >>> pick_count(smoke=20, standard=500, full=3000, budget="full")  # COURSE_MAX_STEPS unset
    3000
    """
    for name, value in (("smoke", smoke), ("standard", standard), ("full", full)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError(f"pick_count: {name} must be a non-negative int, got {value!r}")
    value = pick(smoke, standard, full, budget)
    cap = max_steps()
    return value if cap is None else min(value, max(cap, smoke))


def pick(smoke: T, standard: T, full: T, budget: str | None = None) -> T:
    """Return the value for the active budget (or for ``budget`` when given).

    >>> pick(smoke=1, standard=5, full=20, budget="standard")
    5
    """
    name = read_budget(budget)
    return {"smoke": smoke, "standard": standard, "full": full}[name]
