"""Tests of course_lib.run_course: failures are reported, do not stop the others, and set the exit status."""

from __future__ import annotations

import json

import nbformat
import pytest

from course_lib import run_course


def _write(folder, name, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture()
def course(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "runs"))
    _write(notebooks, "a_good", "import course_lib\nfrom course_lib.budget import BUDGET\nrun = course_lib.start_run(verbose=False)",
           "run.save('a_good', score=0.75, budget_is_smoke=float(BUDGET == 'smoke'))")
    _write(notebooks, "b_broken", "raise RuntimeError('deliberate failure')")
    _write(notebooks, "c_after", "import course_lib\nrun = course_lib.start_run(verbose=False)\nrun.save('c_after', x=1)")
    return tmp_path


def test_a_failing_notebook_does_not_stop_the_others(course):
    status = run_course.main(["--budget", "smoke", "--notebooks-dir", str(course / "notebooks")])
    assert status == 1
    out = course / "runs" / "course"
    report = (out / "RESULTS.md").read_text()
    assert "| a_good |" in report and "| c_after |" in report
    assert "deliberate failure" in report
    assert "2 of 3 passed" in report
    for name in ("a_good", "b_broken", "c_after"):
        assert (out / f"{name}.ipynb").is_file() and (out / f"{name}.html").is_file()
    # the budget reached the kernel, and metrics come from the results file this run wrote
    record = json.loads((course / "runs" / "results" / "smoke" / "a_good.json").read_text())
    assert record["metrics"] == {"score": 0.75, "budget_is_smoke": 1.0}


@pytest.mark.parametrize("threshold, expected_status", [(0.5, 0), (0.9, 1)])
def test_targets_decide_the_exit_status(course, monkeypatch, threshold, expected_status):
    (course / "notebooks" / "b_broken.ipynb").unlink()
    monkeypatch.setitem(run_course.TARGETS, "a_good", [run_course.Target("score", ">=", threshold, "score high")])
    status = run_course.main(["--budget", "standard", "--notebooks-dir", str(course / "notebooks"), "--only", "a_"])
    assert status == expected_status
    report = (course / "runs" / "course" / "RESULTS.md").read_text()
    assert ("score high: met" in report) == (expected_status == 0)


def test_a_missing_metric_is_not_a_pass(course, monkeypatch):
    monkeypatch.setitem(run_course.TARGETS, "c_after", [run_course.Target("absent", ">=", 0, "absent metric")])
    assert run_course.main(["--budget", "standard", "--notebooks-dir", str(course / "notebooks"), "--only", "c_"]) == 1
    assert "absent metric: not recorded" in (course / "runs" / "course" / "RESULTS.md").read_text()


def test_a_partial_rerun_keeps_the_other_rows(course):
    folder = str(course / "notebooks")
    assert run_course.main(["--budget", "smoke", "--notebooks-dir", folder]) == 1
    (course / "notebooks" / "b_broken.ipynb").write_text(
        (course / "notebooks" / "c_after.ipynb").read_text().replace("c_after", "b_broken"))
    assert run_course.main(["--budget", "smoke", "--notebooks-dir", folder, "--only", "b_"]) == 0  # this run passed
    report = (course / "runs" / "course" / "RESULTS.md").read_text()
    assert "deliberate failure" not in report and "| a_good |" in report and "| c_after |" in report
    assert "3 of 3 passed" in report and "the rows of 2 others come from earlier runs" in report
    # a kept outcome at another budget is not reported as if it were this budget's
    assert run_course.main(["--budget", "standard", "--notebooks-dir", folder, "--only", "c_"]) == 0
    report = (course / "runs" / "course" / "RESULTS.md").read_text()
    assert "| a_good | 0 s | - | - | not run at the standard budget yet" in report
    assert "1 of 3 passed" in report


@pytest.mark.parametrize("op, value, expected", [(">", 0.75, False), (">=", 0.75, True), ("<", 0.76, True),
                                                  ("<=", 0.74, False)])
def test_target_operators(op, value, expected):
    assert run_course.Target("score", op, value, "label").met({"score": 0.75}) is expected


def test_an_unknown_target_operator_is_refused():
    with pytest.raises(ValueError, match="one of .* got '=>'"):
        run_course.Target("score", "=>", 0.5, "label").met({"score": 0.75})


def test_the_report_flags_notebooks_over_the_time_goal(course, monkeypatch):
    (course / "notebooks" / "b_broken.ipynb").unlink()
    out = course / "runs" / "course"
    out.mkdir(parents=True)
    slow = run_course.NotebookResult("a_good", True, 400.0, {}, [])
    quick = run_course.NotebookResult("c_after", True, 20.0, {}, [])
    report = run_course.write_report([slow, quick], "standard", out).read_text()
    assert "| a_good | 400 s (over 360 s) |" in report and "| c_after | 20 s |" in report
    assert "a_good over" in report and "under 45 min (met)" in report
    smoke = run_course.write_report([slow], "smoke", out).read_text()
    assert "over" not in smoke and "Time goals" not in smoke


class _LateReplyChannel:
    """A shell channel with the nbclient#312 symptom: a get_msg that starts before the reply
    exists sleeps its whole timeout, even though the reply arrives meanwhile."""

    def __init__(self, reply_after: float | None):
        import time

        self.ready_at = None if reply_after is None else time.monotonic() + reply_after

    async def get_msg(self, timeout=None):
        import asyncio
        import time
        from queue import Empty

        if self.ready_at is not None and time.monotonic() >= self.ready_at:
            return {"msg": "reply"}
        await asyncio.sleep(timeout)
        raise Empty


def test_shell_channel_polls_in_slices_so_a_queued_reply_is_not_missed():
    import asyncio
    import time
    from queue import Empty

    channel = _LateReplyChannel(reply_after=0.3)
    run_course._poll_in_slices(channel, slice_seconds=0.1)
    started = time.monotonic()
    assert asyncio.run(channel.get_msg(timeout=30)) == {"msg": "reply"}
    assert time.monotonic() - started < 2  # unpatched: 30 s
    silent = _LateReplyChannel(reply_after=None)
    run_course._poll_in_slices(silent, slice_seconds=0.1)
    started = time.monotonic()
    with pytest.raises(Empty):  # the deadline still holds
        asyncio.run(silent.get_msg(timeout=0.5))
    assert 0.45 < time.monotonic() - started < 2


def test_interact_cell_does_not_wait_for_the_cell_timeout(tmp_path):
    """An ipywidgets.interact cell (as in notebook 01) finishes in seconds under run_course's client."""
    import time

    _write(tmp_path, "w", "import ipywidgets as widgets\ndef f(a=1.0):\n    print(a)\n"
           "widgets.interact(f, a=widgets.FloatSlider(value=1.0));", "print('next')")
    nb = nbformat.read(tmp_path / "w.ipynb", as_version=4)
    started = time.monotonic()
    run_course.notebook_client(nb, timeout=60, workdir=tmp_path).execute()
    assert time.monotonic() - started < 30
    assert nb.cells[1].outputs[0]["text"] == "next\n"
