"""``curate augment``: scarce sources reach their share with real augmented files, and every copy lands
in its original's split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import manifests
from curate import cli
from curate.augment import OPS, AugmentOptions, augment, plan
from curate.split import SplitOptions, assign_splits
from manifests import UsageError, schema
from tests.fixtures import media


def dataset(root: Path, frames: int = 30, fanart: int = 4) -> Path:
    rows = []
    for label in ("ghibli", "disney"):
        for i in range(frames + fanart):
            data = media.png(hash((label, i)) % 100_000, (48, 32))
            sha = hashlib.sha256(data).hexdigest()
            rel = f"images/{sha[:2]}/{sha}.png"
            media.write(root / rel, data)
            search = i >= frames
            rows.append({schema.SHA256: sha, schema.PATH: rel, schema.LABEL: label, schema.STATUS: "ok",
                         schema.SOURCE: "search:openverse" if search else "frames",
                         schema.WIDTH: 48, schema.HEIGHT: 32, schema.FORMAT: "png",
                         "creator": f"artist{i % 3}" if search else None,
                         schema.SCENE: None if search else f"{label}:{i // 5:04d}"})
    path = root / "manifest.csv"
    manifests.write(manifests.from_records(rows), path)
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_scarce_source_reaches_its_share_with_real_copies(tmp_path: Path, capsys) -> None:
    path = dataset(tmp_path)
    code, out, _ = run(["augment", str(path), "--by", "source", "--to-share", "0.4", "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    frame = manifests.read(path)
    copies = frame[frame[schema.DERIVED_FROM].notna()]
    assert len(copies) == sum(report["copies"].values()) == 2 * 16  # 4 + 16 = 40% of 30 + 20
    for label in ("ghibli", "disney"):
        rows = frame[frame[schema.LABEL] == label]
        share = (rows[schema.SOURCE] == "search:openverse").mean()
        assert share == pytest.approx(0.4)
    originals = frame.set_index(schema.SHA256)
    for _, row in copies.iterrows():
        parent = originals.loc[row[schema.DERIVED_FROM]]
        assert (row[schema.LABEL], row[schema.SOURCE], row["creator"]) == (
            parent[schema.LABEL], parent[schema.SOURCE], parent["creator"])
        data = (tmp_path / row[schema.PATH]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row[schema.SHA256]
        with Image.open(tmp_path / row[schema.PATH]) as img:
            assert img.size == (48, 32)
    assert copies[schema.SHA256].is_unique and copies[schema.ORIGIN].str.startswith("augment:").all()


def test_each_op_changes_the_picture() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(30, 220, (16, 16, 3)).astype(np.float64)
    for name, op in OPS.items():
        out = op(img, rng)
        assert out.shape == img.shape and np.abs(out - img).mean() > 1, name


def test_copies_land_in_their_originals_split(tmp_path: Path) -> None:
    path = dataset(tmp_path, frames=20, fanart=6)
    frame, _ = augment(manifests.read(path), tmp_path, AugmentOptions(to_share=0.45))
    split, _ = assign_splits(frame, SplitOptions(random=True, seed=3))
    by_sha = split.set_index(schema.SHA256)[schema.SPLIT]
    copies = split[split[schema.DERIVED_FROM].notna()]
    assert len(copies) > 10 and len(set(split[schema.SPLIT])) == 3
    assert (copies[schema.SPLIT].to_numpy() == by_sha.loc[copies[schema.DERIVED_FROM]].to_numpy()).all()


def test_dry_run_writes_nothing(tmp_path: Path, capsys) -> None:
    path = dataset(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*.png"))
    code, _, _ = run(["augment", str(path), "--dry-run"], capsys)
    assert code == 0 and sorted(p.name for p in tmp_path.rglob("*.png")) == before
    assert schema.DERIVED_FROM not in manifests.read(path).columns or \
        manifests.read(path)[schema.DERIVED_FROM].isna().all()


def test_balanced_labels_need_nothing_and_bad_options_are_usage_errors(tmp_path: Path, capsys) -> None:
    path = dataset(tmp_path, frames=5, fanart=5)
    assert plan(manifests.read(path), AugmentOptions(to_share=0.4)) == {}
    with pytest.raises(UsageError, match="--to-share"):
        AugmentOptions(to_share=1.5)
    code, _, err = run(["augment", str(path), "--ops", "sepia"], capsys)
    assert code == 2 and "unknown --ops sepia" in err
