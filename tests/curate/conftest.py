"""A small generated dataset every report and export test shares: its truth is known by construction.

Three labels (one needing a safe folder name), streets named by numbers (2, 10, 11: natural order),
a train/val/test split, one near-duplicate cluster with mixed labels, failed rows, search rows with a
licence and a creator, label-quality columns and a lineage log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import manifests
from manifests import schema
from tests.fixtures.media import corrupt_jpeg, jpeg, png

STREET = "street"  # a pattern field, not a schema column: group columns are declared

LABELS = ("cat", "dog", "sea/horse")
SPLITS = ("train", "train", "train", "val", "test")  # per image index i % 5


@dataclass(frozen=True)
class Dataset:
    root: Path
    manifest: Path
    ok_counts: dict[tuple[str, str], int]  # (label, split) -> ok rows


def make_dataset(root: Path, per_label: int = 10) -> Dataset:
    images = root / "images"
    images.mkdir(parents=True)
    rows, counts = [], {}
    for li, label in enumerate(LABELS):
        for i in range(per_label):
            seed = li * 100 + i
            name = f"{li}_{i}.{'png' if i % 3 == 0 else 'jpg'}"
            size = (64 + 8 * i, 48) if i % 3 == 0 else (48, 64 + 4 * i)
            data = png(seed, size) if i % 3 == 0 else jpeg(seed, size)
            (images / name).write_bytes(data)
            split = SPLITS[i % 5]
            row = {schema.SHA256: hashlib.sha256(data).hexdigest(), schema.PATH: f"images/{name}",
                   schema.LABEL: label, schema.SOURCE: "folder", schema.ORIGIN: f"/src/{name}",
                   schema.WIDTH: size[0], schema.HEIGHT: size[1],
                   schema.FORMAT: "png" if i % 3 == 0 else "jpeg",
                   schema.BYTES: len(data), schema.STATUS: schema.OK, schema.SPLIT: split,
                   STREET: str((2, 10, 11)[i % 3]), schema.LABEL_QUALITY: round(0.05 + i / 20, 2),
                   schema.LABEL_ISSUE: i == 0}
            if li == 2 and i < 4:  # search rows: licence and attribution
                row.update({schema.SOURCE: "search:openverse", schema.LICENSE: "by-sa 4.0",
                            schema.CREATOR: f"artist{i}", schema.PAGE_URL: f"https://example.org/p/{i}",
                            schema.TITLE: f"Seahorse & friends #{i}"})
                if i == 1:  # taken over an opt-out signal with --ignore-optout header
                    row[schema.OPTOUT] = "ignored header: X-Robots-Tag noai (response header)"
            rows.append(row)
            counts[(label, split)] = counts.get((label, split), 0) + 1
    # a near-duplicate of cat 1 labelled dog: a cluster with mixed labels, the duplicate not exported
    dup = jpeg(1, (48, 72))
    (images / "dup.jpg").write_bytes(dup)
    rows[1][schema.DUP_CLUSTER] = "c0ffee"
    rows.append({schema.SHA256: hashlib.sha256(dup).hexdigest(), schema.PATH: "images/dup.jpg",
                 schema.LABEL: "dog", schema.SOURCE: "folder", schema.ORIGIN: "/src/dup.jpg",
                 schema.STATUS: schema.DUPLICATE,
                 schema.DUP_OF: rows[1][schema.SHA256], schema.DUP_CLUSTER: "c0ffee", schema.SPLIT: None,
                 schema.ERROR: f"near-duplicate of {rows[1][schema.SHA256]} (phash distance 3)"})
    (images / "bad.jpg").write_bytes(corrupt_jpeg())
    rows.append({schema.SOURCE: "folder", schema.ORIGIN: "/src/bad.jpg", schema.STATUS: schema.CORRUPT,
                 schema.ERROR: "image data is garbage"})
    rows.append({schema.SOURCE: "search:openverse", schema.ORIGIN: "https://example.org/x.jpg",
                 schema.STATUS: schema.HTTP_ERROR, schema.ERROR: "404 Not Found"})
    manifest = root / "manifest.csv"
    with manifests.update(manifest, command="harvest folder src") as tx:
        tx.frame = manifests.from_records(rows)
    return Dataset(root, manifest, counts)


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return make_dataset(tmp_path / "data")
