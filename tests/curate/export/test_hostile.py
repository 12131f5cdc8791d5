"""``curate export`` on hostile input: a crafted state file, manifest values that would name paths
outside the export or the dataset, text that would inject into CSVs or ATTRIBUTION.md, a kill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate import cli
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
