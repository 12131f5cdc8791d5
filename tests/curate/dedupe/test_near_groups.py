"""Issue 26, item 3b: near-copies on both sides of a split.

Clusters are keeper-centred (every member within the threshold of its keeper), so a chain of images
each within the threshold of the next falls into several clusters. ``curate dedupe`` also writes the
connected components of the near-pair graph (``dup_group``) and ``curate split`` ties them: the
property, through the real CLI on generated chains of 64-bit hashes (each step flips 6 bits, the
threshold is 10, so the ends of a chain are far apart): after dedupe and a random split,
``curate check`` finds no near-duplicate pair across splits.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import manifests
from curate import cli
from manifests import schema
from tests.fixtures import media

STEP = 6  # bits flipped per chain link; the default threshold for 64 bits is 10


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def chain_hashes(rng: np.random.Generator, length: int) -> list[str]:
    """``length`` hashes, each STEP bits from the previous, never flipping a bit twice."""
    start = int(rng.integers(0, 2**63)) | (int(rng.integers(0, 2)) << 63)
    order = rng.permutation(64)
    out, value = [], start
    for i in range(length):
        out.append(f"{value:016x}")
        for bit in order[(i * STEP) % 64:(i * STEP) % 64 + STEP]:
            value ^= 1 << int(bit)
    return out


def chains_manifest(root: Path, lengths: list[int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rows, n = [], 0
    for length in lengths:
        for value in chain_hashes(rng, length):
            data = media.png(seed * 1000 + n, size=(16, 12))
            path = media.write(root / "img" / f"{n}.png", data)
            rows.append({schema.SHA256: hashlib.sha256(data).hexdigest(), schema.PATH: f"img/{n}.png",
                         schema.LABEL: f"l{int(rng.integers(0, 2))}", schema.SOURCE: "test",
                         schema.ORIGIN: str(path), schema.STATUS: schema.OK, schema.PHASH: value,
                         schema.BYTES: len(data), schema.WIDTH: 16, schema.HEIGHT: 12})
            n += 1
    manifest = root / "manifest.csv"
    manifests.write(manifests.from_records(rows), manifest)
    return manifest


@settings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lengths=st.lists(st.integers(3, 7), min_size=6, max_size=10), seed=st.integers(0, 10_000))
def test_no_near_pair_crosses_a_split_after_dedupe(tmp_path_factory: pytest.TempPathFactory,
                                                   capsys: pytest.CaptureFixture[str],
                                                   lengths: list[int], seed: int) -> None:
    root = tmp_path_factory.mktemp("chains")
    manifest = chains_manifest(root, lengths, seed)
    code, out, err = run(["dedupe", str(manifest), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["near_groups"] == len(lengths)  # one group per chain, whatever its clusters
    code, _, err = run(["split", str(manifest), "--random", "--seed", str(seed % 7)], capsys)
    assert code == 0, err
    code, out, _ = run(["check", str(manifest), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and not [p for p in report["problems"] if p["check"] == "near_copies"], out
    frame = manifests.read(manifest)
    ok = frame[frame[schema.STATUS] == schema.OK]
    assert (ok.groupby(schema.DUP_GROUP)[schema.SPLIT].nunique() == 1).all()


def test_clusters_stay_keeper_centred(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = chains_manifest(tmp_path, [7], seed=3)
    assert run(["dedupe", str(manifest)], capsys)[0] == 0
    frame = manifests.read(manifest)
    assert frame[schema.DUP_CLUSTER].nunique() > 1  # a chain of 7 is not one cluster ...
    assert frame[schema.DUP_GROUP].nunique() == 1  # ... but one group for the split
