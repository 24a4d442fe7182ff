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


def test_budget_follows_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "full")
    assert budget.BUDGET == "full" and budget.pick(1, 2, 3) == 3
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    assert budget.BUDGET == "smoke" and budget.pick(1, 2, 3) == 1


def test_a_budget_that_is_not_a_name_is_refused():
    with pytest.raises(TypeError, match="a budget is a name, one of smoke, standard, full; got int 3"):
        budget.read_budget(3)


def test_a_bad_budget_does_not_break_imports_and_fails_where_it_is_used():
    imports = "import course_lib, course_lib.ops, course_lib.classic, course_lib.data, course_lib.metrics"
    env = {"COURSE_BUDGET": "quick", "PATH": ""}
    subprocess.run([sys.executable, "-c", imports], env=env, check=True, capture_output=True)
    used = subprocess.run([sys.executable, "-c", "from course_lib.budget import pick; pick(1, 2, 3)"],
                          env=env, capture_output=True, text=True)
    assert used.returncode != 0
    assert "COURSE_BUDGET='quick' is not a budget; expected one of smoke, standard, full" in used.stderr


def test_pick_count_is_capped_by_course_max_steps_but_not_below_the_smoke_count(monkeypatch):
    monkeypatch.delenv("COURSE_MAX_STEPS", raising=False)
    assert budget.pick_count(20, 500, 3000, budget="full") == 3000
    monkeypatch.setenv("COURSE_MAX_STEPS", "2")
    assert budget.pick_count(20, 500, 3000, budget="full") == 20  # the smoke run's count
    assert budget.pick_count(1, 30, 15, budget="full") == 2
    assert budget.pick_count(0, 0, 0, budget="full") == 0
    monkeypatch.setenv("COURSE_MAX_STEPS", "1000")
    assert budget.pick_count(20, 500, 3000, budget="full") == 1000


@pytest.mark.parametrize("value", ["0", "-3", "two", "1.5"])
def test_a_bad_course_max_steps_is_refused(monkeypatch, value):
    monkeypatch.setenv("COURSE_MAX_STEPS", value)
    with pytest.raises(ValueError, match=f"COURSE_MAX_STEPS must be a positive whole number of steps, got '{value}'"):
        budget.pick_count(1, 2, 3)


def test_pick_count_refuses_what_is_not_a_count():
    with pytest.raises(TypeError, match="full must be a non-negative int, got 2.5"):
        budget.pick_count(1, 2, 2.5)
