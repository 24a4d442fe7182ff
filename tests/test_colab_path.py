"""The Colab path of the setup cell, simulated offline: a fake ``google.colab`` module and a
``%pip`` magic that records its arguments instead of installing, in a kernel started in an
unrelated working directory (nothing may assume the repository as the working directory)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("colab_links", ROOT / "scripts" / "colab_links.py")
colab_links = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_links)

FAKE_COLAB = '''
import sys, types
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")
pip_calls = []
get_ipython().register_magic_function(lambda line: pip_calls.append(line), magic_kind="line", magic_name="pip")
'''


def _setup_cell() -> str:
    nb = nbformat.read(ROOT / "notebooks" / "00_setup_and_image_tensors.ipynb", as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


def test_setup_cell_on_simulated_colab(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    check = ("import json\nfrom course_lib.data import load_mnist\n"
             "print(json.dumps({'pip': pip_calls, 'device': str(device), 'budget': BUDGET,"
             " 'train': len(load_mnist(train=True))}))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (FAKE_COLAB, _setup_cell(), check)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    workdir = tmp_path / "somewhere_else"
    workdir.mkdir()
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    out = json.loads(nb.cells[2].outputs[-1]["text"].strip().splitlines()[-1])
    repo = colab_links.repository()
    assert out["pip"] == [f'install -q "course_lib @ git+{repo}.git"']  # the Colab branch ran, with the one address
    assert out["device"] in ("cpu", "cuda", "cuda:0", "mps")
    assert out["budget"] == "smoke" and out["train"] > 0  # bundled data found from another directory
    assert list(workdir.iterdir()) == []  # nothing written into the working directory


def test_badges_and_install_address_match_pyproject():
    assert colab_links.main(["--check"]) == 0, "run: python scripts/colab_links.py"
