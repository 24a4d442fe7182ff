"""Repository-wide pytest hooks: a wall-time table of every executed notebook.

A notebook run at a budget without ``COURSE_MAX_STEPS`` (``make test`` runs them at ``smoke``) also
leaves its record in ``runs/course/status/<budget>/``, the same record ``course_lib.run_course``
writes: ``scripts/sync_measured.py --collect`` takes the smoke column of the README from there.
"""

import json
import os
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_failed: set[str] = set()
_session_started = time.time()


def _save_notebook_records(budget: str) -> None:
    """One status record per executed notebook, like run_course's (metrics from the notebook's results file)."""
    from course_lib.run_course import NotebookResult, machine_summary, save_status
    from course_lib.utils import runs_dir

    for path, seconds in _notebook_seconds.items():
        name = Path(path).stem
        results = runs_dir("results", budget) / f"{name}.json"
        fresh = results.is_file() and results.stat().st_mtime >= _session_started  # written by this run
        record = json.loads(results.read_text()) if fresh else {}
        ok = path not in _notebook_failed and fresh
        error = "" if ok else ("a cell failed" if path in _notebook_failed else "no results file written")
        result = NotebookResult(name, ok, seconds, record.get("metrics", {}), [], error,
                                f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}",
                                machine_summary(record.get("environment")))
        save_status(result, budget, runs_dir("course"))


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration  # setup (kernel start) + call + teardown
        if report.failed:
            _notebook_failed.add(path)


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    tr = terminalreporter
    budget = os.environ.get("COURSE_BUDGET", "standard")
    cap = os.environ.get("COURSE_MAX_STEPS")
    goal = " (smoke budget target: < 60 s each)" if budget == "smoke" else ""
    tr.section(f"notebook wall times, COURSE_BUDGET={budget}{f' COURSE_MAX_STEPS={cap}' if cap else ''}{goal}")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "FAILED" if path in _notebook_failed else ("OVER 60 s" if goal and seconds > 60 else "ok")
        tr.write_line(f"{seconds:7.1f} s  {flag:9s} {path}")
    tr.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  total")
    if not cap and budget in ("smoke", "standard", "full"):
        _save_notebook_records(budget)
        tr.write_line(f"records of these runs: runs/course/status/{budget}/ (scripts/sync_measured.py --collect)")
