"""``harvest search`` downloads on a real Dask cluster: the manifest the local fetcher gives, per-host
limits held across workers, and a driver killed mid-run that resumes."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import manifests
from harvest import cli, remote
from harvest.fetch import FetchOptions
from harvest.search import SearchCollector, SearchOptions
from harvest.search.resume import PAGES
from manifests import Appender, schema
from manifests.archive import Archive
from manifests.executor import ExecutorSpec
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, InFlight, Reply
from tests.fixtures.kill import kill_mid_run
from tests.fixtures.search import SearchWorld

CONTENT = [schema.SHA256, schema.STATUS, schema.LABEL, schema.PATH, schema.WIDTH, schema.HEIGHT,
           schema.ORIGIN, schema.ERROR]
ENGINE = [schema.QUERY, schema.ENGINE, schema.RESULT_RANK, schema.TITLE, schema.PAGE_URL, schema.CREATOR,
          schema.CREATOR_URL, schema.LICENSE, schema.LICENSE_URL, schema.PROVIDER, schema.SOURCE_DOMAIN,
          schema.CLAIMED_WIDTH, schema.CLAIMED_HEIGHT, schema.SOURCE, schema.MEDIA_URL]


@pytest.fixture
def world() -> Iterator[SearchWorld]:
    with FakeWeb() as web:
        yield SearchWorld(web).serve()


@pytest.fixture
def small_batches() -> Iterator[None]:
    """Batches of 8 downloads, so that a few dozen images of one host make several tasks."""
    old = remote.BATCH
    remote.BATCH = 8
    yield
    remote.BATCH = old


def table(manifest: Path) -> pd.DataFrame:
    frame = manifests.read(manifest)[CONTENT + ENGINE]
    return frame.sort_values(schema.ORIGIN).reset_index(drop=True)


def harvest(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return exit_info.value.code, json.loads(out)


def run_batches(tasks: list[dict]) -> list[dict]:
    return [t for t in tasks if str(t["key"]).startswith("run_batch")]


def test_search_on_dask_equals_local(world: SearchWorld, dask_cluster: str, small_batches: None,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from distributed import Client, get_task_stream

    fanart = world.add("tarzan fanart", 23) + world.add("tarzan fanart", 2, creator=None, width=None,
                                                        height=None)
    world.add("tarzan fanart", 1, reply=Reply(media.html_page(), content_type="image/jpeg"))
    world.add("tarzan fanart", 1, reply=Reply(b"no", 404, content_type="text/plain"))
    world.add("tarzan fanart", 1, reply=Reply(b"", 503))
    world.add("tarzan fanart", 1, reply=Reply(media.jpeg(900), content_type="image/jpeg",
                                              headers={"X-Robots-Tag": "noimageai"}))
    world.add("tarzan sketch", 3, size=(20, 16), width=None, height=None)  # too small, measured
    world.add("tarzan sketch", 2, size=(20, 16))  # too small as claimed: never downloaded
    world.add("tarzan sketch", 6)
    world.share("tarzan sketch", fanart[0])  # the same URL from two queries: one download
    base = ["search", "tarzan fanart", "tarzan sketch", "--label", "tarzan", "--engine-url",
            world.web.base, "--api-interval", "0", "--allow-private", "--retries", "0",
            "--min-side", "30", "--per-host", "3", "--workers", "4", "--json"]
    code, local = harvest([*base, "-m", str(tmp_path / "local" / "m.csv")], capsys)
    assert code == 0
    with Client(dask_cluster) as client, get_task_stream(client) as stream:
        code, dask = harvest([*base, "-m", str(tmp_path / "dask" / "m.csv"), "--executor", "dask",
                              "--cluster", dask_cluster], capsys)
    assert code == 0
    # 38 downloads from one host in batches of 8: five tasks on the cluster did them
    assert len(run_batches(stream.data)) == 5
    expected = {"ok": 31, "not_image": 1, "http_error": 1, "server_error": 1, "opted_out": 1,
                "too_small": 5}
    assert local["statuses"] == expected == dask["statuses"]
    assert local["skipped"] == {"duplicate_url": 1} == dask["skipped"]
    left, right = table(tmp_path / "local" / "m.csv"), table(tmp_path / "dask" / "m.csv")
    assert len(left) == 40
    pd.testing.assert_frame_equal(left, right)
    stored = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.jpg"))
    assert stored == sorted(p.relative_to(tmp_path / "dask") for p in (tmp_path / "dask").rglob("*.jpg"))


def test_per_host_limit_holds_across_workers(world: SearchWorld, dask_cluster: str, small_batches: None,
                                             tmp_path: Path) -> None:
    from distributed import Client, get_task_stream

    flight = InFlight()
    slow_image = flight.slowed(lambda r: Reply(media.jpeg(int(Path(r.path).stem[1:])),
                                               content_type="image/jpeg"))

    for item in world.add("q", 40):
        world.web.route(f"/img/{item.id}.jpg", slow_image)
    fetch = FetchOptions(workers=8, per_host=2, timeout=5, allow_private=True)
    options = SearchOptions(("q",), label="tarzan", engine_url=world.web.base, env={}, api_interval=0,
                            fetch=fetch, executor=ExecutorSpec("dask", cluster=dask_cluster))
    with (Client(dask_cluster) as client, get_task_stream(client) as stream,
          Appender(tmp_path / "m.csv") as sink):
        summary = SearchCollector(options).run(sink)
    assert summary.to_dict()["statuses"] == {"ok": 40}
    batches = run_batches(stream.data)
    assert len(batches) == 5 and len({t["worker"] for t in batches}) == 2  # both workers took some
    assert flight.peak <= 2, f"{flight.peak} downloads from one host at once with --per-host 2"


KILLED_DRIVER = """
import sys
from harvest.fetch import FetchOptions
from harvest.search import SearchCollector, SearchOptions
from manifests import Appender
from manifests.executor import ExecutorSpec
base, manifest, cluster = sys.argv[1:]
opts = SearchOptions(("q",), label="tarzan", engine_url=base, env={}, api_interval=0, limit=200,
                     fetch=FetchOptions(workers=4, per_host=4, allow_private=True),
                     executor=ExecutorSpec("dask", cluster=cluster))
with Appender(manifest, batch_size=10, interval=0) as sink:
    SearchCollector(opts).run(sink)
"""


@pytest.mark.slow
def test_killed_driver_resumes(world: SearchWorld, dask_cluster: str, tmp_path: Path) -> None:
    items = world.add("q", 200)
    for item in items:
        world.web.routes[f"/img/{item.id}.jpg"].delay = 0.02
    options = SearchOptions(("q",), label="tarzan", engine_url=world.web.base, env={}, api_interval=0,
                            limit=200, fetch=FetchOptions(workers=4, per_host=4, allow_private=True))
    with Appender(tmp_path / "local" / "m.csv") as sink:
        SearchCollector(options).run(sink)
    manifest = tmp_path / "dask" / "m.csv"
    kill_mid_run([sys.executable, "-c", KILLED_DRIVER, world.web.base, str(manifest), dask_cluster],
                 lambda: Archive(manifest).has(PAGES) and manifest.exists()  # once a batch is in
                 and len(manifests.read(manifest)) >= 20)
    partial = manifests.read(manifest)
    assert 20 <= len(partial) < 200, "the kill should land mid-run, after the first batch"
    (last,) = Archive(manifest).entries(PAGES).values()
    world.web.log.clear()
    dask = ExecutorSpec("dask", cluster=dask_cluster)
    with Appender(manifest) as sink:
        summary = SearchCollector(dataclasses.replace(options, executor=dask)).run(sink)
    asked = [int(r.query["page"]) for r in world.hits("/v1/images/")]
    assert asked and min(asked) == last["cursor"] + 1  # no finished page listed again
    again = {r.path for r in world.web.log if r.path.startswith("/img/")}
    assert not again & {f"/img/{i.id}.jpg" for i in items if i.url in set(partial[schema.ORIGIN])}
    assert summary.to_dict()["added"] == 200 - len(partial)
    pd.testing.assert_frame_equal(table(tmp_path / "local" / "m.csv"), table(manifest))
