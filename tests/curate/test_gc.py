"""Rows marked ``removed`` (``harvest reddit --recheck``) are never exported, and ``curate gc`` deletes
the store files no ``ok`` row uses: a dry run by default, only inside the store, never another
manifest's files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate import cli
from curate.export import ExportOptions, export
from curate.gc import GcOptions, gc
from manifests import UsageError, schema
from tests.curate.conftest import make_dataset


def removed_dataset(root: Path) -> tuple[Path, list[str]]:
    """The shared generated dataset with two ok rows marked removed, as a recheck marks them."""
    data = make_dataset(root, per_label=3)
    with manifests.update(data.manifest, "recheck") as tx:
        ok = tx.frame.index[tx.frame[schema.STATUS] == schema.OK][:2]
        tx.frame.loc[ok, [schema.STATUS, schema.ERROR]] = [schema.REMOVED, "deleted: gone at the source"]
        paths = tx.frame.loc[ok, schema.PATH].tolist()
    return data.manifest, paths


def test_export_never_exports_removed_rows(tmp_path: Path) -> None:
    manifest, paths = removed_dataset(tmp_path / "data")
    frame = manifests.read(manifest)
    report = export(frame, manifest.parent, tmp_path / "out", ExportOptions(
        format="csv", include=("duplicate",), unsplit="train"))
    exported = {p.name for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert not {Path(p).name for p in paths} & exported
    ok = frame[frame[schema.STATUS] == schema.OK]
    assert report.rows == len(ok) + (frame[schema.STATUS] == schema.DUPLICATE).sum()
    with pytest.raises(UsageError, match="cannot include status 'removed'"):
        ExportOptions(include=(schema.REMOVED,))


def test_gc_dry_run_then_delete_inside_the_store_only(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    manifest, paths = removed_dataset(tmp_path / "data")
    root = manifest.parent
    frame = manifests.read(manifest)
    stored = {f.relative_to(root).as_posix() for f in (root / "images").rglob("*") if f.is_file()}
    unused = stored - set(frame.loc[frame[schema.STATUS] == schema.OK, schema.PATH])
    assert set(paths) <= unused
    # another manifest of the same folder still uses one of them; a link out of the store is no file
    other = root / "other.csv"
    keep = frame[frame[schema.PATH] == paths[0]].assign(**{schema.STATUS: schema.OK})
    with manifests.Appender(other, interval=0) as sink:
        for row in keep.to_dict("records"):
            sink.add({k: v for k, v in row.items() if not pd.isna(v)})
    outside = tmp_path / "precious.jpg"
    outside.write_bytes(b"not the store's")
    os.symlink(outside, root / "images" / "link.jpg")

    dry = gc(manifest)
    assert set(dry.files) == unused - {paths[0]} and not dry.deleted
    assert all((root / p).exists() for p in unused) and "other.csv" in dry.manifests
    with pytest.raises(SystemExit) as code:
        cli.main(["gc", str(manifest), "--delete"])
    assert code.value.code == 0 and "deleted" in capsys.readouterr().out
    assert not any((root / p).exists() for p in unused - {paths[0]})
    assert (root / paths[0]).exists() and outside.exists()
    after = manifests.read(manifest)
    ok = after[after[schema.STATUS] == schema.OK]
    assert all((root / p).exists() for p in ok[schema.PATH])
    assert after.loc[after[schema.PATH].isin(unused - {paths[0]})].empty  # rows lost the path
    assert (after[schema.STATUS] == schema.REMOVED).sum() == 2  # and kept their status
    assert gc(manifest, GcOptions(delete=True)).files == []


def test_a_row_merged_while_gc_lists_keeps_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another command merges an ok row for an unused file between gc's listing and its deletion (the
    listing is read without the lock): the deletion, under the lock, must spare that file."""
    import curate.gc as gc_module

    manifest, paths = removed_dataset(tmp_path / "data")
    listing = gc_module._unreferenced

    def listed_then_another_command_writes(store: Path, used: set[Path]) -> list[Path]:
        found = listing(store, used)
        with manifests.update(manifest, "harvest folder again") as tx:  # a real write, as a rerun does
            tx.frame.loc[tx.frame[schema.PATH] == paths[0], schema.STATUS] = schema.OK
        return found

    monkeypatch.setattr(gc_module, "_unreferenced", listed_then_another_command_writes)
    result = gc(manifest, GcOptions(delete=True))
    assert (manifest.parent / paths[0]).is_file()
    assert paths[0] not in result.files and paths[1] in result.files
    assert not (manifest.parent / paths[1]).exists()
