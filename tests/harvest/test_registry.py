"""The collector contract, checked over every registered collector, and each options class's checks."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from harvest.collector import Collector
from harvest.fetch import FetchOptions
from harvest.folder import FolderOptions
from harvest.reddit import RedditOptions, RedditVideoFrames
from harvest.reddit.media import MediaRules
from harvest.reddit.sources import SourceOptions
from harvest.registry import COLLECTORS
from harvest.search import Filters, SearchOptions
from harvest.summary import RunSummary
from harvest.video import FrameOptions, FramesOptions
from manifests import Appender, UsageError, schema
from manifests.store import Limits

# For each registered collector: options that describe a typical run (nothing there yet), and a bad
# value of its options. A new collector without an entry here fails test_every_collector_is_covered.
CASES: dict[str, tuple[Any, Any]] = {
    "folder": (lambda root: FolderOptions(root=root / "shots", pattern="{street}/{n}.png"),
               lambda root: FolderOptions(root=root, workers=0)),
    "frames": (lambda root: FramesOptions(videos=(root / "kiki.mkv",), frames=FrameOptions(every=24)),
               lambda root: FramesOptions(videos=(root / "kiki.mkv",),
                                          frames=FrameOptions(every=24, every_seconds=2))),
    "reddit": (lambda root: RedditOptions(source=SourceOptions(("Doom",),
                                                               oauth_url="http://127.0.0.1:9",
                                                               arctic_url="http://127.0.0.1:9"),
                                          video_frames=RedditVideoFrames(), env={}),
               lambda root: RedditOptions(source=SourceOptions(("Doom",), sort="best"))),
    "search": (lambda root: SearchOptions(("tarzan fanart",), label="tarzan", engine="flickr", env={},
                                          engine_url="http://127.0.0.1:9"),
               lambda root: SearchOptions(("tarzan fanart",), label="tarzan", engine="openverse",
                                          filters=Filters(after=date(2020, 1, 1)))),
}


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"I/O during construction: {args!r}")


def test_every_collector_is_covered() -> None:
    assert set(CASES) == set(COLLECTORS)


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_collector_contract(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harvest.cli import app

    cls = COLLECTORS[name]
    assert issubclass(cls, Collector) and cls.name == name and cls.source and cls.__doc__
    assert cls.example.startswith(f"harvest {name} ")
    assert name in {c.name for c in app.registered_commands}  # every collector has its command
    assert issubclass(cls.summary_type, RunSummary) and "run" in cls.__dict__
    good, bad = CASES[name]
    monkeypatch.chdir(tmp_path)
    options = good(tmp_path)
    with monkeypatch.context() as guard:  # construction does no I/O: no file opened, no socket
        guard.setattr("builtins.open", _refuse)
        guard.setattr("io.open", _refuse)
        guard.setattr("socket.socket", _refuse)
        collector = cls(options)
        about = collector.describe()
        groups = collector.groups()
    assert about is None or isinstance(about, str)
    assert set(cls.group_columns) <= set(schema.COLUMNS)  # a collector's own groups are declared columns
    assert isinstance(groups, tuple) and all(isinstance(g, str) and g for g in groups)
    assert os.listdir(tmp_path) == []
    with pytest.raises(UsageError):
        bad(tmp_path)
    with pytest.raises(UsageError, match="takes"):
        cls(object())  # a collector takes only its own options type
    summary = cls.summary_type(cls.source)
    assert summary.to_dict()["source"] == cls.source and summary.exit_status() == 0


def test_run_with_nothing_there_fails_whole_not_half(tmp_path: Path) -> None:
    collector = COLLECTORS["folder"](FolderOptions(root=tmp_path / "missing"))
    with pytest.raises(Exception, match="is not a folder"):
        collector.run(Appender(tmp_path / "m.csv"))
    assert not (tmp_path / "m.csv").exists() and not (tmp_path / "m.csv.archive.sqlite").exists()


@pytest.mark.parametrize("make", [
    lambda: FrameOptions(every=24, every_seconds=2),
    lambda: FrameOptions(every=0),
    lambda: FrameOptions(every_seconds=0),
    lambda: FrameOptions(start=5, end=2),
    lambda: FrameOptions(start=-1),
    lambda: FrameOptions(crop="left"),
    lambda: FrameOptions(crop="0:10"),
    lambda: FrameOptions(size=(700, 400), max_side=720),
    lambda: FrameOptions(size=(1, 400)),
    lambda: FrameOptions(max_side=1),
    lambda: FrameOptions(format="gif"),
    lambda: FrameOptions(quality=0),
    lambda: FrameOptions(scene_threshold=0),
    lambda: FrameOptions(black_gap=-1),
    lambda: FramesOptions(videos=()),
    lambda: FramesOptions(videos=(Path("a.mkv"),), workers=0),
    lambda: FolderOptions(root=Path("x"), pattern="plain.png"),
    lambda: FolderOptions(root=Path("x"), pattern="{a}.png", label_field="b"),
    lambda: FolderOptions(root=Path("x"), workers=0),
    lambda: SourceOptions(()),
    lambda: SourceOptions(("Doom",), time="decade"),
    lambda: SourceOptions(("Doom",), limit=0),
    lambda: SourceOptions(("Doom",), top=0),
    lambda: RedditOptions(source=SourceOptions(("Doom",)), video_frames="frames"),
    lambda: RedditOptions(source=("Doom",)),
    lambda: RedditOptions(source=SourceOptions(("Doom",)), label=" "),
    lambda: FetchOptions(workers=0),
    lambda: FetchOptions(per_host=0),
    lambda: FetchOptions(timeout=0),
    lambda: FetchOptions(retries=-1),
    lambda: FetchOptions(max_bytes=0),
    lambda: FetchOptions(mirrors=(("https://i.redd.it/", ""),)),
    lambda: Limits(max_bytes=0),
    lambda: Limits(max_pixels=-5),
    lambda: MediaRules(previews="yes"),
    lambda: SearchOptions((), label="t"),
    lambda: SearchOptions((" ",), label="t"),
    lambda: SearchOptions(("q",), label=" "),
    lambda: SearchOptions(("q",), label="t", limit=0),
    lambda: SearchOptions(("q",), label="t", min_side=0),
    lambda: SearchOptions(("q",), label="t", engine="bing"),
    lambda: SearchOptions(("q",), label="t", engine="ddgs", filters=Filters(licenses=("by",))),
])
def test_options_check_themselves(make) -> None:
    with pytest.raises(UsageError):
        make()


def test_good_options_are_kept_as_given() -> None:
    options = FrameOptions(every_seconds=2, format="jpeg", size=(700, 400), start=1, end=9)
    assert options.format == "jpg" and options.sampling() == (
        "every_seconds=2 start=1 end=9 crop=auto size=700x400 jpg@92")
    assert FramesOptions(videos=("a.mkv",)).videos == (Path("a.mkv"),)
