"""Tests of scripts/make_student.py: solutions are removed exactly, and student notebooks fail helpfully."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_student", ROOT / "scripts" / "make_student.py")
make_student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_student)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_solution_body_is_replaced_at_its_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\ncheck(f(1))"
    out, n = make_student.strip_solutions(source)
    assert n == 1
    assert out.splitlines() == ["def f(x):", f"    {make_student.STUB}", "", "check(f(1))"]


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_errors(source):
    with pytest.raises(ValueError, match="SOLUTION"):
        make_student.strip_solutions(source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_two_to_four_exercises_and_no_solution_survives(path):
    nb, _ = make_student.student_notebook(nbformat.read(path, as_version=4))
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    exercise_cells = [c for c in nb.cells if make_student.STUB in c.source]  # one exercise may hold two solutions
    assert 2 <= len(exercise_cells) <= 4, f"{path.name} has {len(exercise_cells)} exercise cells"
    assert all("check_" in c.source or "check(" in c.source for c in exercise_cells), \
        f"{path.name}: every exercise cell should end with a course_lib.checks call"


def test_student_version_fails_only_in_its_exercises(tmp_path, monkeypatch):
    # executing every student notebook takes minutes; `make student-check` does that, here one
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "runs"))
    make_student.main(["--out", str(tmp_path), str(ROOT / "notebooks" / "00_setup_and_image_tensors.ipynb")])
    student = tmp_path / "00_setup_and_image_tensors.ipynb"
    counts = make_student.execute_and_count(student)
    assert counts["other_errors"] == []
    assert counts["stubs"] >= 2 and len(counts["exercise_errors"]) == counts["stubs"]


def _names_assigned(source: str) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_results_cell_does_not_need_an_exercise_answer(path):
    # a student who has not solved the exercises must still get to run.save: names it reads
    # must be defined outside the solution blocks (student versions replace those blocks)
    student, _ = make_student.student_notebook(nbformat.read(path, as_version=4))
    code = [c.source for c in student.cells if c.cell_type == "code"]
    defined = set()
    for source in code[:-1]:
        cleaned = "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                            else line for line in source.splitlines())  # IPython magics -> pass
        defined |= _names_assigned(cleaned)
    import ast
    import builtins

    used = {n.id for n in ast.walk(ast.parse(code[-1])) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    used -= _names_assigned(code[-1]) | set(dir(builtins)) | {"run"}
    assert not used - defined, f"{path.name}: the last cell reads {sorted(used - defined)}, defined only in solutions"


def _synthetic(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    return make_student.student_notebook(nb)[0]


EXERCISE = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\ncheck_equal(f(1), 1)"


def test_run_all_rule_accepts_exercises_after_the_lesson():
    nb = _synthetic([("code", "x = 1"), ("md", "## Exercises"), ("code", EXERCISE), ("md", "Ex 2"),
                     ("code", EXERCISE), ("md", "## Summary"), ("code", "run.save('nb', x=x)")])
    assert make_student.run_all_problems(nb, first_error=2) == []


def test_run_all_rule_reports_an_exercise_before_a_lesson_cell():
    nb = _synthetic([("code", "x = 1"), ("code", EXERCISE), ("md", "## More lesson"), ("code", "y = x + 1"),
                     ("code", EXERCISE), ("code", "run.save('nb', y=y)")])
    problems = make_student.run_all_problems(nb, first_error=1)
    assert len(problems) == 1 and "cell 3 is lesson code after the exercise in cell 1" in problems[0]


def test_run_all_rule_reports_a_first_error_outside_the_exercises_and_a_late_results_cell():
    nb = _synthetic([("code", "x = 1"), ("code", EXERCISE), ("code", "run.save('nb', x=x)"), ("code", EXERCISE)])
    problems = make_student.run_all_problems(nb, first_error=0)
    assert any("cell 2 is lesson code" in p for p in problems)  # run.save must be the last code cell
    assert any("stops at cell 0, which is not an exercise cell" in p for p in problems)
    assert make_student.run_all_problems(nb, first_error=None)[-1].startswith("Run All raised no error")


def test_run_all_stops_in_an_exercise_when_executed(tmp_path):
    nb = _synthetic([("code", "x = 1"), ("code", "from course_lib.checks import check_equal"),
                     ("code", EXERCISE), ("code", "y = x + 1")])
    nbformat.write(nb, tmp_path / "synthetic.ipynb")
    result = make_student.execute_stop_on_error(tmp_path / "synthetic.ipynb")
    assert result["first_error"] == (2, "NotImplementedError")
    assert result["problems"] == ["cell 3 is lesson code after the exercise in cell 2: "
                                  "Run All stops at the exercise and never runs it"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_keeps_its_exercises_after_the_lesson(path):
    # the static half of the run-all rule; `make student-check` adds where Run All really stops
    student, _ = make_student.student_notebook(nbformat.read(path, as_version=4))
    first = make_student.exercise_cells(student)[0]
    assert make_student.run_all_problems(student, first_error=first) == []
