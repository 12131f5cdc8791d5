"""curate on hostile manifests: foreign CSVs, missing or blank identities, paths leading out of the
dataset, check-only runs that must not claim to have changed anything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate import cli
from manifests import schema
from tests.curate.dedupe.test_dedupe import trio  # noqa: F401 (fixture)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    return int(exc.value.code), capsys.readouterr().err


@pytest.mark.parametrize("command", [["stats"], ["dedupe"], ["split", "--random"], ["balance"]])
def test_a_foreign_csv_is_refused_in_one_line_and_left_alone(tmp_path: Path, capsys,
                                                             command: list[str]) -> None:
    foreign = tmp_path / "people.csv"
    foreign.write_text("name,age\nann,4\nbob,5\n")
    code, err = _run([*command, str(foreign)], capsys)
    assert code == 4 and "not a gleanset manifest" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if not line.startswith("manifest: ")]) == 1
    assert foreign.read_text() == "name,age\nann,4\nbob,5\n"


def test_dedupe_needs_sha256_and_refuses_blank_ones_on_usable_rows(tmp_path: Path, capsys) -> None:
    no_sha = tmp_path / "a.csv"
    no_sha.write_text("path,status,label\nx.jpg,ok,cat\n")
    code, err = _run(["dedupe", str(no_sha)], capsys)
    assert code == 4 and "no 'sha256' column" in err
    assert no_sha.read_text() == "path,status,label\nx.jpg,ok,cat\n"
    blank = tmp_path / "b.csv"
    blank.write_text(f"sha256,path,status,label\n{'a' * 64},x.jpg,ok,cat\n,y.jpg,ok,cat\n")
    code, err = _run(["dedupe", str(blank)], capsys)
    assert code == 4 and "'sha256', row 2 is blank" in err


def test_split_refuses_usable_rows_without_a_label(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"sha256,path,status,label\n{'a' * 64},x.jpg,ok,cat\n{'b' * 64},y.jpg,ok,\n")
    code, err = _run(["split", str(path), "--random"], capsys)
    assert code == 4 and "'label', row 2 is blank" in err


def test_delete_files_stays_inside_the_dataset_folder(trio, tmp_path: Path, capsys) -> None:  # noqa: F811
    root, frame = trio
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    shutil.copy(root / "small.jpg", outside / "small.jpg")
    frame = frame.copy()
    frame.loc[frame[schema.PATH] == "small.jpg", schema.PATH] = f"../{outside.name}/small.jpg"
    manifest = root / "manifest.csv"
    manifests.write(frame, manifest)
    code, err = _run(["dedupe", str(manifest), "--delete-files", "--yes"], capsys)
    assert code == 0 and "1 files outside" in err
    assert (outside / "small.jpg").exists()  # the duplicate outside the dataset was not deleted
    assert not (root / "medium.jpg").exists()  # the one inside was
    shutil.rmtree(outside)


def test_leaks_check_does_not_claim_to_mark_rows(trio, capsys) -> None:  # noqa: F811
    root, frame = trio
    manifest = root / "manifest.csv"
    manifests.write(frame.assign(**{schema.SPLIT: ["train", "val", "test", "train"]}), manifest)
    before = manifest.read_bytes()
    code, err = _run(["dedupe", str(manifest), "--leaks"], capsys)
    assert code == 1 and "rows marked duplicate" not in err and "would be marked" in err
    assert manifest.read_bytes() == before


def test_float_in_height_is_one_line_in_every_command(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.csv"
    pd.DataFrame({schema.SHA256: ["a" * 64], schema.PATH: ["x.jpg"], schema.STATUS: ["ok"],
                  schema.LABEL: ["cat"], schema.HEIGHT: ["3.5"]}).to_csv(path, index=False)
    for command in (["stats"], ["dedupe"], ["split", "--random"]):
        code, err = _run([*command, str(path)], capsys)
        assert code == 4 and "'height', row 1: '3.5' is not an integer" in err, command
        assert len([line for line in err.splitlines() if not line.startswith("manifest: ")]) == 1
