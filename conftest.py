"""Repository-wide pytest hooks: a wall-time table of every executed notebook."""

import os
from collections import defaultdict

_notebook_seconds: dict[str, float] = defaultdict(float)
_notebook_failed: set[str] = set()


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
