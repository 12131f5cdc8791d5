"""``curate export`` on hostile input: a crafted state file, manifest values that would name paths
outside the export or the dataset, text that would inject into CSVs or ATTRIBUTION.md, a kill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import manifests
from curate import cli
from manifests import schema
from tests.curate.conftest import Dataset


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    return int(exc.value.code), capsys.readouterr().err


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    (victim / "deep").mkdir(parents=True)
    (victim / "deep" / "precious.txt").write_text("keep me")
    return victim


@pytest.mark.parametrize("key", ["files", "meta"])
def test_a_crafted_state_file_cannot_delete_outside_the_export(dataset: Dataset, tmp_path: Path, capsys,
                                                               key: str) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    for rel in ("../victim/deep/precious.txt", str(victim / "deep" / "precious.txt")):
        entries = {rel: "0" * 64} if key == "files" else [rel]
        (out / ".gleanset-export.json").write_text(json.dumps({"key": {}, key: entries}))
        code, err = _run(["export", str(dataset.manifest), str(out)], capsys)
        assert code == 4 and "not a file inside" in err and "Traceback" not in err
        assert (victim / "deep" / "precious.txt").read_text() == "keep me"
    assert list(out.iterdir()) == [out / ".gleanset-export.json"]  # nothing written either


def test_stale_clean_up_stops_at_the_export_folder(dataset: Dataset, tmp_path: Path, capsys) -> None:
    from curate.export.files import remove_stale

    victim = _victim(tmp_path)
    (victim / "deep" / "precious.txt").unlink()  # an empty folder outside: not ours to remove
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(victim / "deep")
    assert remove_stale(out, {"../victim/deep/x.jpg": "", "link/x.jpg": ""}, {}) == 0
    assert (victim / "deep").is_dir()


def _set(dataset: Dataset, column: str, value: str, rows: int = 1) -> None:
    with manifests.update(dataset.manifest, command="test") as tx:
        ok = tx.frame.index[tx.frame[schema.STATUS] == schema.OK][:rows]
        tx.frame.loc[ok, column] = value


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fmt", ["imagefolder", "webdataset", "hf"])
@pytest.mark.parametrize("split", ["../../X", "/abs/X", "a/b", "..", "tr\nain"])
def test_a_split_that_is_not_one_folder_name_is_refused(dataset: Dataset, tmp_path: Path, capsys,
                                                       fmt: str, split: str) -> None:
    _set(dataset, schema.SPLIT, split.replace("/abs", str(tmp_path / "abs")))
    before = _files(tmp_path)
    code, err = _run(["export", str(dataset.manifest), str(tmp_path / "a" / "b" / "out"), "-f", fmt], capsys)
    assert code == 4 and "cannot be a folder name" in err and "Traceback" not in err
    assert _files(tmp_path) == before and not (tmp_path / "X").exists() and not (tmp_path / "abs").exists()


def test_unsplit_must_be_one_folder_name(dataset: Dataset, tmp_path: Path, capsys) -> None:
    code, err = _run(["export", str(dataset.manifest), str(tmp_path / "out"), "--unsplit", "../up"], capsys)
    assert code == 2 and "cannot be a folder name" in err
