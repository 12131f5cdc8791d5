"""Hostile manifests: every read error is one line naming file, column, row and value; foreign files
are refused and never rewritten; identifiers are 64 hex digits; -o rebases paths; stale temp files go."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import manifests
from manifests import ManifestError, schema
from manifests.update import rebase_paths

SHA = "ab" * 32


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_float_in_an_integer_column_names_file_column_row_and_value(tmp_path: Path) -> None:
    text = f"sha256,path,status,height\n{SHA},a.png,ok,4\n{SHA[::-1]},b.png,ok,3.5\n"
    path = _csv(tmp_path / "m.csv", text)
    with pytest.raises(ManifestError) as err:
        manifests.read(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    assert "'height'" in text and "row 2" in text and "'3.5'" in text
    assert err.value.exit_status == manifests.ExitStatus.INPUT


def test_text_in_width_names_the_row(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", f"sha256,path,status,width\n{SHA},a.png,ok,wide\n")
    with pytest.raises(ManifestError, match=r"'width', row 1: 'wide' is not an integer"):
        manifests.read(path)


def test_a_csv_that_is_not_a_manifest_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = _csv(tmp_path / "n.csv", "name,age\nann,4\n")
    before = path.read_bytes()
    with pytest.raises(ManifestError, match="not a gleanset manifest"):
        manifests.read(path)
    with pytest.raises(ManifestError, match="not a gleanset manifest"):
        manifests.Appender(path)
    with pytest.raises(ManifestError, match="not a gleanset manifest"), manifests.update(path) as tx:
        tx.frame = tx.frame
    assert path.read_bytes() == before


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/abs/path", "ab" * 31, "zz" * 32])
def test_sha256_of_a_usable_row_must_be_64_hex_digits(tmp_path: Path, bad: str) -> None:
    path = _csv(tmp_path / "m.csv", f"sha256,path,status\n{SHA},a.png,ok\n{bad},b.png,ok\n")
    with pytest.raises(ManifestError, match=r"'sha256', row 2: .* is not 64 hex digits"):
        manifests.read(path)


def test_a_failed_row_may_lack_a_sha256(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", "sha256,path,status,origin\n,,network,http://x/a.jpg\n")
    assert len(manifests.read(path)) == 1


def test_required_columns_are_checked_for_the_command_that_needs_them(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", "path,status,label\na.png,ok,cat\n")
    assert len(manifests.read(path)) == 1  # stats can read it
    with pytest.raises(ManifestError, match="no 'sha256' column"):
        manifests.read(path, require=(schema.SHA256,))
    blank = _csv(tmp_path / "b.csv", f"sha256,path,status,label\n{SHA},a.png,ok,cat\n,b.png,ok,dog\n")
    with pytest.raises(ManifestError, match=r"'sha256', row 2 is blank on a row with status ok"):
        manifests.read(blank, require=(schema.SHA256,))


def test_output_elsewhere_rebases_relative_paths(tmp_path: Path) -> None:
    src = tmp_path / "data" / "m.csv"
    manifests.write(pd.DataFrame({schema.SHA256: [SHA], schema.PATH: ["images/a.png"],
                                  schema.STATUS: ["ok"]}), src)
    out = tmp_path / "other" / "deep" / "out.csv"
    with manifests.update(src, output=out) as tx:
        tx.frame[schema.LABEL] = "cat"
    (row,) = manifests.read(out).to_dict("records")
    assert (out.parent / row[schema.PATH]).resolve() == (src.parent / "images/a.png").resolve()
    assert manifests.read(src)[schema.PATH].tolist() == ["images/a.png"]  # input untouched
    same = rebase_paths(manifests.read(src), src, src.with_name("x.csv"))
    assert same[schema.PATH].tolist() == ["images/a.png"]


def test_stale_temp_files_of_a_killed_write_are_removed_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    manifests.write(pd.DataFrame({schema.SHA256: [SHA], schema.STATUS: ["ok"]}), path)
    stale = tmp_path / ".m.csv.k1ll3d.tmp"
    stale.write_text("half a manifest")
    other = tmp_path / ".other.csv.x.tmp"
    other.write_text("not ours")
    with manifests.locked(path):
        pass
    assert not stale.exists() and other.exists()


def test_a_status_change_is_counted_as_changed(tmp_path: Path) -> None:
    old = manifests.conform(pd.DataFrame({schema.SHA256: [SHA, SHA[::-1]], schema.STATUS: ["ok", "ok"]}))
    new = old.copy()
    new.loc[1, schema.STATUS] = schema.DUPLICATE
    assert manifests.diff(old, new) == manifests.Changes(added=0, changed=1, removed=0)


def test_a_replaced_failure_is_logged_as_a_change(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    fail = {schema.SOURCE: "t", schema.ORIGIN: "u", schema.STATUS: "network"}
    with manifests.Appender(path, command="first") as sink:
        sink.add(fail)
    with manifests.Appender(path, command="second") as sink:
        sink.add({**fail, schema.STATUS: "ok", schema.SHA256: SHA})
    last = manifests.lineage_entries(path)[-1]
    assert (last["added"], last["changed"], last["removed"]) == (0, 1, 0)


def test_a_killed_run_keeps_its_flushed_rows_and_their_lineage(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    sink = manifests.Appender(path, command="dies", max_delay=0)
    sink.add({schema.SHA256: SHA, schema.STATUS: "ok", schema.SOURCE: "t"})
    # no close(): the process "dies" here, yet the row and an entry for it are on disk
    assert len(manifests.read(path)) == 1
    (entry,) = manifests.lineage_entries(path)
    assert entry["added"] == 1 and entry["details"]["partial"] is True


def test_the_final_lineage_entry_keeps_the_run_details_after_partial_flushes(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    with manifests.Appender(path, command="run", max_delay=0) as sink:
        sink.add({schema.SHA256: SHA, schema.STATUS: "ok", schema.SOURCE: "t"})  # flushed at once
        sink.details["videos"] = {"v.mp4": {"finished": True}}
    partial, final = manifests.lineage_entries(path)
    assert partial["added"] == 1 and partial["details"]["partial"] is True
    assert final["added"] == 0 and final["details"]["videos"] == {"v.mp4": {"finished": True}}
