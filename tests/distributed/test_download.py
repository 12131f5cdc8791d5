"""Downloads on a real Dask cluster: the same manifest as local, and per-host limits held across workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import manifests
from harvest.reddit import RedditCollector, RedditOptions
from harvest.reddit.media import MediaRules
from harvest.reddit.sources import SourceOptions
from manifests import Appender, schema
from manifests.archive import Archive
from manifests.executor import ExecutorSpec
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, InFlight, Reply
from tests.harvest.conftest import ENV, RedditWorld, post

COLUMNS = [schema.SHA256, schema.STATUS, schema.POST_ID, schema.ORIGIN, schema.LABEL, schema.PATH]


def collect(world: RedditWorld, manifest: Path, executor: ExecutorSpec | None, fetch=None) -> None:
    src = SourceOptions(subreddits=("Doom",), oauth_url=world.web.base, reddit_url=world.web.base,
                        arctic_url=world.web.base)
    options = RedditOptions(source=src, rules=MediaRules(), fetch=fetch or world.fetch, env=ENV,
                            executor=executor)
    with Appender(manifest) as sink:
        RedditCollector(options).run(sink)


def table(manifest: Path) -> pd.DataFrame:
    frame = manifests.read(manifest)[COLUMNS]
    return frame.sort_values([schema.ORIGIN]).reset_index(drop=True)


def test_reddit_downloads_on_dask_equal_local(dask: ExecutorSpec, tmp_path: Path) -> None:
    with FakeWeb() as web:
        world = RedditWorld(web)
        posts = [post(f"i{i:03d}") for i in range(30)] + [post(f"g{i:02d}", "gallery") for i in range(5)]
        posts += [post(f"u{i:02d}", "imgur") for i in range(10)]
        world.listing("Doom", "hot", posts, page=50)
        world.images(posts)
        web.route(world.path_of("https://i.redd.it/i007.jpg"), Reply(media.html_page(),
                                                                      content_type="text/html"))
        collect(world, tmp_path / "local" / "m.csv", None)
        collect(world, tmp_path / "dask" / "m.csv", dask)
    local, remote = table(tmp_path / "local" / "m.csv"), table(tmp_path / "dask" / "m.csv")
    # 30 images, 5 galleries of 2 images and a failed item (a `removed` row), 10 imgur links
    assert len(local) == 30 + 5 * 3 + 10 and (local[schema.STATUS] == "not_image").sum() == 1
    assert (local[schema.STATUS] == schema.REMOVED).sum() == 5
    pd.testing.assert_frame_equal(local, remote)
    # every finished download is recorded for the rerun, not only the first of each host batch
    marked = Archive(tmp_path / "local" / "m.csv").entries("reddit")
    assert len(marked) == 30 + 5 * 3 + 10
    assert marked.keys() == Archive(tmp_path / "dask" / "m.csv").entries("reddit").keys()


def test_per_host_limit_holds_across_workers(dask: ExecutorSpec, tmp_path: Path) -> None:
    flight = InFlight()
    slow_image = flight.slowed(lambda r: Reply(media.jpeg(int(Path(r.path).stem[1:])),
                                               content_type="image/jpeg"))

    with FakeWeb() as web:
        world = RedditWorld(web)
        posts = [post(f"p{i:03d}") for i in range(40)]
        world.listing("Doom", "hot", posts, page=100)
        for p in posts:
            web.route(world.path_of(p["url"]), slow_image)
        fetch = world.fetch.__class__(**{**world.fetch.__dict__, "workers": 8, "per_host": 2})
        from harvest import remote

        old = remote.BATCH
        remote.BATCH = 8  # five batches of one host, so two workers could overlap on it
        try:
            collect(world, tmp_path / "m.csv", dask, fetch)
        finally:
            remote.BATCH = old
    frame = manifests.read(tmp_path / "m.csv")
    assert (frame[schema.STATUS] == schema.OK).sum() == 40
    assert flight.peak <= 2, f"{flight.peak} downloads from one host at once with --per-host 2"
