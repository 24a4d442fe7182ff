import subprocess
import sys

import pytest

from course_lib import budget


def test_pick_returns_value_of_named_budget():
    assert budget.pick(1, 2, 3, budget="smoke") == 1
    assert budget.pick(1, 2, 3, budget="standard") == 2
    assert budget.pick(1, 2, 3, budget="full") == 3
    assert budget.pick(smoke="a", standard="b", full="c", budget=" FULL ") == "c"


def test_default_budget_is_standard(monkeypatch):
    monkeypatch.delenv("COURSE_BUDGET", raising=False)
    assert budget.read_budget() == "standard"


def test_unknown_budget_names_the_allowed_ones(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "quick")
    with pytest.raises(ValueError) as err:
        budget.read_budget()
    for name in ("smoke", "standard", "full", "'quick'"):
        assert name in str(err.value)


def test_budget_is_read_from_environment_at_import():
    code = "from course_lib.budget import BUDGET, pick; print(BUDGET, pick(1, 2, 3))"
    for name, value in (("smoke", "1"), ("full", "3")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"COURSE_BUDGET": name, "PATH": ""}, check=True).stdout.split()
        assert out == [name, value]


def test_active_budget_in_tests_is_valid():
    assert budget.BUDGET in budget.BUDGETS
