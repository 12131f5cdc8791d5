"""Keeper-centred near-duplicate clusters: no chaining, label conflicts, thresholds scaled and warned."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import manifests
from curate.dedupe import DedupeOptions, clusters, dedupe
from manifests import UsageError, schema


def _hex(bits: np.ndarray) -> str:
    return bytes(np.packbits(bits)).hex()


def _frame(hashes: list[str], labels: list[str], widths: list[int] | None = None) -> pd.DataFrame:
    """Rows with stored phashes (nothing to decode); a larger width makes a row the keeper."""
    widths = widths or [100] * len(hashes)
    return manifests.from_records([
        {schema.SHA256: hashlib.sha256(str(i).encode()).hexdigest(), schema.PATH: f"{i}.png",
         schema.LABEL: lab, schema.STATUS: schema.OK,
         schema.WIDTH: w, schema.HEIGHT: 100, schema.BYTES: 1000, schema.PHASH: h}
        for i, (h, lab, w) in enumerate(zip(hashes, labels, widths, strict=True))])


def _chain(steps: int, step: int, bits: int = 64) -> list[np.ndarray]:
    """Hashes each ``step`` bits from the previous one, always flipping new bits: a chain."""
    out = [np.zeros(bits, dtype=np.uint8)]
    for k in range(steps):
        nxt = out[-1].copy()
        nxt[k * step:(k + 1) * step] = 1
        out.append(nxt)
    return out


def test_a_chain_no_longer_joins_far_apart_images(tmp_path) -> None:
    # 0 -- 6 bits -- 1 -- 6 bits -- 2 -- 6 bits -- 3: each link within 10, 0 and 3 are 18 apart
    chain = [_hex(b) for b in _chain(3, 6)]
    frame = _frame(chain, ["circle"] * 4, widths=[200, 100, 100, 100])
    out = dedupe(frame, tmp_path, DedupeOptions(threshold=10)).frame
    assert out[schema.DUP_CLUSTER].iloc[:2].nunique() == 1  # 1 is within 6 of the keeper
    assert out[schema.DUP_CLUSTER].iloc[0] != out[schema.DUP_CLUSTER].iloc[3]
    assert out[schema.STATUS].iloc[2] == schema.OK  # 12 from the first keeper: a keeper itself
    assert out[schema.DUP_OF].iloc[3] == out[schema.SHA256].iloc[2]
    old = dedupe(frame, tmp_path, DedupeOptions(threshold=10, clusters="components")).frame
    assert old[schema.DUP_CLUSTER].nunique() == 1 and (old[schema.STATUS] == schema.DUPLICATE).sum() == 3


def test_mixed_labels_are_left_ok_with_a_note_and_reported(tmp_path) -> None:
    a = np.zeros(64, dtype=np.uint8)
    b = a.copy()
    b[:3] = 1
    c = a.copy()
    c[10:12] = 1
    frame = _frame([_hex(a), _hex(b), _hex(c)], ["circle", "triangle", "circle"], widths=[300, 100, 100])
    result = dedupe(frame, tmp_path, DedupeOptions())
    out = result.frame
    assert list(out[schema.STATUS]) == [schema.OK, schema.OK, schema.DUPLICATE]
    assert out[schema.DUP_CLUSTER].nunique() == 1  # still one cluster: split keeps them together
    assert "labelled circle" in out[schema.DUP_CONFLICT].iloc[1]
    assert pd.isna(out[schema.DUP_CONFLICT].iloc[2])
    assert result.summary["clusters_with_mixed_labels"] == 1 and result.summary["conflicts"] == 1
    marked = dedupe(frame, tmp_path, DedupeOptions(conflicts="mark")).frame
    assert (marked[schema.STATUS] == schema.DUPLICATE).sum() == 2
    again = dedupe(out, tmp_path, DedupeOptions(conflicts="mark")).frame  # a rerun clears old notes
    assert again[schema.DUP_CONFLICT].isna().all()
    with pytest.raises(UsageError, match="--conflicts"):
        dedupe(frame, tmp_path, DedupeOptions(conflicts="drop"))
    with pytest.raises(UsageError, match="--clustering"):
        dedupe(frame, tmp_path, DedupeOptions(clusters="single"))


def test_default_threshold_scales_with_the_hash_size_and_high_ones_warn(tmp_path) -> None:
    assert DedupeOptions().distance == 10
    assert DedupeOptions(hash_size=16).distance == 40
    assert DedupeOptions(hash_size=16, threshold=3).distance == 3
    assert clusters.random_match_warning(64, 10, 1000) is None
    assert clusters.random_match_warning(256, 40, 100_000) is None
    assert "high for 64-bit" in clusters.random_match_warning(64, 24, 100)
    rng = np.random.default_rng(0)
    frame = _frame([_hex(rng.integers(0, 2, 64).astype(np.uint8)) for _ in range(50)], ["x"] * 50)
    result = dedupe(frame, tmp_path, DedupeOptions(threshold=28))
    assert result.warnings and "chance pairs" in result.warnings[0]


@st.composite
def hash_sets(draw: st.DrawFn) -> tuple[np.ndarray, int, np.ndarray]:
    """Random hashes in tight bunches and loose chains, a threshold and keeper ranks."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, 60))
    bits = rng.integers(0, 2, (n, 32)).astype(np.uint8)
    for i in range(1, n):
        if rng.random() < 0.7:  # derive from an earlier hash: chains and bunches
            bits[i] = bits[rng.integers(0, i)] ^ (rng.random(32) < draw(st.floats(0, 0.25)))
    return np.packbits(bits, axis=1), draw(st.integers(0, 12)), rng.permutation(n)


@settings(max_examples=80, deadline=None)
@given(data=hash_sets())
def test_every_member_is_within_the_threshold_of_its_keeper(data) -> None:
    packed, threshold, rank = data
    uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
    node_of = inverse.reshape(1, -1).astype(np.int64)
    unpacked = np.unpackbits(uniq, axis=1).astype(int)
    dist = (unpacked[:, None, :] != unpacked[None, :, :]).sum(-1)  # brute force, every pair
    pi, pj = np.nonzero(np.triu(dist <= threshold, 1))
    labels = clusters.keeper_clusters(node_of, len(uniq), pi, pj, rank)
    rows = np.arange(len(rank))
    keeper = labels
    assert (labels[keeper] == keeper).all()  # a keeper is in its own cluster
    assert (dist[node_of[0, rows], node_of[0, keeper]] <= threshold).all()
    assert (rank[keeper] <= rank[rows]).all()  # the keeper is the best-ranked member
    # nothing is left out that could have joined: a row outside a keeper's reach is never its member,
    # and a row within reach of an earlier keeper is in that keeper's (or an even earlier) cluster
    for r in rows:
        reach = rows[dist[node_of[0, r], node_of[0, rows]] <= threshold]
        earlier = [k for k in np.unique(keeper) if dist[node_of[0, k], node_of[0, r]] <= threshold]
        assert rank[keeper[r]] == min(rank[k] for k in earlier), (r, reach)


# -- mutation testing (docs/testing.md): the warning's two limits and its figures, small hash sizes ------

def chance_rate(bits: int, threshold: int) -> float:
    """Exactly counted: the share of the 2**bits differences with at most ``threshold`` bits set."""
    return sum(math.comb(bits, k) for k in range(threshold + 1)) / 2**bits


def test_the_chance_pair_warning_starts_at_one_expected_pair() -> None:
    rate = chance_rate(64, 10)  # 1e-8: below one in 10,000, so only the expected pairs can warn
    assert clusters.random_match_rate(64, 10) == pytest.approx(rate, rel=1e-9)
    # 14155 hashes: 14155 * 14154 / 2 pairs, 0.99999 expected chance pairs; 14156 hashes: 1.0001
    assert rate * 14155 * 14154 / 2 < 1 < rate * 14156 * 14155 / 2
    assert clusters.random_match_warning(64, 10, 14155) is None
    assert clusters.random_match_warning(64, 10, 14156) == (
        "threshold 10 is high for 64-bit hashes: two unrelated random hashes match with probability 1e-08 "
        "(about 1 chance pairs among 14,156 hashes); the default for this size is 10")
    # a rate of one in 10,000 or more warns even for a handful of hashes
    assert chance_rate(64, 24) > 1e-4
    assert clusters.random_match_warning(64, 24, 1) == (
        "threshold 24 is high for 64-bit hashes: two unrelated random hashes match with probability 0.03 "
        "(about 0 chance pairs among 1 hashes); the default for this size is 10")
    assert "about 4,950 chance pairs among 100 hashes" in clusters.random_match_warning(8, 8, 100)


@pytest.mark.parametrize("bits", [8, 64, 256])
def test_the_chance_rate_is_scipys_binomial_cdf(bits: int) -> None:
    """Against scipy's binomial CDF (an implementation from outside the code), every threshold from
    below zero to past the hash's size."""
    from scipy.stats import binom

    for threshold in range(-1, bits + 2):
        assert clusters.random_match_rate(bits, threshold) == pytest.approx(
            float(binom.cdf(threshold, bits, 0.5)), rel=1e-9, abs=1e-300), threshold


def test_the_default_threshold_is_at_least_one_bit() -> None:
    assert [clusters.default_threshold(b) for b in (1, 3, 4, 16, 64, 256)] == [1, 1, 1, 2, 10, 40]
