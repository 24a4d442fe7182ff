"""Write student versions of the notebooks: every solution body becomes ``raise NotImplementedError``.

Usage: ``python scripts/make_student.py [--out runs/student] [notebooks ...]`` (``make student``).

Solutions are marked as nbgrader marks them, so the same notebooks also work with nbgrader::

    def d_loss_from_logits(real_logits, fake_logits):
        ### BEGIN SOLUTION
        return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()
        ### END SOLUTION

becomes ``raise NotImplementedError("exercise: ...")`` at the indentation of the marker. The check
that follows each exercise then fails with its own explanation once the student's code runs.
Outputs are stripped; the originals are not touched.

``--execute`` runs each student notebook twice at the smoke budget:

1. with nbclient's default stop-on-error, as "Run All" in Jupyter does. The first error must come
   from an exercise cell, and the notebook must obey the **run-all rule**: after the first
   exercise cell (a code cell holding a stub) come only exercise cells, Markdown, and, as the
   very last code cell, the results cell ``run.save(...)``. So a student who runs all cells
   sees the whole lesson before the first unsolved exercise stops the run. The results cell
   is the one code cell allowed after the exercises because it must not read exercise answers
   (``tests/test_make_student.py`` checks that the names it reads are defined outside solutions);
2. with errors allowed, so every exercise is reached: each exercise cell must fail with its
   stub's ``NotImplementedError`` or its check's ``CheckError``, and no other cell may fail
   (this run also executes the results cell).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
STUB = 'raise NotImplementedError("exercise: replace this line with your solution")'


def strip_solutions(source: str) -> tuple[str, int]:
    """Return ``source`` with each marked solution replaced by a stub, and the number replaced."""
    out, inside, count = [], False, 0
    for number, line in enumerate(source.splitlines(), start=1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ValueError(f"line {number}: BEGIN SOLUTION inside another solution")
            inside, count = True, count + 1
            out.append(f"{begin.group(1)}{STUB}")
        elif END.match(line):
            if not inside:
                raise ValueError(f"line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out), count


def student_notebook(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    nb = nbformat.from_dict(nb)  # a copy
    total = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source, n = strip_solutions(cell.source)
        total += n
        cell.outputs, cell.execution_count = [], None
    return nb, total


RESULTS_CELL = "run.save("


def exercise_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells of a student notebook that hold a stub."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and STUB in c.source]


def run_all_problems(nb: nbformat.NotebookNode, first_error: int | None = None) -> list[str]:
    """What stops "Run All" of a student notebook before the lesson ends (empty when it is fine).

    ``first_error`` is the index of the cell where a stop-on-error run stopped (None: no error).
    The rule (see the module docstring): the first error is in an exercise cell, and after the
    first exercise cell come only exercise cells, Markdown and, last, the ``run.save`` cell.
    """
    exercises = exercise_cells(nb)
    problems = []
    if not exercises:
        return ["no exercise cell"]
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i in code:
        if i <= exercises[0] or i in exercises:
            continue
        if i == code[-1] and RESULTS_CELL in nb.cells[i].source:
            continue
        problems.append(f"cell {i} is lesson code after the exercise in cell {exercises[0]}: "
                        "Run All stops at the exercise and never runs it")
    if first_error is None:
        problems.append("Run All raised no error, but the exercises should stop it")
    elif first_error not in exercises:
        problems.append(f"Run All stops at cell {first_error}, which is not an exercise cell")
    return problems


def execute_stop_on_error(path: Path, budget: str = "smoke") -> dict:
    """Run a student notebook as "Run All" does (stop at the first error) and apply the run-all rule.

    Returns ``{"first_error": (cell index, exception name) or None, "problems": [...]}``.
    """
    import os

    from nbclient.exceptions import CellExecutionError

    from course_lib.run_course import notebook_client

    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("COURSE_BUDGET")
    os.environ["COURSE_BUDGET"] = budget
    try:
        notebook_client(nb, 600, path.parent).execute()
    except CellExecutionError:
        pass  # the cell that failed carries the error output
    finally:
        os.environ.pop("COURSE_BUDGET", None) if old is None else os.environ.__setitem__("COURSE_BUDGET", old)
    first = next(((i, out["ename"]) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
                  for out in cell.get("outputs", []) if out.get("output_type") == "error"), None)
    return {"first_error": first, "problems": run_all_problems(nb, None if first is None else first[0])}


def execute_and_count(path: Path, budget: str = "smoke") -> dict:
    """Run a student notebook (errors allowed) and sort its errors.

    Returns ``{"stubs": n, "exercise_errors": [...], "other_errors": [...]}`` where an
    exercise error is the stub's ``NotImplementedError`` or a ``CheckError`` raised in a cell
    that held a solution, and any other error is a crash elsewhere (a defect of the notebook).
    """
    import os

    from course_lib.run_course import notebook_client  # works around nbclient#312 (notebook 01's widget cell)

    nb = nbformat.read(path, as_version=4)
    stub_cells = {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and STUB in c.source}
    old = os.environ.get("COURSE_BUDGET")
    os.environ["COURSE_BUDGET"] = budget
    try:
        notebook_client(nb, 600, path.parent, allow_errors=True).execute()
    finally:
        os.environ.pop("COURSE_BUDGET", None) if old is None else os.environ.__setitem__("COURSE_BUDGET", old)
    exercise, other = [], []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                item = (i, out["ename"], out["evalue"][:200])
                helpful = out["ename"] in ("NotImplementedError", "CheckError")
                (exercise if i in stub_cells and helpful else other).append(item)
    return {"stubs": len(stub_cells), "exercise_errors": exercise, "other_errors": other}


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description="write student versions of the notebooks")
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=root / "runs" / "student")
    parser.add_argument("--execute", action="store_true",
                        help="also run each student notebook at the smoke budget: once as Run All (stop on error), "
                             "once with errors allowed")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((root / "notebooks").glob("*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb, count = student_notebook(nbformat.read(path, as_version=4))
        nbformat.write(nb, args.out / path.name)
        print(f"{path.name}: {count} solution{'s' if count != 1 else ''} removed")
    print(f"student notebooks in {args.out}")
    if not args.execute:
        return 0
    bad = 0
    for path in paths:
        run_all = execute_stop_on_error(args.out / path.name)
        where = "no error" if run_all["first_error"] is None else "cell {} ({})".format(*run_all["first_error"])
        print(f"{path.name}: Run All stops at {where}" + ("" if run_all["problems"] else ", after the whole lesson"))
        for problem in run_all["problems"]:
            print(f"    {problem}")
        bad += bool(run_all["problems"])
        counts = execute_and_count(args.out / path.name)
        print(f"{path.name}: {counts['stubs']} exercise cells, {len(counts['exercise_errors'])} fail as intended, "
              f"{len(counts['other_errors'])} other errors")
        for i, name, value in counts["other_errors"]:
            print(f"    cell {i}: {name}: {value}")
        bad += bool(counts["other_errors"]) or len(counts["exercise_errors"]) != counts["stubs"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
