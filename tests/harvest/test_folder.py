"""``harvest folder``: layouts, patterns, bad files, copying, resuming, and the CLI around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import manifests
from harvest import cli
from harvest.pattern import compile_pattern
from harvest.registry import COLLECTORS, FolderCollector, FolderOptions
from manifests import Appender, UsageError, schema
from tests.fixtures import media
from tests.fixtures.kill import kill_mid_run


def run_folder(root: Path, manifest: Path, **kw) -> dict:
    with Appender(manifest) as sink:
        return FolderCollector(FolderOptions(root=root, **kw)).run(sink).to_dict()


def harvest(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def split_tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for split in ("train", "valid", "test"):
        for label in ("doom", "animal crossing"):
            for i in range(2):
                media.write(root / split / label / f"{i}.jpg",
                            media.jpeg(hash((split, label, i)) % 10_000))
    media.write(root / "train" / "doom" / "notes.txt", b"not an image")
    media.write(root / "train" / "doom" / "broken.jpg", media.truncated_png())
    return root


def test_imagefolder_layout_gives_labels_and_splits(split_tree: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "out" / "manifest.csv"
    summary = run_folder(split_tree, manifest)
    frame = manifests.read(manifest)
    ok = frame[frame[schema.STATUS] == "ok"]
    assert len(ok) == 12 and summary["ok"] == 12
    assert sorted(ok[schema.SPLIT].unique()) == ["test", "train", "val"]
    assert sorted(ok[schema.LABEL].unique()) == ["animal crossing", "doom"]
    row = ok[ok[schema.PATH].str.endswith("valid/doom/0.jpg")].iloc[0]
    assert row[schema.PATH] == "../data/valid/doom/0.jpg"  # relative to the manifest's folder
    assert (manifest.parent / row[schema.PATH]).exists()
    assert row[schema.ORIGIN] == str((split_tree / "valid/doom/0.jpg").resolve())
    assert row[schema.SOURCE] == "folder" and row[schema.FORMAT] == "jpeg"
    bad = frame[frame[schema.STATUS] != "ok"].iloc[0]
    assert bad[schema.STATUS] == "truncated" and bad[schema.LABEL] == "doom"
    assert summary["skipped"] == {"not_image_file": 1}


def test_rerun_adds_nothing_and_reads_nothing(split_tree: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "manifest.parquet"
    run_folder(split_tree, manifest)
    before = manifest.read_bytes()
    import harvest.folder as folder_mod

    def must_not_read(task):
        raise AssertionError(f"re-read {task.file}")

    monkeypatch.setattr(folder_mod, "_inspect", must_not_read)
    summary = run_folder(split_tree, manifest)
    assert summary["added"] == 0 and summary["already_present"] == 13
    assert manifest.read_bytes() == before
    # one entry for the first run (plus "partial" ones if it took more than the flush budget)
    assert len([e for e in manifests.lineage_entries(manifest)
                if not e.get("details", {}).get("partial")]) == 1


def test_same_bytes_twice_make_one_row(tmp_path: Path) -> None:
    data = media.png(7)
    media.write(tmp_path / "d" / "a" / "x.png", data)
    media.write(tmp_path / "d" / "b" / "copy.png", data)
    summary = run_folder(tmp_path / "d", tmp_path / "m.csv")
    assert summary["added"] == 1 and summary["already_present"] == 1
    assert len(manifests.read(tmp_path / "m.csv")) == 1


def test_toonvision_pattern(tmp_path: Path) -> None:
    root = tmp_path / "streets"
    names = ["ttc/cog_bossbot_flunky_1.png", "ttc/cog_lawbot_bottomfeeder_2.png",
             "dg/cog_sellbot_cold_caller_3.png", "dg/notacog.png"]
    for i, name in enumerate(names):
        media.write(root / name, media.png(i))
    summary = run_folder(root, tmp_path / "m.csv", pattern="{street}/cog_{suit}_{entity}_{n:\\d+}.png",
                         label_field="suit")
    frame = manifests.read(tmp_path / "m.csv").sort_values(schema.PATH)
    assert frame[schema.LABEL].tolist() == ["sellbot", "bossbot", "lawbot"]
    assert frame["street"].tolist() == ["dg", "ttc", "ttc"]
    assert frame["entity"].tolist() == ["cold_caller", "flunky", "bottomfeeder"]
    assert frame["n"].tolist() == ["3", "1", "2"]
    assert summary["skipped"] == {"unmatched": 1}
    assert summary["skipped_examples"]["unmatched"] == ["dg/notacog.png"]
    assert manifests.group_columns(tmp_path / "m.csv") == ("street",)  # location-like: a group by default


def test_group_fields_are_recorded_as_asked(tmp_path: Path) -> None:
    root = tmp_path / "shots"
    for i, name in enumerate(["lab/a_hero_1.png", "dock/b_villain_2.png"]):
        media.write(root / name, media.png(i))
    pattern = "{site}/{label}_{character}_{n}.png"
    run_folder(root, tmp_path / "auto.csv", pattern=pattern)
    assert manifests.group_columns(tmp_path / "auto.csv") == ("site",)
    run_folder(root, tmp_path / "marked.csv", pattern=pattern, group_fields=("character", "site"))
    assert manifests.group_columns(tmp_path / "marked.csv") == ("character", "site")
    run_folder(root, tmp_path / "both.csv", pattern=pattern, group_fields=("character", "auto"))
    assert manifests.group_columns(tmp_path / "both.csv") == ("character", "site")
    run_folder(root, tmp_path / "none.csv", pattern=pattern, group_fields=())
    assert manifests.group_columns(tmp_path / "none.csv") == ()
    with pytest.raises(UsageError, match="--group-field 'stage' is not a field of --pattern"):
        FolderOptions(root=root, pattern=pattern, group_fields=("stage",))


def test_smash_pattern_and_copy_into_store(tmp_path: Path) -> None:
    root = tmp_path / "smash"
    media.write(root / "mario_red_fd_left_bg_on_12.jpg", media.jpeg(1))
    media.write(root / "link_green_bf_right_bg_on_3.jpg", media.jpeg(2))
    manifest = tmp_path / "ds" / "manifest.csv"
    run_folder(root, manifest, copy=True, label_field="character",
               pattern="{character}_{color}_{stage}_{orientation}_bg_on_{num}.jpg")
    frame = manifests.read(manifest).sort_values(schema.LABEL)
    assert frame[schema.LABEL].tolist() == ["link", "mario"]
    assert frame["stage"].tolist() == ["bf", "fd"]
    for _, row in frame.iterrows():
        assert row[schema.PATH].startswith("images/") and (manifest.parent / row[schema.PATH]).exists()
        assert row[schema.ORIGIN].endswith(".jpg") and "smash" in row[schema.ORIGIN]


def test_loose_files_have_no_label_unless_given(tmp_path: Path) -> None:
    media.write(tmp_path / "shots" / "a.png", media.png(1))
    run_folder(tmp_path / "shots", tmp_path / "m.csv")
    assert manifests.read(tmp_path / "m.csv")[schema.LABEL].isna().all()
    run_folder(tmp_path / "shots", tmp_path / "m2.csv", label="doom")
    assert manifests.read(tmp_path / "m2.csv")[schema.LABEL].tolist() == ["doom"]


@pytest.mark.parametrize("bad", ["{a}_{a}.png", "plain.png", "{sha256}.png", "{x:(}.png"])
def test_bad_patterns_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        compile_pattern(bad)


def test_label_field_must_be_a_pattern_field(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="label-field"):  # the options check themselves
        FolderOptions(root=tmp_path, pattern="{a}.png", label_field="b")


def test_many_files_use_the_process_pool(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(150):
        media.write(root / f"c{i % 3}" / f"{i}.png", media.png(i, (16, 16)))
    media.write(root / "c0" / "bad.png", media.html_page())
    summary = run_folder(root, tmp_path / "m.csv", workers=2)
    assert summary["ok"] == 150 and summary["statuses"]["not_image"] == 1
    frame = manifests.read(tmp_path / "m.csv")
    assert frame[schema.SHA256].is_unique and len(frame) == 151


def test_collector_registry_contract(tmp_path: Path) -> None:
    from harvest.cli import app

    commands = {c.name for c in app.registered_commands}
    for name, cls in COLLECTORS.items():
        assert cls.source and cls.__doc__ and name in commands  # every collector has its command
        assert cls.example.startswith(f"harvest {name} ")
    # constructing does no I/O: a folder that does not exist is only an error when run
    collector = FolderCollector(FolderOptions(root=tmp_path / "missing"))
    with pytest.raises(manifests.InputError, match="is not a folder"):
        collector.run(Appender(tmp_path / "m.csv"))
    assert not (tmp_path / "m.csv").exists()


def test_cli_json_summary_and_exit_codes(split_tree: Path, tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "m.csv"
    code, out, _ = harvest(["folder", str(split_tree), "-m", str(manifest), "--json"], capsys)
    data = json.loads(out)
    (entry,) = [e for e in manifests.lineage_entries(manifest)
                if not e.get("details", {}).get("partial")]
    assert entry["command"] == f"harvest folder {split_tree} -m {manifest} --json"
    assert code == 0 and data["ok"] == 12 and data["by_label"]["doom"] == {"ok": 6, "truncated": 1}
    code, out, _ = harvest(["folder", str(split_tree), "-m", str(tmp_path / "s.csv"), "--json",
                            "--strict"], capsys)
    assert code == 3
    code, _, err = harvest(["folder", str(tmp_path / "nope"), "-m", str(manifest)], capsys)
    assert code == 4 and "is not a folder" in err and "Traceback" not in err
    code, _, err = harvest(["folder", str(split_tree), "--pattern", "x.png"], capsys)
    assert code == 2 and "no {field}" in err


def test_cli_table_output(split_tree: Path, tmp_path: Path, capsys) -> None:
    code, _, err = harvest(["folder", str(split_tree), "-m", str(tmp_path / "m.csv")], capsys)
    assert code == 0
    assert "animal crossing" in err and "truncated" in err and "12 rows added" not in err
    assert "13 rows added" in err and "not_image_file" in err


@pytest.mark.shared
def test_shared_imagededup_images(shared_fixtures: Path, tmp_path: Path) -> None:
    images = shared_fixtures / "images"
    summary = run_folder(images, tmp_path / "m.csv", label="photo")
    frame = manifests.read(tmp_path / "m.csv")
    rows = {Path(o).name: r for o, r in zip(frame[schema.ORIGIN], frame.to_dict("records"),
                                             strict=True)}
    corrupt = rows["ukbench09268_corrupt.jpg"]
    assert corrupt[schema.STATUS] == "corrupt" and corrupt[schema.ERROR]
    formats = {r[schema.FORMAT] for r in rows.values() if r[schema.STATUS] == "ok"}
    assert {"jpeg", "png", "gif", "webp", "tiff", "ppm"} <= formats
    # ukbench09380.{bmp,jpeg,png,svg} hold the same JPEG bytes: one row, three already present.
    assert summary["already_present"] == 3
    assert rows["ukbench09380.bmp"][schema.FORMAT] == "jpeg"
    expected_files = sum(1 for p in images.rglob("*") if p.is_file() and p.suffix != ".txt")
    assert len(frame) + summary["already_present"] == expected_files
    assert summary["skipped"] == {"not_image_file": 1}


KILLED_IMPORT = """
import sys
from pathlib import Path
from manifests import Appender
from harvest.registry import FolderCollector, FolderOptions
with Appender(sys.argv[2], batch_size=20, interval=0) as sink:
    FolderCollector(FolderOptions(root=Path(sys.argv[1]), workers=1)).run(sink)
"""


def test_killed_import_leaves_valid_manifest_and_resumes(tmp_path: Path) -> None:
    import sys

    root = tmp_path / "many"
    for i in range(600):
        media.write(root / f"c{i % 2}" / f"{i}.png", media.png(i, (64, 64)))
    manifest = tmp_path / "m.csv"
    kill_mid_run([sys.executable, "-c", KILLED_IMPORT, str(root), str(manifest)],
                 lambda: manifest.exists() and len(manifests.read(manifest)) >= 40)
    partial = len(manifests.read(manifest))
    assert 0 < partial < 600, "the kill should land mid-import"
    summary = run_folder(root, manifest)
    frame = manifests.read(manifest)
    assert len(frame) == 600 and frame[schema.SHA256].is_unique
    assert summary["added"] == 600 - partial and summary["already_present"] == partial


def test_cli_group_field_none_and_lists(tmp_path: Path, capsys) -> None:
    root = tmp_path / "shots"
    media.write(root / "lab" / "a_hero_1.png", media.png(1))
    pattern = ["--pattern", "{site}/{label}_{character}_{n}.png", "--json"]
    code, out, _ = harvest(["folder", str(root), "-m", str(tmp_path / "a.csv"), *pattern,
                            "--group-field", "none"], capsys)
    assert code == 0 and json.loads(out)["group_columns"] == []
    assert manifests.group_columns(tmp_path / "a.csv") == ()
    code, out, _ = harvest(["folder", str(root), "-m", str(tmp_path / "b.csv"), *pattern,
                            "--group-field", "character,site"], capsys)
    assert code == 0 and manifests.group_columns(tmp_path / "b.csv") == ("character", "site")
    code, _, err = harvest(["folder", str(root), "-m", str(tmp_path / "c.csv"), *pattern,
                            "--group-field", "stage"], capsys)
    assert code == 2 and "--group-field 'stage' is not a field of --pattern" in err
