"""``harvest reddit`` end to end: real praw against a local Reddit API, real downloads, faults, resume."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import manifests
from harvest import cli
from harvest.reddit.media import MediaRules
from harvest.reddit.placeholders import PlaceholderSet
from harvest.reddit.sources import SourceOptions
from harvest.registry import COLLECTORS, RedditCollector, RedditOptions
from manifests import Appender, schema
from tests.fixtures import media
from tests.fixtures.http import Reply
from tests.fixtures.kill import kill_mid_run
from tests.harvest.conftest import ENV, RedditWorld, crosspost, post


def collect(world: RedditWorld, manifest: Path, env=ENV, **source) -> dict:
    rules = source.pop("rules", MediaRules())
    extra = {k: source.pop(k) for k in ("placeholders", "video_frames", "label") if k in source}
    src = SourceOptions(**{"subreddits": ("Doom",), "oauth_url": world.web.base,
                           "reddit_url": world.web.base, "arctic_url": world.web.base, **source})
    options = RedditOptions(source=src, rules=rules, fetch=world.fetch, env=env, **extra)
    with Appender(manifest, batch_size=5, interval=0) as sink:
        return RedditCollector(options).run(sink).to_dict()


def every_kind() -> list[dict]:
    parent = post("par01", "image", subreddit="Art")
    return [post("img01"), post("gal01", "gallery", score=7), post("imu01", "imgur"),
            post("imp01", "imgur_page"), crosspost("xp001", parent), post("lnk01", "link"),
            post("slf01", "self"), post("vid01", "video"), post("nsf01", over_18=True),
            post("spo01", spoiler=True), post("rem01", removed_by_category="deleted")]


def test_praw_listing_every_media_kind(world: RedditWorld, tmp_path: Path) -> None:
    posts = every_kind()
    world.listing("Doom", "hot", posts, page=4)
    world.images(posts)
    manifest = tmp_path / "m.csv"
    summary = collect(world, manifest)
    frame = manifests.read(manifest)
    assert manifests.group_columns(frame) == (schema.POST_ID, schema.AUTHOR)
    assert summary["post_source"] == "praw" and summary["posts_listed"] == len(posts)
    assert world.web.hits("/api/v1/access_token") == 1 and world.web.hits("/r/Doom/hot") == 3
    assert sorted(frame[schema.POST_ID]) == ["gal01", "gal01", "gal01", "img01", "imp01", "imu01", "xp001"]
    # the gallery item Reddit marks failed is a row, not a download
    failed = frame[frame[schema.STATUS] != "ok"]
    assert failed[[schema.POST_ID, schema.GALLERY_INDEX, schema.STATUS]].values.tolist() == [
        ["gal01", 1, "removed"]]
    assert "'failed'" in failed.iloc[0][schema.ERROR] and pd.isna(failed.iloc[0][schema.PATH])
    assert not any("gal01m1" in r.path for r in world.web.log)
    frame = frame[frame[schema.STATUS] == "ok"]
    assert (frame[schema.LABEL] == "Doom").all()
    assert summary["skipped"] == {"link_without_image": 1, "nsfw": 1, "removed_post": 1,
                                  "self_post": 1, "spoiler": 1, "video": 1}
    gallery = frame[frame[schema.POST_ID] == "gal01"].sort_values(schema.GALLERY_INDEX)
    assert gallery[schema.GALLERY_INDEX].tolist() == [0, 2]
    assert gallery[schema.ORIGIN].tolist() == ["https://preview.redd.it/gal01m0.jpg?width=1200&s=x",
                                               "https://preview.redd.it/gal01m2.jpg?width=1200&s=x"]
    row = frame[frame[schema.POST_ID] == "img01"].iloc[0]
    assert row[schema.MEDIA_URL] == "https://i.redd.it/img01.jpg" and row[schema.SCORE] == 100
    assert row[schema.PERMALINK] == "https://www.reddit.com/r/Doom/comments/img01/post_img01/"
    assert row[schema.FLAIR] == "Fan Art" and row[schema.UPVOTE_RATIO] == pytest.approx(0.97)
    assert row[schema.CREATED_UTC] == 1593600000 and row[schema.AUTHOR] == "doomguy"
    assert not row[schema.OVER_18] and row[schema.TITLE] == "post img01" and row[schema.NUM_COMMENTS] == 12
    assert (manifest.parent / row[schema.PATH]).is_file() and row[schema.SOURCE] == "reddit"
    xp = frame[frame[schema.POST_ID] == "xp001"].iloc[0]
    assert xp[schema.ORIGIN] == "https://i.redd.it/par01.jpg"
    imgur = frame[frame[schema.POST_ID] == "imp01"].iloc[0]
    assert imgur[schema.ORIGIN] == "https://i.imgur.com/imp01Xyz.jpg"


def test_previews_nsfw_spoilers_and_label(world: RedditWorld, tmp_path: Path) -> None:
    posts = every_kind()
    world.listing("Doom", "top", posts)
    world.images(posts)
    summary = collect(world, tmp_path / "m.csv", sort="top", time="month", label="doom",
                      rules=MediaRules(previews=True, allow_nsfw=True, allow_spoilers=True))
    frame = manifests.read(tmp_path / "m.csv")
    assert {"lnk01", "nsf01", "spo01"} <= set(frame[schema.POST_ID])
    assert (frame[schema.LABEL] == "doom").all() and summary["ok"] == 9
    assert frame.loc[frame[schema.POST_ID] == "nsf01", schema.OVER_18].item()
    assert world.web.log[1].query.get("t") == "month"


def test_faults_become_rows(world: RedditWorld, tmp_path: Path) -> None:
    posts = [post(f"f{i:04d}") for i in range(7)] + [post("f0007", "imgur_page")]
    world.listing("Doom", "hot", posts)
    img = media.jpeg(1, (80, 60))
    web = world.web
    web.route("/i.redd.it/f0000.jpg", [Reply(b"", 429, {"Retry-After": "0"}), Reply(img)])
    web.route("/i.redd.it/f0001.jpg", [Reply(b"", 503), Reply(media.jpeg(2, (80, 60)))])
    web.route("/i.redd.it/f0002.jpg", [Reply(media.jpeg(3, (300, 200)), fault="reset"),
                                       Reply(media.jpeg(3, (80, 60)))])
    web.route("/i.redd.it/f0003.jpg", Reply(media.jpeg(4, (300, 200)), fault="truncate"))
    web.route("/i.redd.it/f0004.jpg", Reply(media.html_page(), content_type="image/jpeg"))
    placeholder = media.removed_placeholder()
    web.route("/i.redd.it/f0005.jpg", Reply(media.encode(placeholder, "PNG")))
    # imgur answers a deleted image's direct link with a redirect to its placeholder
    web.route("/i.imgur.com/f0007Xyz.jpg", Reply(b"", 302, {"Location": web.url("/i.imgur.com/removed.png")}))
    web.route("/i.imgur.com/removed.png", Reply(media.encode(placeholder.resize((200, 100)), "PNG")))
    known = tmp_path / "removed.png"
    placeholder.resize((80, 40)).save(known)
    summary = collect(world, tmp_path / "m.csv", placeholders=PlaceholderSet.from_files([known]))
    frame = manifests.read(tmp_path / "m.csv").set_index(schema.POST_ID)
    status = frame[schema.STATUS].to_dict()
    assert status == {"f0000": "ok", "f0001": "ok", "f0002": "ok", "f0003": "truncated",
                      "f0004": "not_image", "f0005": "removed", "f0006": "http_error",
                      "f0007": "removed"}
    assert frame.loc["f0007", schema.MEDIA_URL] == "https://i.imgur.com/removed.png"
    assert frame.loc[["f0005", "f0007"], schema.PATH].isna().all()  # placeholders are not stored
    assert frame.loc["f0007", schema.ORIGIN] == "https://i.imgur.com/f0007Xyz.jpg"
    assert "served as image/jpeg" in frame.loc["f0004", schema.ERROR]
    assert frame.loc["f0006", schema.ERROR].startswith("HTTP 404")
    assert summary["failed"] == 5 and summary["ok"] == 3


def test_resume_downloads_nothing_twice_and_retries_transient(world: RedditWorld, tmp_path: Path) -> None:
    posts = [post("r0001"), post("r0002", "gallery"), post("r0003")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    world.web.route("/i.redd.it/r0003.jpg", Reply(b"", 503))
    manifest = tmp_path / "m.csv"
    first = collect(world, manifest)
    assert first["ok"] == 3 and first["statuses"]["server_error"] == 1
    world.images(posts)  # r0003 now answers, the rest must not be asked again
    world.web.route("/i.redd.it/r0003.jpg", Reply(media.jpeg(77, (50, 50))))
    world.web.log.clear()
    second = collect(world, manifest)
    image_hits = [r.path for r in world.web.log if r.path.startswith(("/i.redd.it", "/preview"))]
    assert image_hits == ["/i.redd.it/r0003.jpg"]
    # 3 images and the gallery item Reddit marks failed (recorded as a row) are already present
    assert second["already_present"] == 4 and second["added"] == 1 and second["posts_known"] == 2
    frame = manifests.read(manifest)
    assert len(frame) == 5 and frame[schema.STATUS].value_counts().to_dict() == {"ok": 4, "removed": 1}


def test_done_media_are_kept_in_the_archive_not_only_in_rows(world: RedditWorld, tmp_path: Path) -> None:
    posts = [post("a0001"), post("a0002", "gallery"), post("a0003")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    world.web.route("/i.redd.it/a0003.jpg", Reply(b"", 503))
    manifest = tmp_path / "m.csv"
    assert collect(world, manifest)["ok"] == 3
    done = manifests.Archive(manifest).entries("reddit")
    # 3 images and the gallery item Reddit marks failed (a row, never a download)
    assert len(done) == 4 and any(url.endswith("/a0001.jpg") for url in done)
    assert not any("a0003" in url for url in done)  # a transient failure is not done: retried
    manifests.write(manifests.empty(), manifest)  # rows pruned (a curate step, a hand edit)
    world.web.route("/i.redd.it/a0003.jpg", Reply(media.jpeg(78, (50, 50))))
    world.web.log.clear()
    again = collect(world, manifest)
    image_hits = [r.path for r in world.web.log if r.path.startswith(("/i.redd.it", "/preview"))]
    assert image_hits == ["/i.redd.it/a0003.jpg"] and again["added"] == 1


def test_video_extension_point(world: RedditWorld, tmp_path: Path) -> None:
    posts = [post("vid02", "video")]
    world.listing("Doom", "hot", posts)
    world.web.route("/v.redd.it/vid02/DASH_720.mp4", Reply(b"\x00\x00\x00\x18ftypmp42fake-video"))
    seen = []

    def frames(path: Path, row: dict, root: Path) -> list[dict]:
        seen.append((path.read_bytes(), path.name, root))
        data = media.png(5)
        return [{**row, schema.SHA256: "f" * 64, schema.STATUS: "ok", schema.FRAME: 0,
                 schema.BYTES: len(data)}]

    collect(world, tmp_path / "m.csv", video_frames=frames)
    assert seen == [(b"\x00\x00\x00\x18ftypmp42fake-video", "vid02.mp4", tmp_path)]
    row = manifests.read(tmp_path / "m.csv").iloc[0]
    assert row[schema.POST_ID] == "vid02" and row[schema.FRAME] == 0


def test_cap_notice_when_listing_reaches_reddits_limit(world: RedditWorld, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import harvest.reddit.sources as sources

    monkeypatch.setattr(sources, "CAP_NOTICE", 20)
    posts = [post(f"c{i:04d}", "self") for i in range(20)]
    world.listing("Doom", "new", posts, page=100)
    summary = collect(world, tmp_path / "m.csv", sort="new")
    assert any("caps listings near 1000" in n for n in summary["notes"])
    summary = collect(world, tmp_path / "m2.csv", sort="new", limit=5)
    assert summary["posts_listed"] == 5 and summary["notes"] == []


def test_registry_contract_and_no_io_on_construction() -> None:
    cls = COLLECTORS["reddit"]
    assert cls is RedditCollector and cls.example.startswith("harvest reddit ")
    collector = cls(RedditOptions(source=SourceOptions(("Doom",), oauth_url="http://127.0.0.1:9")))
    assert collector.source_choice().name in ("praw", "arctic-shift")


def harvest(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_cli_without_credentials_says_which_source(world: RedditWorld, tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    posts = [post("a0001", created_utc=time.time() - 3600, score=5),
             post("a0002", created_utc=time.time() - 7200, score=50)]
    world.arctic(posts)
    world.images(posts)
    mirrors = [f"--mirror={p}={u}" for p, u in world.fetch.mirrors] + ["--allow-private"]
    args = ["reddit", "r/Doom", "-m", str(tmp_path / "m.csv"), "--arctic-url", world.web.base,
            "--time", "week", *mirrors]
    code, _, err = harvest(args, capsys)
    assert code == 0 and "no Reddit credentials" in err and "arctic-shift" in err
    assert "2 rows added" in err
    code, out, _ = harvest([*args, "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["already_present"] == 2 and data["post_source"] == "arctic-shift"
    code, _, err = harvest(["reddit", "r/Do om"], capsys)
    assert code == 2 and "not a subreddit" in err
    code, _, err = harvest(["reddit", "Doom", "--after", "July"], capsys)
    assert code == 2 and "not a date" in err
    world.web.route("/api/posts/search", Reply(b"", 503))
    code, _, err = harvest([*args, "--retries", "0"], capsys)
    assert code == 6 and "503" in err and "Traceback" not in err


KILLED_RUN = """
import sys, json
from pathlib import Path
from harvest.registry import RedditCollector, RedditOptions
from harvest.fetch import FetchOptions
from harvest.reddit.sources import SourceOptions
from manifests import Appender
base, manifest, mirrors = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
opts = RedditOptions(source=SourceOptions(("Doom",), oauth_url=base, reddit_url=base),
                     fetch=FetchOptions(workers=2, mirrors=tuple(map(tuple, mirrors)),
                                       allow_private=True),
                     env={"REDDIT_CLIENT_ID": "a", "REDDIT_CLIENT_SECRET": "b"})
with Appender(manifest, batch_size=1, interval=0) as sink:
    RedditCollector(opts).run(sink)
"""


@pytest.mark.slow
def test_killed_run_leaves_a_valid_manifest_and_rerun_completes(world: RedditWorld, tmp_path: Path) -> None:
    posts = [post(f"k{i:04d}") for i in range(40)]
    world.listing("Doom", "hot", posts)
    for p in posts:
        world.web.route(f"/i.redd.it/{p['id']}.jpg",
                        Reply(media.jpeg(int(p["id"][1:]), (64, 48)), delay=0.05))
    manifest = tmp_path / "m.csv"
    kill_mid_run([sys.executable, "-c", KILLED_RUN, world.web.base, str(manifest),
                  json.dumps(world.fetch.mirrors)],
                 lambda: manifest.exists() and len(manifests.read(manifest)) >= 8)
    partial = manifests.read(manifest)
    assert 0 < len(partial) < 40, "the kill should land mid-run"
    recorded = {f"/i.redd.it/{pid}.jpg" for pid in partial[schema.POST_ID]}
    world.web.log.clear()
    summary = collect(world, manifest)
    fetched = {r.path for r in world.web.log if r.path.startswith("/i.redd.it/")}
    assert not fetched & recorded
    frame = manifests.read(manifest)
    assert len(frame) == 40 and (frame[schema.STATUS] == "ok").all()
    assert summary["added"] == 40 - len(partial)


def test_praw_ini_site_credentials(world: RedditWorld, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "praw.ini").write_text(
        "[gleanbot]\nclient_id=ini-id\nclient_secret=ini-secret\n"
        "user_agent=python:gleanset-ini:1.0 (by u/tests)\n")
    monkeypatch.chdir(tmp_path)
    import praw.config

    monkeypatch.setattr(praw.config.Config, "CONFIG", None)  # praw reads praw.ini once per process
    posts = [post("ini01")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    summary = collect(world, tmp_path / "m.csv", env={}, site="gleanbot")
    assert summary["post_source"] == "praw" and summary["ok"] == 1
    token = next(r for r in world.web.log if r.path == "/api/v1/access_token")
    import base64

    assert base64.b64decode(token.headers["Authorization"].split()[1]) == b"ini-id:ini-secret"
    listing = next(r for r in world.web.log if r.path.endswith("/hot"))  # praw's own request
    assert listing.headers["User-Agent"].startswith("python:gleanset-ini:1.0")
    with pytest.raises(manifests.UsageError, match="no site 'other'"):
        collect(world, tmp_path / "m.csv", env={}, site="other")


def test_hostile_posts_are_one_line_each_and_the_other_subreddits_go_on(
        world: RedditWorld, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arctic Shift answers r/Doom with JSON nested too deep and r/Quake with items that are not posts,
    "nan" and infinite numbers, a gallery of the wrong shape, and markup and escape sequences in ids
    and subreddit names: no traceback, one error line, every usable post stored (issue 25, item 14)."""
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    now = time.time() - 3600
    good = post("good1", subreddit="Quake", created_utc=now)
    odd = post("odd01", subreddit="Quake", created_utc=str(now), score=float("inf"),
               num_comments=float("nan"), upvote_ratio="nan", title={"a": 1}, link_flair_text=[1])
    world.images([good, odd])
    hostile = [1, "x", None, ["a"], post("nan01", subreddit="Quake", created_utc="nan"),
               post("gal01", "gallery", subreddit="Quake", created_utc=now, gallery_data=[1]),
               post("\x1b]0;pwned\x07\x1b[31m[/x]", subreddit="Quake", created_utc=now, over_18=True),
               post("sub01", subreddit="Quake", created_utc=now, over_18=True, title="\x9b[/x]")]

    def serve(request):
        if request.query["subreddit"] == "Doom":
            return Reply(b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                         content_type="application/json")
        return Reply(json.dumps({"data": [*hostile, good, odd]}).encode(), content_type="application/json")

    world.web.route("/api/posts/search", serve)
    manifest = tmp_path / "m.csv"
    mirrors = [f"--mirror={p}={u}" for p, u in world.fetch.mirrors]
    code, _, err = harvest(["reddit", "Doom", "Quake", "--sort", "new", "-m", str(manifest), "--arctic-url",
                            world.web.base, "--allow-private", *mirrors], capsys)
    assert code == 6 and "Traceback" not in err
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert error.startswith("error: r/Doom: ") and "nested too deeply" in error
    assert "\x1b" not in err and "\\x1b]0;pwned\\x07\\x1b[31m[/x]" in err  # shown, not obeyed
    assert "malformed_post" in err
    frame = manifests.read(manifest).set_index(schema.POST_ID)
    assert list(frame[schema.STATUS]) == ["ok", "ok"] and frame.loc["good1", schema.LABEL] == "Quake"
    assert frame.loc["odd01", schema.CREATED_UTC] == int(now)
    assert all(pd.isna(frame.loc["odd01", c]) for c in (schema.SCORE, schema.NUM_COMMENTS,
                                                          schema.UPVOTE_RATIO, schema.TITLE, schema.FLAIR))
    code, out, _ = harvest(["reddit", "Doom", "Quake", "--sort", "new", "-m", str(tmp_path / "j.csv"),
                            "--arctic-url", world.web.base, "--allow-private", "--json", *mirrors], capsys)
    data = json.loads(out)
    assert code == 6 and data["ok"] == 2 and len(data["failed_subreddits"]) == 1
    assert data["skipped"] == {"malformed_post": 1, "nsfw": 2}
