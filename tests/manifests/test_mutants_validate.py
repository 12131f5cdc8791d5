"""manifests.validate on the cases mutation testing found unchecked (docs/testing.md): which values fit
each dtype (the blanks every column accepts, integers written as floats, numbers and booleans as
text; an Int64 holds -2**63 to 2**63 - 1), the message naming what a column should hold, and where a
long value is cut in a message."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from manifests import schema
from manifests.validate import dtype_error, first_bad_value

BLANKS = [None, pd.NA, math.nan, "", "   "]


@pytest.mark.parametrize(("dtype", "fit", "bad"), [
    (schema.INT, ["12", " -3 ", "+7", 4, True, 5.0, -2.0, str(2**63 - 1), -2**63, -2.0**63],
     ["2.5", 2.5, "x", "1e3", math.inf, str(2**63), 2**63, -2**63 - 1, 2.0**63]),
    (schema.FLOAT, ["1e3", " 2.5 ", "-0", 3, 2.5, "nan", "inf"], ["abc", "1,5", "2.5.1"]),
    (schema.BOOL, ["true", "FALSE", " yes ", "No", "0", "1", True, False, 1], ["maybe", "2", "t", 2]),
    (schema.STRING, ["anything", 3, 2.5, "../../etc/passwd"], []),
])
def test_first_bad_value_is_the_first_value_that_does_not_fit(dtype, fit, bad) -> None:
    assert first_bad_value(pd.Series(BLANKS + fit, dtype=object), dtype) is None
    for value in bad:
        series = pd.Series([*BLANKS, *fit, value, *fit], dtype=object)
        found = first_bad_value(series, dtype)
        assert found is not None and found[0] == len(BLANKS) + len(fit) + 1, (dtype, value)
        assert found[1] is value or found[1] == value


@pytest.mark.parametrize(("dtype", "value", "expected"), [
    (schema.INT, "2.5", "an integer"),
    (schema.FLOAT, "abc", "a number"),
    (schema.BOOL, "maybe", "true or false"),
])
def test_the_message_names_the_row_the_value_and_what_the_column_holds(dtype, value, expected) -> None:
    error = dtype_error("col", pd.Series(["", value], dtype=object), dtype, ValueError("boom"))
    assert str(error) == f"column 'col', row 2: {value!r} is not {expected}"


def test_without_a_bad_value_the_message_names_the_dtype_and_the_cause() -> None:
    error = dtype_error("col", pd.Series(["a"], dtype=object), schema.STRING, ValueError("boom"))
    assert str(error) == "column 'col' does not hold string values: boom"
    error = dtype_error("col", pd.Series(["1"], dtype=object), schema.INT, TypeError("odd"))
    assert str(error) == "column 'col' does not hold an integer values: odd"


@pytest.mark.parametrize("length", [1, 57, 58, 59, 60, 100])
def test_a_value_is_shown_whole_up_to_60_characters_then_cut_to_57(length: int) -> None:
    value = "x" * length  # its repr is length + 2 characters
    error = str(dtype_error("n", pd.Series([value], dtype=object), schema.INT, ValueError("boom")))
    shown = error.removeprefix("column 'n', row 1: ").removesuffix(" is not an integer")
    if length + 2 <= 60:
        assert shown == repr(value)
    else:
        assert shown == "'" + "x" * 56 + "...'"  # the first 57 characters of the repr
