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


def pick(smoke: T, standard: T, full: T, budget: str | None = None) -> T:
    """Return the value for the active budget (or for ``budget`` when given).

    >>> pick(smoke=1, standard=5, full=20, budget="standard")
    5
    """
    name = read_budget(budget)
    return {"smoke": smoke, "standard": standard, "full": full}[name]
