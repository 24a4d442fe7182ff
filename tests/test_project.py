"""Repository-level contracts: packaging files agree, notebooks are committed clean and uniform."""

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_environment_yml_installs_the_pyproject_package_and_a_supported_python():
    text = (ROOT / "environment.yml").read_text()
    python = re.search(r"^\s*-\s*python\s*=\s*([0-9.]+)", text, re.M)
    assert python, "environment.yml must pin a python version"
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.group(1).split("."))) >= tuple(map(int, minimum.split(".")))
    extras = re.findall(r'-e\s+"?\.\[([a-z,]+)\]"?', text)
    assert extras, "environment.yml must install the package with pip -e .[extra]"
    for extra in extras[0].split(","):
        assert extra in PYPROJECT["project"]["optional-dependencies"], f"unknown extra {extra}"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and re.search(r"^make test\b", ci, re.M)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for cell in code_cells(load(path)):
        assert not cell.get("outputs") and cell.get("execution_count") is None, \
            f"{path.name} has outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_name_and_structure(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
    nb = load(path)
    first = source(nb["cells"][0])
    assert first.startswith("# "), f"{path.name} must open with a Markdown title"
    text = "\n".join(source(c) for c in nb["cells"])
    for heading in ("What you will learn", "Prerequisites", "Run time", "Summary", "Further reading"):
        assert heading.lower() in text.lower(), f"{path.name} lacks a '{heading}' section"
    assert f'run.save("{path.stem}"' in text, f"{path.name} must record its results with run.save"


def test_setup_cell_is_identical_in_every_notebook():
    setups = {path.name: source(code_cells(load(path))[0]) for path in NOTEBOOKS}
    reference = setups[NOTEBOOKS[0].name]
    assert "course_lib.start_run()" in reference and "google.colab" in reference
    for name, setup in setups.items():
        assert setup == reference, f"{name}: the first code cell differs from {NOTEBOOKS[0].name}'s setup cell"


# The public names of the design's contract table ("Names other code relies on"): each must be
# importable from the module the table names, so notebooks and other code can rely on them.
CONTRACT = {
    "course_lib.budget": ["BUDGET", "pick"],
    "course_lib.utils": ["get_device", "seed_everything"],
    "course_lib.data": ["load_mnist", "load_image"],
    "course_lib.classic": ["gaussian_blur", "sobel", "median_filter", "bilateral_filter", "canny", "equalize_histogram"],
    "course_lib.metrics": ["psnr", "ssim", "mean_average_precision", "frechet_distance"],
    "course_lib.models": ["alexnet", "vgg16", "resnet18", "resnet34", "resnet50", "vit_b_16", "LeNet5", "UNet"],
    "course_lib.ops": ["box_iou", "nms"],
    "course_lib.losses": ["gram_matrix"],
    "course_lib.diffusion": ["NoiseSchedule"],
}


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_contract_names_are_importable_where_the_design_says(module):
    import importlib

    mod = importlib.import_module(module)
    missing = [name for name in CONTRACT[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"


def test_the_lock_pins_every_dependency_within_the_bounds_of_pyproject():
    """requirements-lock.txt (make lock) pins an exact version of each direct dependency, inside pyproject's bounds."""
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    direct = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]
    for spec in map(Requirement, direct):
        name = spec.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in requirements-lock.txt (run make lock)"
        assert spec.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {spec}"
    assert "+" not in pins["torch"], "torch without a +cu/+cpu label, so the CPU-only build satisfies the lock"
