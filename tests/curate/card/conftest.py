"""The demo's four sources in one small manifest, harvested and curated by the real commands.

A folder of ToonTown screenshots (the demo's generator, fewer per street), two short ffmpeg-made
movies, two subreddits from a local Arctic Shift and Reddit image hosts, and an Openverse-like search
(the demo's catalogue: by-sa and cc0 licences, a 404, an HTML page, a noai image) all go into one
manifest; ``curate dedupe`` and ``curate split --group-by 'street|scene|author|creator'`` follow. Built
once per module: the card tests read it and export it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.demo import make_screenshots
from tests.fixtures.http import FakeWeb
from tests.fixtures.recipes import reddit_world
from tests.fixtures.search import demo_world
from tests.fixtures.video import make_video

GROUPS = "street|scene|author|creator"


@dataclass(frozen=True)
class Demo:
    root: Path
    manifest: Path


def run(main, argv: list[str]) -> None:
    """A console script's entry point, in this process; fails on a non-zero exit."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert (done.value.code or 0) == 0, f"{argv} exited {done.value.code}"


def build(root: Path) -> Demo:
    from curate.cli import main as curate
    from harvest.cli import main as harvest
    from tests.harvest.conftest import ENV, RedditWorld

    root.mkdir(parents=True)
    manifest = root / "manifest.csv"
    m = str(manifest)
    make_screenshots(root, per_cell=2, near_duplicates=2)
    shots = {"castle": ("testsrc2", "mandelbrot"), "meadow": ("smptebars", "rgbtestsrc")}
    films = [make_video(root / "films" / f"{name}.mp4", [(src, 12) for src in sources], size=(96, 64))
             for name, sources in shots.items()]
    run(harvest, ["folder", str(root / "screenshots"), "-m", m, "--pattern",
                  r"{street}/cog_{suit}_{entity}_{n:\d+}.png", "--label-field", "suit"])
    run(harvest, ["frames", *map(str, films), "-m", m, "--every", "6", "--workers", "1"])
    saved = {k: os.environ.pop(k) for k in ENV if k in os.environ}
    try:
        with FakeWeb() as web:
            world = RedditWorld(web)
            reddit_world(world, per_sub=6, authors=3, reposts=1)
            demo_world(web)
            mirrors = [f"--mirror={prefix}={url}" for prefix, url in world.fetch.mirrors]
            run(harvest, ["reddit", "r/Doom", "r/AnimalCrossing", "--after", "2020-07-01", "--before",
                          "2020-08-01", "--top", "1000", "-m", m, "--arctic-url", web.base, *mirrors,
                          "--allow-private"])
            run(harvest, ["search", "castle fanart", "castle sketch", "--label", "castle", "-m", m,
                          "--engine-url", web.base, "--api-interval", "0", "--allow-private"])
    finally:
        os.environ.update(saved)
    run(curate, ["dedupe", m, "--threshold", "4"])
    run(curate, ["split", m, "--group-by", GROUPS])
    return Demo(root, manifest)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield build(tmp_path_factory.mktemp("card") / "data")
