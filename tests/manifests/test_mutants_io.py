"""Reading and writing manifests at the edges ``make mutate`` found unpinned in ``manifests/io.py``:
the header of a CSV (a Parquet file named ``.csv``, a column name holding a line break, UTF-8 under
an ASCII locale), the one-line errors and their wording, a file that exists but is empty, a write
into folders that do not exist yet, the columns and dtypes other readers of a Parquet manifest see
(pyarrow's schema, plain ``pandas.read_parquet``, the outside oracles here); an integer column held
to one rule whatever it arrives as (CSV text, a Parquet file another tool wrote with text or float
``width``, Python values): padded text reads, and ``inf``, a value beyond 64 bits and ``1_000`` are
refused naming their row, never read as ``-2**63`` nor a traceback.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import manifests
from manifests import ManifestError, schema
from manifests.update import Appender


def _frame(n: int = 2) -> pd.DataFrame:
    return manifests.from_records([{schema.SHA256: f"{i:064x}", schema.PATH: f"{i}.png",
                                    schema.STATUS: schema.OK, schema.WIDTH: 16 if i else None,
                                    schema.LABEL: "cat"} for i in range(n)])


def _error(call, *args: object) -> str:
    with pytest.raises(ManifestError) as info:
        call(*args)
    return str(info.value)


def test_a_parquet_file_named_csv_is_named_with_its_right_name(tmp_path: Path) -> None:
    manifests.write(_frame(), tmp_path / "m.parquet")
    disguised = tmp_path / "data.csv"
    disguised.write_bytes((tmp_path / "m.parquet").read_bytes())
    expected = (f"{disguised} is a Parquet file, not CSV: rename it to data.parquet (gleanset reads the "
                "format from the extension)")
    assert _error(manifests.read, disguised) == expected
    assert _error(Appender, disguised) == expected


def test_a_table_that_is_not_a_manifest_is_named_once(tmp_path: Path) -> None:
    other = tmp_path / "prices.csv"
    other.write_text("item,price\r\ntea,3\r\n")
    expected = (f"{other} is not a gleanset manifest (it has item, price; no sha256, path or status "
                "column): refusing to read or rewrite it")
    assert _error(manifests.read, other) == expected
    assert _error(Appender, other) == expected
    table = tmp_path / "prices.parquet"
    pd.DataFrame({"item": ["tea"], "price": [3]}).to_parquet(table)
    assert _error(Appender, table).startswith(f"{table} is not a gleanset manifest (it has item, price;")
    assert other.read_bytes() == b"item,price\r\ntea,3\r\n"


def test_an_unreadable_parquet_target_is_one_line_naming_the_cause(tmp_path: Path) -> None:
    broken = tmp_path / "m.parquet"
    broken.write_bytes(b"not parquet at all, " * 8)
    with pytest.raises(Exception) as cause:  # what pyarrow itself says about the file
        pq.read_schema(broken)
    words = " ".join(str(cause.value).split())
    assert _error(Appender, broken) == f"cannot read manifest {broken}: {words}"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_existing_empty_file_is_a_new_manifest(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"m{suffix}"
    path.touch()  # made by the user (or a crashed tool) before the first run
    with Appender(path) as sink:
        sink.add({schema.SHA256: "a" * 64, schema.PATH: "a.png", schema.STATUS: schema.OK})
    assert manifests.read(path)[schema.SHA256].tolist() == ["a" * 64]


def test_a_column_name_holding_a_line_break_keeps_its_text(tmp_path: Path) -> None:
    """The csv module needs ``newline=""`` to read a quoted line break as part of the field; else the
    name differs from pandas' and its column loses the string dtype ("007" would read as 7)."""
    path = tmp_path / "m.csv"
    path.write_bytes(f'sha256,path,status,"shot\r\nid"\r\n{"a" * 64},a.png,ok,007\r\n'.encode())
    frame = manifests.read(path)
    assert frame["shot\r\nid"].tolist() == ["007"]


def test_a_utf8_manifest_reads_alike_here_and_under_an_ascii_locale(tmp_path: Path) -> None:
    # (renamed so that mutmut times it again: its stats linked the old name to the child process only)
    path = tmp_path / "m.csv"
    frame = _frame()
    frame["größe"] = ["groß", "klein"]
    manifests.write(frame, path)
    assert manifests.read(path)["größe"].tolist() == ["groß", "klein"]
    code = ("import json, sys, manifests; f = manifests.read(sys.argv[1]); "
            "print(json.dumps({c: f[c].tolist() for c in f.columns[-1:]}))")  # ASCII: the command line
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}  # locale encoding: ASCII
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          env=env, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout) == {"größe": ["groß", "klein"]}


def test_a_missing_value_spelled_na_is_named_as_a_bad_integer(tmp_path: Path) -> None:
    """Only an empty field is missing: ``NA`` in ``width`` is a bad value, named with its row (pandas'
    own NA spellings would hide it in the text read that finds the row)."""
    path = tmp_path / "m.csv"
    path.write_text(f"sha256,path,status,width\n{'a' * 64},a.png,ok,16\n{'b' * 64},b.png,ok,NA\n")
    assert _error(manifests.read, path) == f"{path}: column 'width', row 2: 'NA' is not an integer"


def test_write_conforms_the_frame_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    manifests.write(pd.DataFrame({"street": ["a"], schema.WIDTH: ["16"], schema.SHA256: ["a" * 64],
                                  schema.STATUS: ["ok"]}), path)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:len(schema.REQUIRED)] == list(schema.REQUIRED) and header[-1] == "street"
    assert manifests.read(path)[schema.WIDTH].tolist() == [16]


def test_write_makes_the_folders_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "m.csv"
    manifests.write(_frame(), path)
    assert len(manifests.read(path)) == 2


def test_write_refuses_a_plain_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert _error(manifests.write, _frame(), folder).startswith(f"{folder} is a folder, not a manifest")
    assert list(folder.iterdir()) == []


def test_other_readers_of_a_parquet_manifest_see_its_columns_and_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    manifests.write(_frame(), path)
    manifests.declare_groups(path, [schema.LABEL], by="test")  # the file now carries gleanset metadata
    assert pq.read_schema(path).names == list(manifests.read(path).columns)  # no index column
    plain = pd.read_parquet(path)  # pandas without gleanset: the dtypes come from the file's metadata
    assert str(plain[schema.WIDTH].dtype) == "Int64" and plain[schema.WIDTH].isna().tolist() == [True, False]


def test_conform_gives_each_column_its_dtype_and_empty_text_is_missing() -> None:
    frame = pd.DataFrame({
        schema.SHA256: pd.Series(["a" * 64, "", "b" * 64], dtype="string"),  # already conformed
        schema.WIDTH: pd.Series([16, None, ""], dtype=object),  # ints as a Python user gives them
        schema.HEIGHT: pd.Series(["16", "", None], dtype="string"),
        schema.SCORE: pd.Series([2**62 + 1, 16.0, float("nan")], dtype=object),
        schema.WEIGHT: pd.Series(["0.5", "", None], dtype=object),
        schema.TIME: pd.Series(["1.5", "", None], dtype="string"),  # text as pandas reads a Parquet's
        schema.OVER_18: pd.Series([" TRUE ", "no", ""], dtype=object),
        "street": pd.Series(["", "x", None], dtype=object),
        schema.CLAIMED_HEIGHT: pd.Series([None, "", None], dtype=object),  # none given at all
    })
    out = manifests.conform(frame)
    assert out[schema.SHA256].isna().tolist() == [False, True, False]
    assert out[schema.WIDTH].tolist()[0] == 16 and out[schema.WIDTH].isna().tolist() == [False, True, True]
    assert out[schema.HEIGHT].tolist()[0] == 16 and out[schema.HEIGHT].isna().tolist() == [False, True, True]
    assert out[schema.SCORE].tolist()[:2] == [2**62 + 1, 16] and out[schema.SCORE].isna().tolist()[2]
    assert out[schema.WEIGHT].tolist()[0] == 0.5 and out[schema.WEIGHT].isna().tolist() == [False, True, True]
    assert out[schema.TIME].tolist()[0] == 1.5 and out[schema.TIME].isna().tolist() == [False, True, True]
    assert out[schema.OVER_18].tolist()[:2] == [True, False] and out[schema.OVER_18].isna().tolist()[2]
    assert out["street"].isna().tolist() == [True, False, True]
    assert [str(out[c].dtype) for c in (schema.WIDTH, schema.HEIGHT, schema.SCORE, schema.WEIGHT,
                                        schema.OVER_18, schema.CLAIMED_HEIGHT, schema.TIME)] == [
        "Int64", "Int64", "Int64", "Float64", "boolean", "Int64", "Float64"]


def test_a_fraction_in_an_integer_column_is_refused_not_cut_off() -> None:
    with pytest.raises(ManifestError) as info:
        manifests.from_records([{schema.SHA256: "a" * 64, schema.STATUS: schema.OK, schema.WIDTH: 16},
                                {schema.SHA256: "b" * 64, schema.STATUS: schema.OK, schema.WIDTH: 16.5}])
    assert str(info.value) == "column 'width', row 2: 16.5 is not an integer"


@pytest.mark.parametrize("words", [["true", "1", "yes", "Yes"], ["false", "0", "no", "NO"]])
def test_every_spelling_of_a_boolean_reads_as_it_says(words: list[str]) -> None:
    out = manifests.conform(pd.DataFrame({schema.OVER_18: pd.Series(words, dtype=object)}))
    assert out[schema.OVER_18].tolist() == [words[0] == "true"] * 4


def test_a_required_manifest_that_is_missing_says_so(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    assert _error(manifests.read, path, [schema.LABEL]) == f"{path} does not exist or is empty"
    path.touch()
    assert _error(manifests.read, path, [schema.LABEL]) == f"{path} does not exist or is empty"


def _outside_parquet(path: Path, width: list[object]) -> Path:
    """A manifest another tool wrote with pandas: ``width`` as it was given (text, float)."""
    pd.DataFrame({schema.SHA256: [f"{i:064x}" for i in range(len(width))], schema.STATUS: schema.OK,
                  schema.WIDTH: width}).to_parquet(path)
    return path


def test_an_integer_column_reads_padded_text_alike_from_every_source(tmp_path: Path) -> None:
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(f"sha256,status,width\n{'a' * 64},ok,16\n{'b' * 64},ok, 17 \n")
    assert manifests.read(csv_path)[schema.WIDTH].tolist() == [16, 17]
    parquet = _outside_parquet(tmp_path / "m.parquet", ["16", " 17 "])
    assert manifests.read(parquet)[schema.WIDTH].tolist() == [16, 17]
    rows = [{schema.SHA256: "a" * 64, schema.WIDTH: 16}, {schema.SHA256: "b" * 64, schema.WIDTH: " 17 "}]
    assert manifests.from_records(rows)[schema.WIDTH].tolist() == [16, 17]


@pytest.mark.parametrize(("text", "value"), [("inf", math.inf), ("1_000", "1_000"),
                                             (str(2**64), 2**64), (str(-2**63 - 1), str(-2**63 - 1))])
def test_a_value_no_integer_column_holds_is_refused_by_row_from_every_source(tmp_path: Path, text: str,
                                                                             value: object) -> None:
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(f"sha256,status,width\n{'a' * 64},ok,16\n{'b' * 64},ok,{text}\n")
    expected = f"{csv_path}: column 'width', row 2: {text!r} is not an integer"
    assert _error(manifests.read, csv_path) == expected
    stored = value if isinstance(value, float) else text  # a float column, or text
    parquet = _outside_parquet(tmp_path / "m.parquet", [16.0 if isinstance(value, float) else "16", stored])
    expected = f"{parquet}: column 'width', row 2: {stored!r} is not an integer"
    assert _error(manifests.read, parquet) == expected
    rows = [{schema.SHA256: "a" * 64, schema.WIDTH: 16}, {schema.SHA256: "b" * 64, schema.WIDTH: value}]
    assert _error(manifests.from_records, rows) == f"column 'width', row 2: {value!r} is not an integer"


def test_number_text_pandas_cannot_parse_names_the_column_and_the_reason(tmp_path: Path) -> None:
    """``1_0.5`` is a number to Python's ``float`` (so no row is named) but not to pandas: the one
    line names the column and gives pandas' reason, which holds the value."""
    parquet = tmp_path / "m.parquet"
    pd.DataFrame({schema.SHA256: ["a" * 64], schema.STATUS: [schema.OK],
                  schema.TIME: ["1_0.5"]}).to_parquet(parquet)
    error = _error(manifests.read, parquet)
    assert error.startswith(f"{parquet}: column 'time' does not hold a number values: ")
    assert "'1_0.5'" in error


def test_yes_no_and_one_zero_in_a_csv_boolean_column_read_as_booleans(tmp_path: Path) -> None:
    """A boolean column is read as text and conformed (``yes``/``no``/``1``/``0`` as written by hand
    or by other tools), never handed to pandas' own boolean parser, which refuses them."""
    path = tmp_path / "m.csv"
    path.write_text(f"sha256,path,status,{schema.LABEL_ISSUE},{schema.SPOILER}\n"
                    f"{'a' * 64},a.png,ok,yes,1\n{'b' * 64},b.png,ok,no,0\n{'c' * 64},c.png,ok,,True\n",
                    encoding="utf-8")
    frame = manifests.read(path)
    assert frame[schema.LABEL_ISSUE].tolist() == [True, False, pd.NA]
    assert frame[schema.SPOILER].tolist() == [True, False, True]


def test_a_parquet_integer_column_another_tool_wrote_keeps_values_beyond_2_53(tmp_path: Path) -> None:
    """A Parquet file without pandas' metadata (pyarrow, another tool) with a nullable int64 column:
    read with nullable dtypes, so 2**53 + 1 stays itself (through float64 it would become 2**53)."""
    import pyarrow as pa

    table = pa.table({schema.SHA256: ["a" * 64, "b" * 64], schema.PATH: ["a.png", "b.png"],
                      schema.STATUS: ["ok", "ok"], schema.BYTES: pa.array([2**53 + 1, None], pa.int64())})
    path = tmp_path / "m.parquet"
    pq.write_table(table, path)
    assert manifests.read(path)[schema.BYTES].tolist() == [2**53 + 1, pd.NA]


def test_a_bad_sha256_is_shown_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"sha256,path,status\n{'a' * 64},a.png,ok\nnot-a-hash,b.png,ok\n", encoding="utf-8")
    want = f"{path}: column 'sha256', row 2: 'not-a-hash' is not 64 hex digits"
    assert _error(manifests.read, path) == want


def test_a_table_that_is_no_manifest_names_its_first_five_columns_or_none(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("f,e,d,c,b,a\n1,2,3,4,5,6\n", encoding="utf-8")
    assert _error(manifests.read, path) == (f"{path} is not a gleanset manifest (it has a, b, c, d, e; no "
                                            "sha256, path or status column): refusing to read or rewrite it")
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n", encoding="utf-8")
    assert "(it has no columns; no sha256" in _error(manifests.read, blank)


def test_numpy_integers_conform_to_each_columns_declared_dtype(tmp_path: Path) -> None:
    """A frame built from Python rows holds numpy int64: an integer column becomes Int64 (written as
    ``16``, never ``16.0``), a float column Float64 and a text column text, each as declared."""
    frame = pd.DataFrame({schema.SHA256: ["a" * 64, "b" * 64], schema.STATUS: ["ok", "ok"],
                          schema.WIDTH: [16, 2**62], schema.WEIGHT: [1, 2], schema.LABEL: [3, 4]})
    assert str(frame[schema.WIDTH].dtype) == "int64"
    out = manifests.conform(frame)
    assert str(out[schema.WIDTH].dtype) == "Int64" and out[schema.WIDTH].tolist() == [16, 2**62]
    assert str(out[schema.WEIGHT].dtype) == "Float64" and out[schema.WEIGHT].tolist() == [1.0, 2.0]
    assert out[schema.LABEL].tolist() == ["3", "4"]
    path = tmp_path / "m.csv"
    manifests.write(frame, path)
    with path.open(encoding="utf-8", newline="") as fh:
        assert [row[schema.WIDTH] for row in csv.DictReader(fh)] == ["16", str(2**62)]


def test_errors_name_the_file_a_command_read(tmp_path: Path) -> None:
    """Every refusal of ``read`` starts with the file's path, in one line: a CSV pandas cannot parse
    (its multi-line reason joined), a column the command needs, a non-manifest."""
    broken = tmp_path / "broken.csv"
    broken.write_text('sha256,path,status\n"unclosed,a.png,ok\n', encoding="utf-8")
    text = _error(manifests.read, broken)
    assert text.startswith(f"cannot read manifest {broken}: ") and "\n" not in text
    assert "EOF inside string" in text
    plain = tmp_path / "m.csv"
    plain.write_text(f"sha256,path,status\n{'a' * 64},a.png,ok\n", encoding="utf-8")
    assert _error(manifests.read, plain, [schema.LABEL]) == \
        f"{plain} has no 'label' column, which this command needs"
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    assert _error(manifests.read, other).startswith(f"{other} is not a gleanset manifest (it has a, b;")
    table = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(table)
    assert _error(manifests.read, table).startswith(f"{table} is not a gleanset manifest (it has a, b;")
