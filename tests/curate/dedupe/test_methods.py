"""The dedupe methods registry (``curate.dedupe.methods``): the plug-in contract over every entry, the
marking they share, and the embedding method reading the features ``train embed`` writes."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import manifests
from curate.dedupe import DedupeOptions, dedupe
from curate.dedupe.embedding import Embedding
from curate.dedupe.method import Found, Method
from curate.dedupe.methods import METHODS
from manifests import features, schema
from tests.fixtures.transforms import scene


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_contract(name: str) -> None:
    cls = METHODS[name]
    assert issubclass(cls, Method) and cls.name == name and cls.__doc__
    assert "find" in cls.__dict__ and not inspect.isabstract(cls)
    options = DedupeOptions(method=name)
    assert isinstance(cls().summary(options), dict)
    assert set(inspect.signature(cls.find).parameters) == {"self", "frame", "root", "eligible", "options",
                                                            "progress"}


def _photos(root: Path, n: int = 4) -> pd.DataFrame:
    """``n`` photos, each saved twice (a copy: its key is told apart), and one file that is no image."""
    rows = []
    for p in range(n):
        img = scene(64, 48, seed=900 + p)
        for copy in ("a", "b"):
            rel = f"{p}{copy}.png"
            img.save(root / rel)
            rows.append({schema.PATH: rel, schema.LABEL: f"photo{p}", schema.STATUS: schema.OK,
                         schema.SHA256: hashlib.sha256((root / rel).read_bytes() + copy.encode()).hexdigest(),
                         schema.WIDTH: 64, schema.HEIGHT: 48, schema.BYTES: 1 if copy == "b" else 2})
    (root / "bad.png").write_bytes(b"no image")
    rows.append({schema.PATH: "bad.png", schema.LABEL: "photo0", schema.STATUS: schema.OK,
                 schema.SHA256: "f" * 64})
    return manifests.from_records(rows)


def test_every_method_marks_the_same_way(tmp_path: Path) -> None:
    frame = _photos(tmp_path)

    def fake(frame: pd.DataFrame, root: Path, rows: pd.Index, options: DedupeOptions) -> np.ndarray:
        photo = frame.loc[rows, schema.PATH].str[0]
        out = np.eye(8, dtype=np.float32)[pd.to_numeric(photo, errors="coerce").fillna(0).astype(int)]
        out[frame.loc[rows, schema.PATH].eq("bad.png").to_numpy()] = np.nan
        return out

    options = DedupeOptions(method="embedding", similarity=0.99)
    result = dedupe(frame, tmp_path, options, method=Embedding(fake))
    out = result.frame
    assert result.summary["method"] == "embedding" and result.summary["clusters"] == 4
    assert (out[schema.STATUS] == schema.DUPLICATE).sum() == 4
    assert out.loc[out[schema.PATH] == "bad.png", schema.STATUS].item() == schema.UNREADABLE
    assert out[schema.ERROR].dropna().str.contains("cosine similarity 1.0|cannot be decoded").all()
    hashed = dedupe(frame, tmp_path, DedupeOptions())  # the hash method marks the copies alike
    assert (hashed.frame[schema.STATUS] == schema.DUPLICATE).sum() == 4
    kept = out.loc[out[schema.STATUS] == schema.OK, schema.PATH]
    assert sorted(kept) == sorted(hashed.frame.loc[hashed.frame[schema.STATUS] == schema.OK, schema.PATH])


def test_a_found_graph_is_optional_under_two_rows(tmp_path: Path) -> None:
    frame = _photos(tmp_path, n=1).iloc[:1]
    result = dedupe(frame, tmp_path, DedupeOptions())
    assert result.clusters == [] and result.summary["rows_considered"] == 1
    assert Found.__dataclass_fields__["graph"].type == "Graph | None"


@pytest.mark.slow  # a child process imports torch
def test_embedding_reads_the_features_train_embed_writes(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _photos(tmp_path)
    options = DedupeOptions(method="embedding", weights="none", img_size=32, device="cpu", similarity=0.999,
                            force=True)  # plumbing only: untrained features are fine here
    out = dedupe(frame, tmp_path, options).frame  # runs `train embed` in a child process
    assert (out[schema.STATUS] == schema.DUPLICATE).sum() == 4  # the same bytes, the same features
    assert out.loc[out[schema.PATH] == "bad.png", schema.STATUS].item() == schema.UNREADABLE
    path = features.default_path(tmp_path, features.meta("resnet18", "none", 32))
    held = features.read(path)
    assert set(held.keys) == set(frame[schema.SHA256]) and held.matrix.shape[0] == len(frame)
    assert not list(path.parent.glob("*.rows.csv"))  # the rows handed to train are cleaned up

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("train embed again for images already embedded")

    monkeypatch.setattr("curate.dedupe.embedding.run_train", refuse)
    again = dedupe(frame, tmp_path, options).frame
    pd.testing.assert_series_equal(again[schema.STATUS], out[schema.STATUS])
