"""Checks for the exercises: they say what is wrong, not just ``False``.

Each check prints one line starting with a tick when the answer is right, and raises
:class:`CheckError` (an ``AssertionError``) with what was expected, what came, and a hint
when it is not.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch


class CheckError(AssertionError):
    """An exercise answer is not right yet; the message explains why."""


def _fail(name: str, problem: str, hint: str | None) -> None:
    message = f"{name}: {problem}"
    if hint:
        message += f"\n  hint: {hint}"
    raise CheckError(message)


def _ok(name: str, detail: str = "") -> None:
    print(f"\u2714 {name} is correct" + (f" ({detail})" if detail else ""))


def _as_tensor(value: Any, name: str, hint: str | None) -> torch.Tensor:
    if value is None or value is NotImplemented or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(value))
    except Exception:
        _fail(name, f"expected a tensor or array-like, got {type(value).__name__}", hint)
    raise AssertionError("unreachable")


def check_shape(value: Any, expected_shape: Sequence[int], name: str = "answer", hint: str | None = None) -> None:
    """Check ``value.shape == expected_shape`` (``-1`` in ``expected_shape`` matches any size)."""
    tensor = _as_tensor(value, name, hint)
    got, want = tuple(tensor.shape), tuple(expected_shape)
    if len(got) != len(want) or any(w != -1 and g != w for g, w in zip(got, want)):
        _fail(name, f"expected shape {want}, got {got}", hint)
    _ok(name, f"shape {got}")


def check_close(value: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-5,
                name: str = "answer", hint: str | None = None) -> None:
    """Check that ``value`` equals ``expected`` within ``atol + rtol * |expected|`` element-wise.

    Shapes must match exactly; the message reports the largest deviation and where it is.
    """
    got = _as_tensor(value, name, hint).double()
    want = _as_tensor(expected, f"{name} (reference)", None).double()
    if got.shape != want.shape:
        _fail(name, f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}", hint)
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        _fail(name, f"contains {int((~torch.isfinite(got)).sum())} NaN/inf values", hint)
    both_inf = torch.isinf(got) & torch.isinf(want) & (torch.sign(got) == torch.sign(want))
    err = torch.where(both_inf, torch.zeros_like(got), (got - want).abs())
    tol = atol + rtol * want.abs().nan_to_num(posinf=0.0, neginf=0.0)
    bad = err > tol
    if bad.any():
        flat = int(torch.argmax(torch.where(bad, err, torch.zeros_like(err))))
        index = tuple(int(i) for i in np.unravel_index(flat, tuple(got.shape))) if got.ndim else ()
        _fail(name, (f"{int(bad.sum())} of {got.numel()} values are off; the largest error is "
                     f"{float(err.flatten()[flat]):.3g} at index {index} (got "
                     f"{float(got.flatten()[flat]):.6g}, expected {float(want.flatten()[flat]):.6g}, "
                     f"tolerance {float(tol.flatten()[flat]):.3g})"), hint)
    _ok(name, f"max abs error {float(err.max()) if err.numel() else 0.0:.2g}")


def check_equal(value: Any, expected: Any, name: str = "answer", hint: str | None = None) -> None:
    """Check a plain value (int, str, tuple, ...) for equality."""
    if value is None or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    if value != expected:
        _fail(name, f"expected {expected!r}, got {value!r}", hint)
    _ok(name, f"{value!r}")


def check_in_range(value: float, low: float, high: float, name: str = "answer", hint: str | None = None) -> None:
    """Check ``low <= value <= high`` for a scalar (for example an accuracy or a PSNR)."""
    if value is None or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    value = float(value)
    if not low <= value <= high:
        _fail(name, f"expected a value in [{low:g}, {high:g}], got {value:.6g}", hint)
    _ok(name, f"{value:.4g}")
