"""``curate dedupe``: the search index, clusters on real transforms, keep policies, CLI behaviour."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import manifests
from curate import cli
from curate.dedupe import DedupeOptions, dedupe, index, keeper_rank
from manifests import UsageError, schema
from tests.fixtures.transforms import FLIPS, TRANSFORMS, scene


# -- the index ---------------------------------------------------------------------------------
def _reference(packed: np.ndarray, threshold: int) -> set[tuple[int, int]]:
    bits = np.unpackbits(packed, axis=1).astype(int)
    return {(i, j) for i, j in itertools.combinations(range(len(bits)), 2)
            if int(np.sum(bits[i] != bits[j])) <= threshold}


@st.composite
def hash_sets(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Random hashes with planted near-duplicates (so there are pairs at every distance)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 80))
    nbytes = draw(st.sampled_from([1, 3, 8, 12]))
    packed = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    if n > 1:
        copies = rng.integers(0, n, n // 2)
        noise = np.packbits(rng.random((len(copies), nbytes * 8)) < draw(st.floats(0, 0.2)), axis=1)
        packed[rng.permutation(n)[: len(copies)]] = packed[copies] ^ noise
    return packed, draw(st.integers(0, min(24, nbytes * 8)))


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(data=hash_sets(), chunks=st.sampled_from([None, 1, 2, 3, 5]))
def test_index_engines_return_exactly_the_brute_force_pairs(data: tuple[np.ndarray, int],
                                                            chunks: int | None) -> None:
    packed, threshold = data
    expected = _reference(packed, threshold)
    for engine in ("brute", "mih"):
        fits = chunks and chunks * index.MAX_CHUNK_BITS >= packed.shape[1] * 8
        kwargs = {"chunks": chunks} if engine == "mih" and fits else {}
        i, j = index.ENGINES[engine](packed, threshold, 2, **kwargs)
        got = list(zip(i.tolist(), j.tolist(), strict=True))
        assert len(got) == len(set(got)), f"{engine} reported a pair twice"
        assert set(got) == expected, engine


def test_mih_on_many_hashes_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    packed = rng.integers(0, 256, (6000, 8), dtype=np.uint8)
    packed[3000:] = packed[:3000] ^ np.packbits(rng.random((3000, 64)) < 0.07, axis=1)
    a, b = index.brute_pairs(packed, 10), index.mih_pairs(packed, 10, workers=2)
    assert len(a[0]) > 2000
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert index.choose_chunks(64, 1_000_000, 10) > 1


# -- clusters on real images -------------------------------------------------------------------
def _row(root: Path, path: Path, label: str, **extra: object) -> dict:
    data = path.read_bytes()
    with Image.open(path) as img:
        width, height = img.size
    return {schema.SHA256: hashlib.sha256(data).hexdigest(), schema.PATH: str(path.relative_to(root)),
            schema.LABEL: label, schema.SOURCE: "folder", schema.WIDTH: width, schema.HEIGHT: height,
            schema.BYTES: len(data), schema.STATUS: schema.OK, **extra}


def _save(img: Image.Image, path: Path, quality: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=quality or 92)
    return path


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """12 photos, each with every transform (and a mirrored copy) saved beside it."""
    root = tmp_path_factory.mktemp("transformed")
    rows = []
    for seed in range(12):
        img = scene(480, 360, seed=100 + seed)
        label = "ab"[seed % 2]
        rows.append(_row(root, _save(img, root / f"{seed}/original.jpg"), label, origin=str(seed),
                         transform="original"))
        for name, transform in {**TRANSFORMS, **FLIPS}.items():
            out, quality = transform(img)
            rows.append(_row(root, _save(out, root / f"{seed}/{name}.jpg", quality), label,
                             origin=str(seed), transform=name))
    return root, manifests.from_records(rows)


def _clusters_by_photo(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(cluster=frame[schema.DUP_CLUSTER].fillna("none:" + frame[schema.SHA256]))


def test_transforms_cluster_with_their_original_only(transformed: tuple[Path, pd.DataFrame]) -> None:
    root, frame = transformed
    result = dedupe(frame, root, DedupeOptions(workers=1))
    out = _clusters_by_photo(result.frame)
    original = out[out["transform"] == "original"].set_index(schema.ORIGIN)["cluster"]
    same = out["cluster"].to_numpy() == original.loc[out[schema.ORIGIN]].to_numpy()
    recall = pd.Series(same).groupby(out["transform"].to_numpy()).mean()
    for name in ("downscale", "jpeg_q35", "grayscale"):  # phash moves by <= 2 bits under these
        assert recall[name] == 1.0, (name, recall.to_dict())
    for name in ("brightness", "border", "watermark", "crop_4pct"):  # a few photos move further
        assert recall[name] >= 0.75, (name, recall.to_dict())
    assert recall["hflip"] == 0.0  # mirrored copies need --flip-invariant
    # precision: no cluster holds two different photos
    assert out.groupby("cluster")[schema.ORIGIN].nunique().max() == 1
    # every cluster has one keeper (ok); the others point at it
    for _, group in out[out[schema.DUP_CLUSTER].notna()].groupby(schema.DUP_CLUSTER):
        kept = group[group[schema.STATUS] == schema.OK]
        assert len(kept) == 1
        dups = group[group[schema.STATUS] == schema.DUPLICATE]
        assert (dups[schema.DUP_OF] == kept[schema.SHA256].iloc[0]).all()
        assert dups[schema.ERROR].str.contains("near-duplicate of").all()
    assert result.summary["by_label"]["a"]["duplicates"] > 0
    assert result.summary["marked_duplicate"] == (out[schema.STATUS] == schema.DUPLICATE).sum()


def test_flip_invariant_matches_mirrored_copies(transformed: tuple[Path, pd.DataFrame]) -> None:
    root, frame = transformed
    out = _clusters_by_photo(dedupe(frame, root, DedupeOptions(flip_invariant=True)).frame)
    original = out[out["transform"] == "original"].set_index(schema.ORIGIN)["cluster"]
    flips = out[out["transform"] == "hflip"]
    assert (flips["cluster"].to_numpy() == original.loc[flips[schema.ORIGIN]].to_numpy()).all()
    assert out.groupby("cluster")[schema.ORIGIN].nunique().max() == 1
    assert out[schema.PHASH_FLIP].notna().all()


def test_rerun_is_idempotent_and_reuses_hashes(transformed: tuple[Path, pd.DataFrame]) -> None:
    root, frame = transformed
    first = dedupe(frame, root, DedupeOptions())
    second = dedupe(first.frame, root, DedupeOptions())
    assert second.hashing.hashed == 0 and second.hashing.reused == len(frame)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    loose = dedupe(first.frame, root, DedupeOptions(threshold=0))
    assert loose.summary["marked_duplicate"] < first.summary["marked_duplicate"]
    assert (loose.frame[schema.STATUS] == schema.OK).sum() > (first.frame[schema.STATUS] == schema.OK).sum()


# -- keep policies -----------------------------------------------------------------------------
@pytest.fixture
def trio(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """One photo three times: small and first harvested, large, and medium with the best score."""
    img = scene(400, 300, seed=9)
    specs = [("small.jpg", 0.5, "2024-01-01T00:00:00+00:00", 5),
             ("large.jpg", 1.0, "2024-03-01T00:00:00+00:00", 1),
             ("medium.jpg", 0.75, "2024-02-01T00:00:00+00:00", 50)]
    rows = []
    for name, scale, when, score in specs:
        path = _save(img.resize((int(400 * scale), int(300 * scale))), tmp_path / name)
        rows.append(_row(tmp_path, path, "x", harvested_at=when, score=score))
    rows.append(_row(tmp_path, _save(scene(400, 300, seed=10), tmp_path / "other.jpg"), "x"))
    return tmp_path, manifests.from_records(rows)


@pytest.mark.parametrize(("keep", "kept"), [("largest", "large.jpg"), ("first", "small.jpg"),
                                            ("score", "medium.jpg")])
def test_keep_policies(trio: tuple[Path, pd.DataFrame], keep: str, kept: str) -> None:
    root, frame = trio
    out = dedupe(frame, root, DedupeOptions(keep=keep)).frame.set_index(schema.PATH)
    assert out.loc[kept, schema.STATUS] == schema.OK
    others = [p for p in ("small.jpg", "large.jpg", "medium.jpg") if p != kept]
    assert (out.loc[others, schema.STATUS] == schema.DUPLICATE).all()
    assert (out.loc[others, schema.DUP_OF] == out.loc[kept, schema.SHA256]).all()
    assert out.loc[["small.jpg", "large.jpg", "medium.jpg"], schema.DUP_CLUSTER].nunique() == 1
    assert out.loc["other.jpg", schema.STATUS] == schema.OK
    assert pd.isna(out.loc["other.jpg", schema.DUP_CLUSTER])


def test_keep_score_needs_a_score_column(trio: tuple[Path, pd.DataFrame]) -> None:
    _, frame = trio
    with pytest.raises(UsageError, match="score"):
        keeper_rank(frame.drop(columns=[schema.SCORE]), "score")
    with pytest.raises(UsageError, match="choose from"):
        keeper_rank(frame, "random")


# -- the command -------------------------------------------------------------------------------
@pytest.fixture
def manifest(trio: tuple[Path, pd.DataFrame]) -> Path:
    root, frame = trio
    path = root / "manifest.csv"
    manifests.write(frame, path)
    return path


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    return int(exc.value.code)


def test_dry_run_leaves_the_manifest_byte_identical(manifest: Path, capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    before = manifest.read_bytes()
    assert _run(["dedupe", str(manifest), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "keep large.jpg" in err and "1 cluster (0 with mixed labels), 2 rows would be marked" in err
    assert manifest.read_bytes() == before
    assert not manifests.log_path(manifest).exists()


def test_cli_marks_duplicates_logs_lineage_and_keeps_files(manifest: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["dedupe", str(manifest), "--json", "-j", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["clusters"] == 1 and data["marked_duplicate"] == 2
    assert data["clusters_list"][0]["keep"] == "large.jpg"
    frame = manifests.read(manifest)
    assert (frame[schema.STATUS] == schema.DUPLICATE).sum() == 2 and frame[schema.PHASH].notna().all()
    entry = manifests.lineage_entries(manifest)[-1]
    assert entry["details"]["marked_duplicate"] == 2 and entry["details"]["hash"] == "phash"
    assert all((manifest.parent / p).exists() for p in frame[schema.PATH])


def test_cli_output_elsewhere_and_delete_files(manifest: Path) -> None:
    before = manifest.read_bytes()
    other = manifest.with_name("deduped.csv")
    assert _run(["dedupe", str(manifest), "-o", str(other), "--delete-files", "--yes"]) == 0
    assert manifest.read_bytes() == before
    frame = manifests.read(other)
    gone = frame.loc[frame[schema.STATUS] == schema.DUPLICATE, schema.PATH]
    assert len(gone) == 2 and not any((manifest.parent / p).exists() for p in gone)
    assert (manifest.parent / "large.jpg").exists() and (manifest.parent / "other.jpg").exists()


def test_cli_errors(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["dedupe", str(manifest.with_name("nope.csv"))]) == 4
    assert _run(["dedupe", str(manifest), "--hash", "md5"]) == 2
    assert "unknown --hash" in capsys.readouterr().err
    assert _run(["dedupe", str(manifest), "--hash", "whash", "--hash-size", "12"]) == 2
    assert "must be a power of 2" in capsys.readouterr().err
    assert _run(["dedupe", str(manifest), "--keep", "score", "--index", "brute"]) == 0


def test_leaks_exit_code(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = manifests.read(manifest)
    frame[schema.SPLIT] = ["train", "val", "train", "val"]
    manifests.write(frame, manifest)
    before = manifest.read_bytes()
    assert _run(["dedupe", str(manifest), "--leaks"]) == 1
    err = capsys.readouterr().err
    assert "leak: small.jpg (train) ~ large.jpg (val)" in err and "1 cluster spanning" in err
    assert manifest.read_bytes() == before
    frame[schema.SPLIT] = ["train", "train", "train", "val"]
    manifests.write(frame, manifest)
    assert _run(["dedupe", str(manifest), "--leaks", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["leak_pairs"] == 0


@pytest.mark.shared
def test_mixed_images_fixture(shared_fixtures: Path, tmp_path: Path) -> None:
    folder = shared_fixtures / "images" / "mixed_images"
    rows = [{schema.SHA256: hashlib.sha256(p.read_bytes()).hexdigest() + p.name,
             schema.PATH: str(p), schema.LABEL: "ukbench", schema.STATUS: schema.OK}
            for p in sorted(folder.iterdir())]
    frame = manifests.from_records(rows)
    out = dedupe(frame, tmp_path, DedupeOptions(flip_invariant=True)).frame
    out.index = [Path(p).name for p in out[schema.PATH]]
    cluster = out.loc["ukbench00120.jpg", schema.DUP_CLUSTER]
    assert out.loc["ukbench00120_resize.jpg", schema.DUP_CLUSTER] == cluster
    assert out.loc["ukbench00120_hflip.jpg", schema.DUP_CLUSTER] == cluster
    assert pd.isna(out.loc["ukbench09268.jpg", schema.DUP_CLUSTER])
    assert out.loc["ukbench09268_corrupt.jpg", schema.STATUS] == schema.CORRUPT
    # a rotated copy is a different image to a perceptual hash
    assert pd.isna(out.loc["ukbench00120_rotation.jpg", schema.DUP_CLUSTER])
