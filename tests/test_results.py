import json
import math

import pytest

from course_lib.results import NotebookRun


def test_save_writes_metrics_wall_time_and_environment(tmp_path):
    run = NotebookRun(verbose=False)
    path = run.save("02_cnn_building_blocks", test_accuracy=0.9812)
    assert path == tmp_path / "runs" / "results" / run.environment["budget"] / "02_cnn_building_blocks.json"
    record = json.loads(path.read_text())
    assert record["metrics"] == {"test_accuracy": 0.9812}
    assert record["wall_time_s"] >= 0 and record["budget"] in ("smoke", "standard", "full")
    assert "torch" in record["environment"]


def test_start_run_prints_budget_and_device(capsys):
    NotebookRun(verbose=True)
    out = capsys.readouterr().out
    assert "budget" in out and "device" in out


@pytest.mark.parametrize("bad", ["", "../x", "a/b"])
def test_save_rejects_paths(bad):
    with pytest.raises(ValueError):
        NotebookRun(verbose=False).save(bad, x=1.0)


def test_save_rejects_non_finite_metrics():
    with pytest.raises(ValueError, match="finite"):
        NotebookRun(verbose=False).save("nb", loss=math.nan)


def test_results_of_different_budgets_do_not_overwrite_each_other(tmp_path):
    smoke, standard = NotebookRun(verbose=False), NotebookRun(verbose=False)
    smoke.environment["budget"], standard.environment["budget"] = "smoke", "standard"
    kept = standard.save("03_classic_architectures", loss=0.07)
    smoke.save("03_classic_architectures", loss=2.1)  # a make test run while make course runs
    assert json.loads(kept.read_text())["metrics"] == {"loss": 0.07}
