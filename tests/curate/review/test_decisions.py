"""What ``curate review``'s decisions write, without a server: batches land on the rows as they are on
disk (another command's changes stay), a row removed meanwhile is skipped, an undo of a decision not
yet written leaves no trace, and a new keeper takes over its cluster's copies."""

from __future__ import annotations

from pathlib import Path

import pytest

import manifests
from curate.review.decisions import Journal, plan
from curate.review.rows import RowStore
from manifests import schema
from tests.curate.conftest import Dataset, make_dataset


@pytest.fixture
def data(tmp_path: Path) -> Dataset:
    return make_dataset(tmp_path / "data")


def _journal(data: Dataset) -> Journal:
    return Journal(RowStore(data.manifest), "curate review manifest.csv", batch_seconds=0)


def test_a_batch_keeps_what_another_command_wrote_meanwhile(data: Dataset, caplog) -> None:
    journal = _journal(data)
    shas = list(manifests.read(data.manifest)[schema.SHA256].dropna())
    journal.decide("label", [shas[0]], "dog")
    journal.decide("reject", shas[1:3])
    with manifests.update(data.manifest, command="curate split") as tx:  # another command, same rows
        tx.frame.loc[tx.frame[schema.SHA256] == shas[0], schema.SPLIT] = "test"
        tx.frame = tx.frame[tx.frame[schema.SHA256] != shas[2]]  # and one row gone
    assert journal.flush()
    frame = manifests.read(data.manifest).set_index(schema.SHA256)
    assert frame.loc[shas[0], schema.LABEL] == "dog" and frame.loc[shas[0], schema.SPLIT] == "test"
    assert frame.loc[shas[1], schema.STATUS] == schema.REJECTED
    assert frame.loc[shas[1], schema.ERROR] == "review"
    assert shas[2] not in frame.index and "no longer in" in caplog.text
    entry = manifests.lineage_entries(data.manifest)[-1]
    assert entry["details"]["by"] == "review" and entry["changed"] == 2
    assert [d["action"] for d in entry["details"]["decisions"]] == ["label", "reject"]
    assert journal.reload_if_changed()  # the other command's write is read on the next poll
    assert journal.store.get(shas[0], schema.SPLIT) == "test" and journal.store.version == 1


def test_undo_before_the_write_leaves_no_trace(data: Dataset) -> None:
    journal = _journal(data)
    sha = manifests.read(data.manifest)[schema.SHA256].dropna().iloc[4]
    lines = len(manifests.lineage_entries(data.manifest))
    journal.decide("reject", [sha])
    assert journal.store.get(sha, schema.STATUS) == schema.REJECTED
    assert journal.undo().action == "reject" and journal.store.get(sha, schema.STATUS) == schema.OK
    assert journal.flush() and len(manifests.lineage_entries(data.manifest)) == lines
    assert journal.undo() is None and journal.state()["pending"] == 0


def test_a_new_keeper_takes_over_its_cluster(data: Dataset) -> None:
    store = RowStore(data.manifest)
    frame = store.frame
    copy = frame.loc[frame[schema.STATUS] == schema.DUPLICATE, schema.SHA256].iloc[0]
    keeper = frame.loc[frame[schema.SHA256] == frame.loc[frame[schema.SHA256] == copy, schema.DUP_OF].iloc[0],
                       schema.SHA256].iloc[0]
    changes = {c.sha256: c.set for c in plan(store, "keeper", [copy])}
    assert changes[copy] == {schema.STATUS: schema.OK, schema.ERROR: None, schema.DUP_OF: None}
    assert changes[keeper][schema.STATUS] == schema.DUPLICATE and changes[keeper][schema.DUP_OF] == copy
    assert plan(store, "keeper", [keeper]) == []  # already the keeper
    assert plan(store, "restore", [keeper]) == []  # already ok
    assert plan(store, "label", [copy], "dog") == []  # already dog
    accepted = plan(store, "accept", [keeper])  # no suggested label in the fixture: nothing to accept
    assert accepted == []
