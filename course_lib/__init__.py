"""course_lib: tested implementations for *Deep Learning for Image Processing with PyTorch*.

Submodules are imported explicitly (``from course_lib.classic import sobel``); this file
only exposes the version and the setup-cell helper.
"""

__version__ = "0.1.0"

from .results import start_run  # noqa: E402

__all__ = ["__version__", "start_run"]
