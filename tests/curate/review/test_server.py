"""``curate review`` over HTTP, without a browser: only files the manifest names are served, requests
need the token (POSTs in a header, with JSON), filters, sorts and pages answer as the manifest says,
the model-mistakes view reads a run's predictions, and the command itself: ``--check``, a bad
``--run``, and a server killed with SIGKILL (the manifest keeps every written batch) or stopped with
Ctrl-C (the queued batch is written first)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

import manifests
from curate import cli
from curate.review import ReviewOptions
from manifests import schema

from .conftest import Served

BIN = Path(sys.executable).parent


def test_only_files_the_manifest_names_are_served(served: Served) -> None:
    frame = manifests.read(served.data.manifest)
    sha = frame[schema.SHA256].dropna().iloc[0]
    (served.data.root / "secret.txt").write_text("not for the browser")
    get = lambda path: requests.get(served.base + path, headers=served.headers, timeout=10)  # noqa: E731
    assert get(f"/image/{sha}").content == (served.data.root / frame.loc[
        frame[schema.SHA256] == sha, schema.PATH].iloc[0]).read_bytes()
    assert get(f"/thumb/{sha}").headers["content-type"] == "image/jpeg"
    for path in ("/image/..%2Fsecret.txt", "/image/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/thumb/secret.txt",
                 "/image/" + "0" * 64, "/secret.txt", "/manifest.csv", "/static/review.js",
                 "/image/../secret.txt", "/assets/review.js"):
        answer = get(path)
        assert answer.status_code == 404 and b"not for the browser" not in answer.content, path


def test_requests_without_the_token_are_refused(served: Served) -> None:
    sha = manifests.read(served.data.manifest)[schema.SHA256].dropna().iloc[0]
    body = {"action": "reject", "shas": [sha]}
    url = served.base + "/api/decide"
    assert requests.get(served.base + "/", timeout=10).status_code == 403
    assert requests.get(served.base + f"/thumb/{sha}", timeout=10).status_code == 403
    assert requests.get(served.server.url, timeout=10).status_code == 200  # the printed URL opens
    refused = [requests.post(url, json=body, timeout=10),  # no token
               requests.post(url, json=body, params={"token": served.token}, timeout=10),  # not in a header
               requests.post(url, data=body, headers=served.headers, timeout=10),  # a form post
               requests.post(url, json=body, headers={"X-Review-Token": "x" + served.token}, timeout=10)]
    assert [r.status_code for r in refused] == [403] * 4
    assert requests.get(url, headers=served.headers, timeout=10).status_code == 405  # decisions are POSTs
    assert requests.get(served.server.url, headers={"Host": "evil.example"}, timeout=10).status_code == 400
    served.server.review.journal.flush()
    assert manifests.read(served.data.manifest)[schema.STATUS].eq(schema.REJECTED).sum() == 0
    ok = requests.post(url, json=body, headers=served.headers, timeout=10)
    assert ok.status_code == 200 and ok.json()["decision"]["action"] == "reject"


def test_filters_sorts_and_pages(served: Served) -> None:
    frame = manifests.read(served.data.manifest)
    def rows(**params: str) -> dict:
        return requests.get(served.base + "/api/rows", params=params, headers=served.headers,
                            timeout=10).json()
    dogs = rows(**{"f.label": "dog", "sort": "size"})
    want = frame[(frame[schema.LABEL] == "dog") & frame[schema.SHA256].notna()]
    assert dogs["total"] == len(want) == 11
    sizes = [r[schema.WIDTH] * r[schema.HEIGHT] for r in dogs["rows"] if r[schema.WIDTH]]
    assert sizes == sorted(sizes, reverse=True)
    page = rows(**{"f.street": "10", "f.split": "train", "offset": "1", "limit": "2"})
    street = frame[(frame["street"] == "10") & (frame[schema.SPLIT] == "train")]
    assert page["total"] == len(street) and [r[schema.SHA256] for r in page["rows"]] == list(
        street[schema.SHA256].iloc[1:3])
    issues = rows(view="issues")
    assert [r[schema.LABEL] for r in issues["rows"]] == ["cat", "dog", "sea/horse"]
    assert rows(**{"f.dup_cluster": "yes"})["total"] == 2
    copy = rows(**{"f.status": "duplicate"})["rows"][0]
    assert copy[schema.DUP_OF] == frame[schema.DUP_OF].dropna().iloc[0]
    assert rows(**{"f.no_such_column": "x"})["total"] == 0


def test_model_mistakes_come_from_the_runs_predictions(tmp_path: Path) -> None:
    from curate.review.app import Review
    from tests.curate.conftest import make_dataset

    data = make_dataset(tmp_path / "data")
    frame = manifests.read(data.manifest)
    ok = frame[frame[schema.STATUS] == schema.OK]
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    pred = pd.DataFrame({schema.SHA256: ok[schema.SHA256], schema.LABEL: ok[schema.LABEL],
                         "prediction": ok[schema.LABEL], "confidence": 0.6})
    assert set(ok[schema.LABEL].iloc[[3, 7]]) == {"cat"}
    pred.iloc[[3, 7], 2] = ["sea/horse", "sea/horse"]  # two mistakes, the second one surer
    pred.iloc[7, 3] = 0.9
    pred.to_csv(run / "predictions.csv", index=False)
    review = Review(data.manifest, ReviewOptions(run=run))
    from curate.review.rows import Query

    page = review.store.page(Query(view="mistakes"))
    wrong = pred[pred["prediction"] != pred[schema.LABEL]]
    assert [r[schema.SHA256] for r in page["rows"]] == list(wrong[schema.SHA256].iloc[::-1])  # surest first
    assert page["rows"][0]["prediction"] == "sea/horse" and page["rows"][0]["confidence"] == 0.9
    assert review.store.counts()["mistakes"] == len(wrong) == 2
    with pytest.raises(manifests.InputError, match=r"predictions\.csv"):
        Review(data.manifest, ReviewOptions(run=tmp_path))


def test_check_prints_what_the_app_would_show(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["review", str(served.data.manifest), "--check", "--json"])
    assert done.value.code == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["rows"], shown["label_issues"], shown["clusters"], shown["mixed_clusters"]) == (33, 3, 1, 1)
    assert shown["classes"] == ["cat", "dog", "sea/horse"] and shown["url"] is None
    with pytest.raises(SystemExit) as done:
        cli.main(["review", str(served.data.manifest), "--run", str(served.data.root)])
    assert done.value.code == 4 and "has no predictions.csv" in capsys.readouterr().err


def _start(manifest: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen([str(BIN / "curate"), "review", str(manifest), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith("review at "):
            return proc, line.split()[-1]
    raise AssertionError(f"no URL printed: {proc.stderr.read()}")  # type: ignore[union-attr]


def _decide(url: str, sha: str, label: str) -> dict:
    token = url.split("token=")[1]
    base = url.split("/?")[0]
    return requests.post(base + "/api/decide", json={"action": "label", "shas": [sha], "value": label},
                         headers={"X-Review-Token": token}, timeout=10).json()


def test_the_command_serves_and_loses_at_most_the_unsaved_batch(tmp_path: Path) -> None:
    from tests.curate.conftest import make_dataset

    data = make_dataset(tmp_path / "data")
    shas = list(manifests.read(data.manifest)[schema.SHA256].dropna()[:2])
    proc, url = _start(data.manifest, "--batch-seconds", "0.1")
    try:
        assert url.startswith("http://127.0.0.1:") and "token=" in url
        _decide(url, shas[0], "dog-written")
        deadline = time.monotonic() + 20
        while _state(url)["pending"] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert manifests.read(data.manifest).set_index(schema.SHA256).loc[shas[0], schema.LABEL] == "dog-written"
    proc, url = _start(data.manifest, "--batch-seconds", "30")  # nothing written until it stops
    _decide(url, shas[1], "queued")
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the queued batch is written on the way out
    assert proc.wait(timeout=30) == 130
    frame = manifests.read(data.manifest).set_index(schema.SHA256)
    assert frame.loc[shas[1], schema.LABEL] == "queued" and frame.loc[shas[0], schema.LABEL] == "dog-written"
    assert [e["command"].split()[:2] for e in manifests.lineage_entries(data.manifest)[-2:]] == [
        ["curate", "review"]] * 2


def _state(url: str) -> dict:
    return requests.get(url.split("/?")[0] + "/api/state", headers={"X-Review-Token": url.split("token=")[1]},
                        timeout=10).json()
