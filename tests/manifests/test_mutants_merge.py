"""manifests.merge on the cases mutation testing found unchecked (docs/testing.md): failed rows with
no source or origin, rows with no status, diffs between disjoint manifests, a column only one side has,
a value that went missing, and the MergeStats arithmetic. Expected figures are counted by hand from the
rule in the module's docstring (ok rows by sha256, the rest by source and origin)."""

from __future__ import annotations

import manifests
from manifests import schema


def sha(i: int) -> str:
    return f"{i:064x}"


def ok(i: int, origin: str | None = None, **extra) -> dict:
    return {schema.SHA256: sha(i), schema.SOURCE: "folder", schema.ORIGIN: origin or f"o{i}",
            schema.STATUS: "ok", **extra}


def failed(origin: str | None, source: str | None = "reddit", **extra) -> dict:
    return {schema.SOURCE: source, schema.ORIGIN: origin, schema.STATUS: "http_404", **extra}


def test_failures_without_a_source_stay_apart_by_origin() -> None:
    rows = [failed("u1", source=None), failed("u2", source=None), failed(None, source="a"),
            failed(None, source="b")]
    merged, stats = manifests.merge(manifests.empty(), manifests.from_records(rows))
    assert len(merged) == 4 and stats == manifests.MergeStats(added=4)
    # the same four again are all already there
    again, stats = manifests.merge(merged, manifests.from_records(rows))
    assert len(again) == 4 and stats == manifests.MergeStats(already_present=4)


def test_a_row_without_status_is_keyed_as_a_failure_not_by_its_bytes() -> None:
    # same bytes, no status: not an ok row, so not the same row as another copy of those bytes
    rows = [{**ok(1, "u1"), schema.STATUS: None}, {**ok(1, "u2"), schema.STATUS: None}]
    merged, stats = manifests.merge(manifests.empty(), manifests.from_records(rows))
    assert sorted(merged[schema.ORIGIN]) == ["u1", "u2"] and stats.added == 2


def test_a_success_replaces_an_earlier_row_without_status_at_its_origin() -> None:
    base = manifests.from_records([failed("u1", status=None), failed("u2")])
    success = {**ok(9), schema.SOURCE: "reddit", schema.ORIGIN: "u1"}
    merged, stats = manifests.merge(base, manifests.from_records([success]))
    assert stats == manifests.MergeStats(added=1, replaced_failures=1)
    assert merged.set_index(schema.ORIGIN)[schema.STATUS].to_dict() == {"u2": "http_404", "u1": "ok"}


def test_a_success_replaces_only_the_failure_at_its_own_origin_when_source_or_origin_is_missing() -> None:
    base = manifests.from_records([failed("u1", source=None), failed("u2", source=None),
                                   failed(None, source="a"), failed(None, source="b")])
    successes = [{**ok(8), schema.SOURCE: None, schema.ORIGIN: "u1"},
                 {**ok(9), schema.SOURCE: "a", schema.ORIGIN: None}]
    merged, stats = manifests.merge(base, manifests.from_records(successes))
    assert stats == manifests.MergeStats(added=2, replaced_failures=2)
    left = merged[merged[schema.STATUS] != "ok"]
    assert left[[schema.SOURCE, schema.ORIGIN]].astype(object).fillna("-").values.tolist() == [
        ["-", "u2"], ["b", "-"]]


def test_diff_of_manifests_with_no_row_in_common() -> None:
    old = manifests.from_records([ok(1), ok(2)])
    new = manifests.from_records([ok(3)])
    assert manifests.diff(old, new) == manifests.Changes(added=1, changed=0, removed=2)
    assert manifests.diff(old, manifests.empty()) == manifests.Changes(added=0, changed=0, removed=2)


def test_diff_counts_a_column_only_one_side_has() -> None:
    old = manifests.from_records([ok(1), ok(2), ok(3)])
    new = old.copy()
    new["street"] = ["Queen St", None, "King St"]  # a column no schema declares, set on two rows
    assert "street" not in old.columns
    assert manifests.diff(old, new) == manifests.Changes(added=0, changed=2, removed=0)
    assert manifests.diff(new, old) == manifests.Changes(added=0, changed=2, removed=0)


def test_diff_counts_a_value_that_went_missing_and_each_changed_row() -> None:
    old = manifests.from_records([ok(i, label="cat") for i in range(1, 5)])
    new = old.copy()
    new.loc[1, schema.LABEL] = None  # a label dropped
    new.loc[2, schema.LABEL] = "dog"  # a label changed
    new = manifests.conform(manifests.merge(new, manifests.from_records([ok(7)]))[0])  # and one added
    assert manifests.diff(old, new) == manifests.Changes(added=1, changed=2, removed=0)


def test_diff_keys_rows_without_bytes_by_origin() -> None:
    old = manifests.from_records([failed("u1")])
    new = manifests.from_records([failed("u1", error="again"), failed("u2")])
    assert manifests.diff(old, new) == manifests.Changes(added=1, changed=1, removed=0)
    assert manifests.diff(new, old) == manifests.Changes(added=0, changed=1, removed=1)


def test_merge_stats_add_and_subtract_field_by_field() -> None:
    a = manifests.MergeStats(added=5, already_present=7, replaced_failures=2)
    b = manifests.MergeStats(added=1, already_present=3, replaced_failures=4)
    assert a + b == manifests.MergeStats(added=6, already_present=10, replaced_failures=6)
    assert a - b == manifests.MergeStats(added=4, already_present=4, replaced_failures=-2)
    assert (a + b) - b == a
