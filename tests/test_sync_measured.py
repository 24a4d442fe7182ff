"""scripts/sync_measured.py: the README and the notebook headers quote measured/ and nothing else."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("sync_measured", ROOT / "scripts" / "sync_measured.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)


def test_readme_and_headers_agree_with_measured(capsys):
    """A hand edit of a run time or result in README.md or a header makes this fail."""
    assert sync.main(["--check"]) == 0, capsys.readouterr().out


def test_every_result_row_names_a_notebook_and_metrics_it_records():
    names = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {row[0] for row in sync.RESULT_ROWS} == names, "every notebook has a row, and only notebooks do"
    standard = sync.load("standard")
    for name, what, value, target in sync.RESULT_ROWS:
        if name in standard and standard[name]["ok"]:
            missing = set()
            for template in (what, value, target):
                sync.render(template, standard[name]["metrics"], missing)
            assert not missing, f"{name}: the README quotes metrics the notebook does not record: {sorted(missing)}"


def test_a_missing_metric_is_shown_as_unknown_not_invented():
    missing = set()
    assert sync.render("{a:.1%} / {b:.2f}", {"a": 0.5}, missing) == "50.0% / ?"
    assert missing == {"b"}


def _record(name, budget, seconds, ok=True, **metrics):
    return {"name": name, "budget": budget, "ok": ok, "seconds": seconds, "metrics": metrics, "error": "",
            "measured": "2026-12-07 10:00",
            "environment": {"machine": "x86_64", "cpu_cores": 2, "torch": "2.14.1", "threads": 2,
                            "device": "cpu (x86_64)"}}


def test_header_paragraph_states_times_machine_and_the_goal():
    text = sync.header_paragraph("x", _record("x", "smoke", 12.3), _record("x", "standard", 400.0))
    assert text.startswith("**Run time**: smoke 12 s, standard 400 s (over the 6-minute goal)")
    assert "2-core x86_64 CPU, no GPU, torch 2.14.1 with 2 threads" in text and "2026-12-07" in text
    assert "not measured" in sync.header_paragraph("x", None, None)
    assert "failed" in sync.header_paragraph("x", None, _record("x", "standard", 5.0, ok=False))


def test_collect_replaces_the_notebooks_that_ran_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "MEASURED", tmp_path / "measured")
    (tmp_path / "measured").mkdir()
    (tmp_path / "measured" / "standard.json").write_text(json.dumps(
        {"a": _record("a", "standard", 1.0), "b": _record("b", "standard", 2.0)}))
    status = tmp_path / "status" / "standard"
    status.mkdir(parents=True)
    (status / "b.json").write_text(json.dumps(_record("b", "standard", 3.0, acc=0.123456789)))
    (status / "c.json").write_text(json.dumps(_record("c", "smoke", 4.0)))  # wrong budget folder: ignored
    changed = sync.collect(tmp_path / "status")
    merged = sync.load("standard")
    assert changed == ["standard/b"]
    assert merged["a"]["seconds"] == 1.0 and merged["b"]["seconds"] == 3.0 and "c" not in merged
    assert merged["b"]["metrics"]["acc"] == pytest.approx(0.123457)
