"""Small helpers every notebook uses: device, seeding, parameter counts, paths."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn


DEVICE_TYPES = ("cuda", "mps", "cpu")


def get_device() -> torch.device:
    """The fastest available device: CUDA, then Apple's MPS, then the CPU.

    ``COURSE_DEVICE=cpu`` (or ``cuda``, ``cuda:1``, ``mps``) overrides the choice, for example to
    compare a GPU run with the CPU one; asking for a device that is not available is an error.
    """
    wanted = os.environ.get("COURSE_DEVICE", "").strip()
    if wanted:
        kind = wanted.split(":", 1)[0]
        if kind not in DEVICE_TYPES:
            raise ValueError(f"COURSE_DEVICE must be one of {', '.join(DEVICE_TYPES)} (cuda may carry an index, "
                             f"cuda:1), got {wanted!r}")
        mps = getattr(torch.backends, "mps", None)
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": mps is not None and mps.is_available()}[kind]
        if not available:
            raise RuntimeError(f"COURSE_DEVICE={wanted} but this machine has no {kind} device available; "
                               f"unset COURSE_DEVICE to let get_device() choose")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    Together with ``torch.Generator`` objects passed to data loaders, this makes a
    notebook's results repeatable for a given seed on the same machine and library versions.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (shared parameters are counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def project_root() -> Path | None:
    """The source checkout that holds this package (``None`` when installed from a wheel)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def runs_dir(*parts: str) -> Path:
    """Directory for everything the course writes at run time (checkpoints, figures, results).

    ``$COURSE_RUNS_DIR`` if set, else ``<checkout>/runs`` in a source checkout, else
    ``./runs``. The directory (and ``parts`` below it) is created.
    """
    base = os.environ.get("COURSE_RUNS_DIR")
    if base:
        path = Path(base)
    else:
        root = project_root()
        path = (root if root is not None else Path.cwd()) / "runs"
    path = path.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
