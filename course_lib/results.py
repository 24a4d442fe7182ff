"""Each notebook records its headline metrics and wall time in ``runs/results/<budget>/<notebook>.json``.

One folder per budget, so that a smoke run (``make test``) never overwrites the results a
``standard`` run (``make course``) is about to read.

``make course`` collects these files into the results table of the README.
"""

from __future__ import annotations

import json
import math
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from .budget import read_budget
from .utils import get_device, runs_dir


def environment_summary() -> dict:
    """Versions, device and budget, as printed by every notebook's setup cell."""
    import torchvision

    from . import __version__

    device = get_device()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "course_lib": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "torchvision": torchvision.__version__, "device": f"{device.type} ({name})",
        "threads": torch.get_num_threads(), "budget": read_budget(),
    }


class NotebookRun:
    """Started by the setup cell; ``save`` writes the notebook's results file.

    >>> run = NotebookRun(verbose=False)
    >>> path = run.save("02_cnn_building_blocks", test_accuracy=0.985)  # doctest: +SKIP
    """

    def __init__(self, verbose: bool = True):
        self.started = time.perf_counter()
        self.environment = environment_summary()
        if verbose:
            print(" | ".join(f"{k} {v}" for k, v in self.environment.items()))

    @property
    def elapsed(self) -> float:
        """Seconds since the setup cell ran."""
        return time.perf_counter() - self.started

    def save(self, notebook: str, **metrics: float) -> Path:
        """Write ``runs/results/<budget>/<notebook>.json`` with the metrics, wall time and environment."""
        if not notebook or "/" in notebook or "\\" in notebook:
            raise ValueError(f"notebook must be a bare name like '02_cnn_building_blocks', got {notebook!r}")
        clean = {}
        for key, value in metrics.items():
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"metric {key} is {value}; results must be finite numbers")
            clean[key] = value
        record = {
            "notebook": notebook, "budget": self.environment["budget"],
            "wall_time_s": round(self.elapsed, 2), "metrics": clean,
            "environment": self.environment,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        path = runs_dir("results", self.environment["budget"]) / f"{notebook}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(path)
        print(f"results saved to {path}: " + ", ".join(f"{k}={v:.4g}" for k, v in clean.items()))
        return path


def start_run(verbose: bool = True) -> NotebookRun:
    """Print the environment and start the notebook's clock."""
    return NotebookRun(verbose=verbose)
