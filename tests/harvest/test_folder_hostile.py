"""``harvest folder`` on odd trees: undecodable names, links leaving the root, symlinked folders,
NFC/NFD labels, files that change or vanish between runs, empty folders and foreign manifests."""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

import manifests
from manifests import schema
from tests.fixtures import media
from tests.harvest.test_folder import harvest, run_folder


def test_a_non_utf8_file_name_is_skipped_and_named_and_the_rest_imported(tmp_path: Path) -> None:
    root = tmp_path / "shots"
    media.write(root / "cats" / "good.png", media.png(1))
    bad = os.path.join(os.fsencode(root / "cats"), b"caf\xe9.png")
    with open(bad, "wb") as fh:
        fh.write(media.png(2))
    summary = run_folder(root, tmp_path / "m.csv")
    assert summary["ok"] == 1 and summary["skipped"] == {"undecodable_name": 1}
    (name,) = summary["skipped_examples"]["undecodable_name"]
    assert name.endswith("caf\\xe9.png")
    assert manifests.read(tmp_path / "m.csv")[schema.STATUS].tolist() == ["ok"]


def test_a_link_leaving_the_root_is_an_outside_root_row_unless_followed(tmp_path: Path) -> None:
    root, secret = tmp_path / "shots", tmp_path / "private" / "secret.png"
    media.write(secret, media.png(3))
    media.write(root / "cats" / "a.png", media.png(4))
    (root / "cats" / "link.png").symlink_to(secret)
    summary = run_folder(root, tmp_path / "m.csv")
    frame = manifests.read(tmp_path / "m.csv").set_index(schema.STATUS)
    assert summary["statuses"] == {"ok": 1, schema.OUTSIDE_ROOT: 1}
    row = frame.loc[schema.OUTSIDE_ROOT]
    assert str(secret) in row[schema.ERROR] and pd_isna(row[schema.SHA256])
    followed = run_folder(root, tmp_path / "f.csv", follow_links=True)
    assert followed["statuses"] == {"ok": 2}


def pd_isna(value: object) -> bool:
    import pandas as pd
    return bool(pd.isna(value))


def test_symlinked_class_folders_warn_and_fail_under_strict(tmp_path: Path, capsys) -> None:
    root, elsewhere = tmp_path / "shots", tmp_path / "elsewhere" / "dogs"
    media.write(root / "cats" / "a.png", media.png(5))
    media.write(elsewhere / "b.png", media.png(6))
    (root / "dogs").symlink_to(elsewhere, target_is_directory=True)
    (root / "cats" / "loop").symlink_to(root, target_is_directory=True)
    code, _, err = harvest(["folder", str(root), "-m", str(tmp_path / "m.csv"), "--strict"], capsys)
    assert code == 3 and "warning: 2 symlinked folders not entered" in err
    summary = run_folder(root, tmp_path / "f.csv", follow_links=True)
    assert summary["by_label"] == {"cats": {"ok": 1}, "dogs": {"ok": 1}}  # the loop entered once


def test_nfc_and_nfd_folder_names_are_one_label_said_once(tmp_path: Path, capsys) -> None:
    root = tmp_path / "shots"
    nfc, nfd = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")
    media.write(root / "x" / nfc / "a.png", media.png(7))
    media.write(root / "y" / nfd / "b.png", media.png(8))
    code, _, err = harvest(["folder", str(root), "-m", str(tmp_path / "m.csv")], capsys)
    assert code == 0 and err.count("labels normalised to Unicode NFC") == 1
    assert set(manifests.read(tmp_path / "m.csv")[schema.LABEL]) == {nfc}


def test_changed_files_replace_their_row_and_vanished_files_go_missing(tmp_path: Path) -> None:
    root, manifest = tmp_path / "shots", tmp_path / "m.csv"
    media.write(root / "cats" / "a.png", media.png(9, (40, 30)))
    media.write(root / "cats" / "b.png", media.png(10))
    run_folder(root, manifest)
    old = manifests.read(manifest).set_index(schema.PATH).loc["shots/cats/a.png", schema.SHA256]
    media.write(root / "cats" / "a.png", media.png(11, (64, 48)))
    (root / "cats" / "b.png").unlink()
    summary = run_folder(root, manifest)
    assert summary["reconciled"] == {schema.REPLACED: 1, schema.MISSING: 1}
    frame = manifests.read(manifest)
    ok = frame[frame[schema.STATUS] == schema.OK]
    assert ok[schema.PATH].tolist() == ["shots/cats/a.png"] and ok[schema.SHA256].iloc[0] != old
    gone = frame.set_index(schema.STATUS)
    assert gone.loc[schema.REPLACED, schema.SHA256] == old
    assert "gone at 20" in gone.loc[schema.MISSING, schema.ERROR]
    (entry,) = [e for e in manifests.lineage_entries(manifest) if "reconciled" in e.get("details", {})]
    assert entry["changed"] == 2 and entry["added"] == 0 and entry["removed"] == 0
    media.write(root / "cats" / "b.png", media.png(10))  # it comes back
    run_folder(root, manifest)
    frame = manifests.read(manifest)
    assert sorted(frame[frame[schema.STATUS] == schema.OK][schema.PATH]) == [
        "shots/cats/a.png", "shots/cats/b.png"]
    assert (frame[schema.STATUS] == schema.MISSING).sum() == 0


def test_a_file_the_new_options_do_not_import_is_not_missing(tmp_path: Path) -> None:
    root, manifest = tmp_path / "shots", tmp_path / "m.csv"
    media.write(root / "cats" / "a.png", media.png(15))
    media.write(root / "cats" / "b.png", media.png(16))
    run_folder(root, manifest)
    other = run_folder(root, manifest, pattern="{label}/a.png")  # b.png is there, just not matched
    assert other["reconciled"] == {schema.REPLACED: 0, schema.MISSING: 0}
    assert (manifests.read(manifest)[schema.STATUS] == schema.OK).sum() == 2


def test_empty_folder_and_unmatched_pattern_warn(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = harvest(["folder", str(tmp_path / "empty"), "-m", str(tmp_path / "m.csv"),
                            "--strict"], capsys)
    assert code == 3 and "holds no files" in err
    assert not (tmp_path / "m.csv").exists()  # an empty import creates no manifest
    media.write(tmp_path / "shots" / "a.png", media.png(12))
    code, _, err = harvest(["folder", str(tmp_path / "shots"), "-m", str(tmp_path / "m.csv"),
                            "--pattern", "{street}/cog_{n}.png"], capsys)
    assert code == 0 and "matched none of the 1 image files" in err


def test_a_csv_that_is_not_a_manifest_is_refused_and_not_rewritten(tmp_path: Path, capsys) -> None:
    media.write(tmp_path / "shots" / "a.png", media.png(13))
    foreign = tmp_path / "n.csv"
    foreign.write_text("name,age\nann,4\n")
    code, _, err = harvest(["folder", str(tmp_path / "shots"), "-m", str(foreign)], capsys)
    assert code == 4 and "not a gleanset manifest" in err and "Traceback" not in err
    assert foreign.read_text() == "name,age\nann,4\n"


def test_an_empty_manifest_file_is_an_empty_manifest(tmp_path: Path) -> None:
    media.write(tmp_path / "shots" / "a.png", media.png(14))
    (tmp_path / "m.csv").write_bytes(b"")
    assert run_folder(tmp_path / "shots", tmp_path / "m.csv")["ok"] == 1


def _deep_tree(root: Path, depth: int) -> None:
    """``root/cats/d/d/d/...`` ``depth`` folders deep (past PATH_MAX), made through folder descriptors."""
    media.write(root / "cats" / "top.png", media.png(11))
    fd = os.open(root / "cats", os.O_RDONLY)
    try:
        for level in range(depth):
            os.mkdir("d", dir_fd=fd)
            if level == 20:
                with open(os.open("d/deep.png", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as fh:
                    fh.write(media.png(12))
            new = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
    finally:
        os.close(fd)


def _remove_deep(folder: Path) -> None:
    """Remove ``folder/d/d/...`` a level at a time (shutil.rmtree, and pytest's clean-up, recurse)."""
    for _ in range(6_000):
        inner = folder / "d"
        if not inner.exists():
            return
        if (inner / "d").exists():
            (inner / "d").rename(folder / "next")
        for child in inner.iterdir():
            child.unlink()
        inner.rmdir()
        if (folder / "next").exists():
            (folder / "next").rename(inner)


@pytest.fixture
def deep_tree(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "shots"
    try:
        _deep_tree(root, 3_000)  # 6,000 bytes of path (PATH_MAX is 4,096), 3x the recursion limit
        yield root
    finally:
        _remove_deep(root / "cats")


def test_a_3000_deep_folder_tree_is_walked_without_recursion(deep_tree: Path, tmp_path: Path,
                                                              capsys) -> None:
    root = deep_tree
    code, out, err = harvest(["folder", str(root), "-m", str(tmp_path / "m.csv"), "--json"], capsys)
    assert code == 0 and "Traceback" not in err and "RecursionError" not in err, err[:400]
    summary = json.loads(out)
    assert summary["statuses"] == {"ok": 2} and summary["skipped"].get("unreadable_folder", 0) >= 1
