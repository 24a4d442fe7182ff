import pytest
import torch

from course_lib.checks import CheckError, check_close, check_equal, check_in_range, check_shape


def test_check_shape_passes_and_prints(capsys):
    check_shape(torch.zeros(2, 3), (2, 3), name="x")
    assert "x is correct" in capsys.readouterr().out
    check_shape(torch.zeros(5, 3), (-1, 3), name="x")


def test_check_shape_explains_expected_and_received():
    with pytest.raises(CheckError) as err:
        check_shape(torch.zeros(2, 4), (2, 3), name="features", hint="flatten from dim 1")
    message = str(err.value)
    assert "features" in message and "(2, 3)" in message and "(2, 4)" in message and "flatten" in message


def test_check_close_reports_largest_error_and_location():
    expected = torch.zeros(3, 3)
    value = expected.clone()
    value[1, 2] = 0.5
    with pytest.raises(CheckError) as err:
        check_close(value, expected, atol=1e-3, name="kernel")
    message = str(err.value)
    assert "1 of 9" in message and "(1, 2)" in message and "0.5" in message


def test_check_close_accepts_within_tolerance_and_matching_infinities():
    check_close(torch.tensor([1.0, float("inf")]), [1.0 + 1e-8, float("inf")])


def test_check_close_rejects_shape_mismatch_and_none():
    with pytest.raises(CheckError, match=r"expected shape \(3,\), got \(2,\)"):
        check_close(torch.zeros(2), torch.zeros(3))
    with pytest.raises(CheckError, match="no answer yet"):
        check_close(None, torch.zeros(3))


def test_check_equal_and_range():
    check_equal((1, 2), (1, 2))
    with pytest.raises(CheckError, match="expected 14, got 13"):
        check_equal(13, 14, name="output size")
    check_in_range(0.5, 0, 1)
    with pytest.raises(CheckError, match=r"\[0, 1\]"):
        check_in_range(1.5, 0, 1)
