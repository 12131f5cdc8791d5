"""``curate check``: a clean manifest passes; a missing file, a changed file, a group in two splits and a
near-copy across splits each fail it, by name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import manifests
from curate import cli
from curate.dedupe import DedupeOptions, dedupe
from curate.quality.check import CheckOptions, check_manifest
from manifests import schema
from tests.fixtures.transforms import scene


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Eight photos in four scenes (two shots each), split by scene, hashed by curate dedupe."""
    rows = []
    for i in range(8):
        path = tmp_path / "images" / f"{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        scene(160, 120, seed=500 + i).save(path, quality=90)
        rows.append({schema.SHA256: hashlib.sha256(path.read_bytes()).hexdigest(),
                     schema.PATH: f"images/{i}.jpg", schema.LABEL: "ab"[i % 2], schema.STATUS: schema.OK,
                     schema.WIDTH: 160, schema.HEIGHT: 120, schema.SCENE: f"s{i // 2}",
                     schema.SPLIT: ("train", "train", "val", "test")[i // 2]})
    frame = dedupe(manifests.from_records(rows), tmp_path, DedupeOptions()).frame
    manifest = tmp_path / "manifest.csv"
    manifests.write(frame, manifest)
    return manifest


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    return int(exc.value.code)


def test_a_clean_manifest_passes(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["check", str(dataset), "--full", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["clean"] and set(data["checks"]) >= {"schema", "paths", "sha256", "groups", "near_copies"}


def test_each_problem_is_caught(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = dataset.parent
    (root / "images/1.jpg").unlink()  # a missing file
    scene(160, 120, seed=999).save(root / "images/2.jpg", quality=90)  # a changed file
    frame = manifests.read(dataset)
    frame.loc[4, schema.SPLIT] = "test"  # scene s2 now in val and test
    copy = root / "images/copy.jpg"  # a recompressed copy of a train image, in test
    Image.open(root / "images/0.jpg").save(copy, quality=60)
    extra = frame.iloc[[0]].assign(**{schema.SHA256: hashlib.sha256(copy.read_bytes()).hexdigest(),
                                      schema.PATH: "images/copy.jpg", schema.SPLIT: "test",
                                      schema.SCENE: "elsewhere", schema.DUP_CLUSTER: None})
    frame = manifests.conform(pd.concat([frame, extra], ignore_index=True))
    manifests.write(frame, dataset)
    before = dataset.read_bytes()
    assert _run(["check", str(dataset), "--full"]) == 1
    err = capsys.readouterr().err
    assert "paths: 1 ok rows point at missing files: images/1.jpg" in err
    assert "sha256: 1 of 8 files checked do not match" in err and "images/2.jpg" in err
    assert "groups: 1 scene values in more than one split: s2 (test/val)" in err
    assert ("near_copies: 1 near-duplicate pairs (phash distance <= 10) across splits: images/0.jpg (train) "
            "~ images/copy.jpg (test)") in err
    assert "4 problems in 7 checks" in err
    assert dataset.read_bytes() == before  # check never writes


def test_label_issues_in_val_fail_and_default_manifest(dataset: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    frame = manifests.read(dataset)
    frame[schema.LABEL_ISSUE] = [False] * 4 + [True] + [False] * 3
    frame[schema.LABEL_QUALITY] = [0.9] * 4 + [0.02] + [0.9] * 3
    manifests.write(frame, dataset)
    result = check_manifest(dataset, CheckOptions())
    assert [p["check"] for p in result.problems] == ["label_issues"]
    assert check_manifest(dataset, CheckOptions(max_issue_quality=0.01)).problems == []
    monkeypatch.chdir(dataset.parent)
    assert _run(["check"]) == 1
    assert "manifest: manifest.csv" in capsys.readouterr().err


def test_an_unreadable_manifest_is_a_problem_not_a_traceback(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "manifest.csv"
    bad.write_text("sha256,width\nabc,not-a-number\n")
    assert _run(["check", str(bad)]) == 1
    assert "schema:" in capsys.readouterr().err
    assert _run(["check", str(tmp_path / "nope.csv")]) == 4


def test_files_in_the_store_that_no_row_names_are_reported(tmp_path: Path, capsys) -> None:
    from manifests.store import store_bytes
    from tests.fixtures.media import png

    rows = []
    for seed in range(3):
        info, rel = store_bytes(png(seed, (20, 20)), tmp_path)
        rows.append({**info.row(), schema.PATH: rel.as_posix(), schema.LABEL: "a"})
    manifest = tmp_path / "manifest.csv"
    manifests.write(manifests.from_records(rows[:2]), manifest)  # a killed augment: one file unnamed
    assert _run(["check", str(manifest), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (problem,) = [p for p in data["problems"] if p["check"] == "store"]
    assert problem["files"] == [rows[2][schema.PATH]]
    manifests.write(manifests.from_records(rows), manifest)
    assert _run(["check", str(manifest)]) == 0
