"""``harvest``: collectors that append verified images and their metadata to a manifest.

The CLI only parses options into each collector's typed options, builds the collector from the
registry, runs it (:func:`collect`) and prints its typed summary; the work is in
:mod:`harvest.registry`. Collector modules are imported inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from manifests import ExitStatus, UsageError, schema
from manifests.cliargs import (
    EPILOG,
    ClusterOpt,
    DebugOpt,
    ExecutorOpt,
    JsonOpt,
    VerboseOpt,
    VersionOpt,
    executor_spec,
    format_size,
    size_param,
)
from manifests.console import RichProgress, err_console, fail, plain, print_json, run_app, setup_logging

from .defaults import (
    ARCTIC_SHIFT_URL,
    DEFAULT_ADAPTIVE_THRESHOLD,
    DEFAULT_BLACK_GAP,
    DEFAULT_CROP,
    DEFAULT_DETECTOR,
    DEFAULT_FRAME_FORMAT,
    DEFAULT_FRAME_QUALITY,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SCENE_LEN,
    DEFAULT_SCENE_THRESHOLD,
    DEFAULT_SEARCH_ENGINE,
    SEARCH_ENGINES,
)

if TYPE_CHECKING:
    from .reddit import RedditVideoFrames
    from .summary import RunSummary
    from .video import FrameOptions

app = typer.Typer(
    name="harvest", no_args_is_help=True, rich_markup_mode="rich",
    help="Collect images into a manifest (CSV, or Parquet by extension).\n\n"
         "Every collector verifies each image fully, stores its sha256, size and format, and merges "
         "rows by sha256, so running a command again adds only what is new.",
    epilog=EPILOG)

ManifestOpt = Annotated[Path, typer.Option("--manifest", "-m", help="Manifest to append to "
                                           "(.csv, or .parquet for large ones).")]
# The fetcher's options, shared by every downloading command (reddit, search).
DownloadsOpt = Annotated[int, typer.Option("--workers", "-j", min=1, help="Parallel downloads.")]
PerHostOpt = Annotated[int, typer.Option(min=1, help="Parallel downloads per host.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to connect and between bytes.")]
RetriesOpt = Annotated[int, typer.Option(min=0, help="Retries on 5xx, 429 and network errors.")]


WorkersOpt = Annotated[int | None, typer.Option("--workers", "-j", min=1,
                                                 help="Parallel workers (default: one per core).")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit with status 3 when any item failed "
                                         "or the run warned that it did nothing.")]
# What a download may cost and where it may go (harvest reddit, harvest search).
AllowPrivateOpt = Annotated[bool, typer.Option("--allow-private", help="Also fetch from loopback, "
                                               "private and link-local addresses (refused by "
                                               "default, redirects included).")]
DeadlineOpt = Annotated[float, typer.Option(min=1, help="Seconds one URL may take in all, retries "
                                            "and waits included.")]
WaitBudgetOpt = Annotated[float, typer.Option(min=0, help="Seconds of retry and rate-limit waits "
                                              "the whole run accepts.")]
IgnoreOptoutOpt = Annotated[list[str] | None, typer.Option(
    "--ignore-optout", metavar="SIGNAL", help="Take images anyway that this opt-out signal refuses: "
    "robots (robots.txt), tdmrep (tdmrep.json, tdm-reservation header), header (X-Robots-Tag noai, "
    "noimageai, noml) or xmp (IPTC/PLUS DataMining in the image); repeatable, recorded in the "
    "lineage and in each row's optout column.")]
MaxPixelsOpt = Annotated[int, typer.Option("--max-pixels", help="Refuse images with more pixels "
                                           "(decompression bombs).")]
MaxBytesOpt = Annotated[int, typer.Option("--max-bytes", parser=size_param, metavar="SIZE",
                                          show_default=format_size(DEFAULT_MAX_BYTES),
                                          help="Refuse files larger than this: 256MB, 1.5GiB, 500k or "
                                               "bytes.")]
# How frames are taken from a video (harvest frames, harvest reddit --video-frames).
EveryOpt = Annotated[int | None, typer.Option(min=1, help="Keep frames 0, N, 2N, ... (frame index; "
                                              "default 48).")]
EverySecondsOpt = Annotated[float | None, typer.Option(min=0.001, help="Keep the first frame of every "
                                                       "S seconds instead.")]
CropOpt = Annotated[str, typer.Option(help="auto: find bars and thin edge lines; none; or a box W:H:X:Y.")]
SizeOpt = Annotated[str | None, typer.Option(help="Output size WIDTHxHEIGHT, e.g. 700x400.")]
MaxSideOpt = Annotated[int | None, typer.Option(min=2, help="Scale so the longer side is at most this "
                                                "(aspect kept).")]
FormatOpt = Annotated[str, typer.Option("--format", help="jpg, png or webp.")]
QualityOpt = Annotated[int, typer.Option(min=1, max=100, help="jpg/webp quality.")]
KeepDarkOpt = Annotated[bool, typer.Option("--keep-dark", help="Keep near-black and near-uniform "
                                           "frames (dropped and counted by default).")]
SceneThresholdOpt = Annotated[float, typer.Option(min=0.1, help="Content change (0-255 HSV scale) "
                                                  "that counts as a cut.")]
BlackGapOpt = Annotated[float, typer.Option(min=0.0, help="Seconds of black between two fades that "
                                            "end a scene.")]
MinSceneLenOpt = Annotated[str, typer.Option(help="A scene lasts at least this long: frames (15) or "
                                             "seconds (0.6s); closer cuts are ignored.")]
DetectorOpt = Annotated[str, typer.Option(help="content: a cut where the content score reaches "
                                          "--scene-threshold; adaptive: where a frame's score is "
                                          "--adaptive-threshold times the average around it (fewer false "
                                          "cuts on fast camera motion).")]
AdaptiveOpt = Annotated[float, typer.Option(min=0.1, help="Ratio to the scores around a frame that "
                                            "makes a cut (--detector adaptive).")]
PerSceneOpt = Annotated[int | None, typer.Option(min=1, help="Keep N evenly spaced frames of every "
                                                 "scene instead of every Nth frame (two passes).")]
HwaccelOpt = Annotated[str, typer.Option(help="Hardware decoding for the frames pass: none, auto (a "
                                         "hardware decoder when one works, else software) or a method "
                                         "of ffmpeg -hwaccels (cuda, vaapi, ...). Same frames either way.")]
SamplingOpt = Annotated[str, typer.Option("--sampling", help="Frames decoded: exact (every frame), "
                                          "reference (reference frames only, ~0.7x the CPU: a kept frame "
                                          "is the nearest decoded one, its row's frame says which) or "
                                          "keyframes (key frames only, a few % of the CPU). Scenes are "
                                          "found on the frames decoded.")]
DecoderOpt = Annotated[str, typer.Option(help="auto (PyAV in-process; the ffmpeg pipe with --hwaccel), "
                                         "pyav or ffmpeg (--sampling exact only). Same frames either way.")]
ScenesCsvOpt = Annotated[Path | None, typer.Option(help="Write the scene list here: start and end "
                                                   "frame and time of every scene of every video.")]


@app.callback()
def _main(verbose: VerboseOpt = 0, debug: DebugOpt = False, version: VersionOpt = False) -> None:
    setup_logging(verbose)


def _print_summary(summary: RunSummary, manifest: Path) -> None:
    """The counts table and the skipped lines; labels and names come from servers and files, so they
    are printed as plain text (``plain``), never as markup."""
    from rich.table import Table
    from rich.text import Text

    console = err_console
    statuses = sorted(summary.statuses, key=lambda s: (s != schema.OK, s))
    # the manifest is named on a line of its own below: in a title it would break mid-word when narrow
    table = Table(title=Text(plain(f"harvest {summary.source}")))
    table.add_column("label")
    for status in statuses:
        table.add_column(Text(plain(status)), justify="right",
                         style="green" if status == schema.OK else "red")
    for label, counts in sorted(summary.by_label.items()):
        table.add_row(Text(plain(label)), *(str(counts.get(s, 0)) for s in statuses))
    if summary.by_label:
        console.print(table)
    _say(f"manifest: {manifest}", soft_wrap=True)
    data = summary.to_dict()
    console.print(f"{data['added']} rows added, {data['already_present']} already present, "
                  f"{data['failed']} not usable (see status/error).", highlight=False)
    for reason, count in data["skipped"].items():
        shown = ", ".join(data["skipped_examples"][reason][:5])
        more = " …" if count > 5 else ""
        console.print(plain(f"skipped {count} ({reason}): {shown}{more}"), highlight=False, markup=False)


def _say(line: str, soft_wrap: bool = False) -> None:
    """One line of a run's report on stderr, as plain text (it may quote servers)."""
    err_console.print(plain(line), highlight=False, markup=False, soft_wrap=soft_wrap)


def collect(name: str, options: Any, manifest: Path, as_json: bool = False, strict: bool = False) -> int:
    """Run the collector ``name`` with its options into ``manifest``; print; return the exit status."""
    from manifests import Appender

    from .registry import COLLECTORS

    collector = COLLECTORS[name](options)
    about = collector.describe()
    if about and not as_json:
        _say(about)
    with Appender(manifest) as sink, RichProgress(enabled=not as_json) as progress:
        summary = collector.run(sink, progress)
    if as_json:
        print_json({**summary.to_dict(), "manifest": str(manifest)})
    else:
        _print_summary(summary, manifest)
        for line in summary.lines():
            _say(line, soft_wrap=True)
    for line in summary.warnings:  # silent no-ops name themselves, on stderr even with --json
        _say(f"warning: {line}", soft_wrap=True)
    for message in summary.errors():
        fail(message, ExitStatus.INPUT)
    return int(summary.exit_status(strict))


def _group_fields(values: list[str] | None) -> tuple[str, ...] | None:
    """``--group-field`` values: None (default rule), () for 'none', else the named fields."""
    if not values:
        return None
    names = tuple(n.strip() for v in values for n in v.split(",") if n.strip())
    return () if names == ("none",) else names


@app.command("folder", epilog="Examples:\n\n"
             "  harvest folder screenshots/ -m data/manifest.csv\n\n"
             "  harvest folder streets/ --pattern '{street}/cog_{suit}_{entity}_{n}.png' "
             "--label-field suit\n\n"
             "  harvest folder smash/ --pattern "
             "'{character}_{color}_{stage}_{orientation}_bg_on_{num:\\d+}.jpg' "
             "--label-field character --copy\n\n"
             "  harvest folder shots/ --pattern '{site}/{label}_{n}.png' --group-field site")
def folder(
    root: Annotated[Path, typer.Argument(help="Folder of images: class folders, optionally under "
                                         "train/ val/ test/.")],
    manifest: ManifestOpt = Path("manifest.csv"),
    pattern: Annotated[str | None, typer.Option(help="Path pattern whose {fields} become columns, "
                                                "e.g. '{street}/cog_{suit}_{n}.png'; "
                                                "{name:REGEX} for a custom match.")] = None,
    label_field: Annotated[str | None, typer.Option(help="Pattern field that holds the label.")] = None,
    group_field: Annotated[list[str] | None, typer.Option(
        help="Pattern field(s) that group related images (site, stage...), recorded in the manifest "
             "so `curate split` keeps each value in one split and `train` reports accuracy per value. "
             "Repeatable or comma-separated; 'auto' names the location-like fields (street, site, "
             "level, map...), the default; 'none' for none.")] = None,
    label: Annotated[str | None, typer.Option(help="One label for every file.")] = None,
    copy: Annotated[bool, typer.Option("--copy", help="Copy files into the manifest's image store "
                                       "(images/) instead of referring to them in place.")] = False,
    follow_links: Annotated[bool, typer.Option("--follow-links", help="Import what symbolic links "
                                               "lead to, even outside the folder (otherwise they "
                                               "are outside_root rows).")] = False,
    workers: WorkersOpt = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    max_bytes: MaxBytesOpt = DEFAULT_MAX_BYTES,
    executor: ExecutorOpt = "local",
    cluster: ClusterOpt = None,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> int:
    """Import a folder of labelled images (ImageFolder layout or a path pattern).

    Labels come from each file's folder; a train/, val/ or test/ folder above it fills the split
    column. Corrupt, truncated and non-image files become rows with a status saying why; other files
    are skipped and counted.
    """
    from manifests.store import Limits

    from .folder import FolderOptions

    options = FolderOptions(root=root, pattern=pattern, label_field=label_field, label=label,
                            copy=copy, workers=workers, limits=Limits(max_bytes, max_pixels),
                            group_fields=_group_fields(group_field),
                            follow_links=follow_links,
                            executor=executor_spec(executor, cluster, workers))
    return collect("folder", options, manifest, as_json, strict)


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 700x400") from None
    if w < 2 or h < 2:
        raise UsageError(f"--size {text!r} is too small")
    return w, h


def _frame_options(every: int | None, every_seconds: float | None, crop: str, size: str | None,
                   image_format: str = DEFAULT_FRAME_FORMAT, **kwargs: object) -> FrameOptions:
    """The frame options of ``harvest frames`` and ``harvest reddit --video-frames`` (they check
    themselves)."""
    from .video import FrameOptions

    return FrameOptions(every=every, every_seconds=every_seconds, crop=crop, size=_size(size),
                        format=image_format, **kwargs)  # type: ignore[arg-type]


@app.command("frames", epilog="Examples:\n\n"
             "  harvest frames kiki.mkv --every 48 --label kiki -m ghibli/manifest.csv\n\n"
             "  harvest frames films/*.mkv --every-seconds 2 --max-side 720 --workers 2 "
             "-m ghibli/manifest.csv\n\n"
             "  harvest frames match.mp4 --crop 1280:720:0:0 --start 30 --end 600 --format png\n\n"
             "  harvest frames film.mkv --frames-per-scene 3 --detector adaptive --min-scene-len 0.6s "
             "--scenes-csv film-scenes.csv")
def frames(
    videos: Annotated[list[Path], typer.Argument(help="Video files (anything ffmpeg reads).")],
    manifest: ManifestOpt = Path("manifest.csv"),
    every: EveryOpt = None,
    every_seconds: EverySecondsOpt = None,
    label: Annotated[str | None, typer.Option(help="Label of every frame (default: the video's file "
                                              "name without extension).")] = None,
    start: Annotated[float | None, typer.Option(min=0, help="Start at this time (seconds).")] = None,
    end: Annotated[float | None, typer.Option(min=0, help="Stop before this time (seconds).")] = None,
    crop: CropOpt = DEFAULT_CROP,
    size: SizeOpt = None,
    max_side: MaxSideOpt = None,
    image_format: FormatOpt = DEFAULT_FRAME_FORMAT,
    quality: QualityOpt = DEFAULT_FRAME_QUALITY,
    keep_dark: KeepDarkOpt = False,
    scene_threshold: SceneThresholdOpt = DEFAULT_SCENE_THRESHOLD,
    black_gap: BlackGapOpt = DEFAULT_BLACK_GAP,
    min_scene_len: MinSceneLenOpt = DEFAULT_MIN_SCENE_LEN,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    adaptive_threshold: AdaptiveOpt = DEFAULT_ADAPTIVE_THRESHOLD,
    frames_per_scene: PerSceneOpt = None,
    scenes_csv: ScenesCsvOpt = None,
    hwaccel: HwaccelOpt = "none",
    sampling: SamplingOpt = "exact",
    decoder: DecoderOpt = "auto",
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Videos decoded in "
                                         "parallel.")] = 1,
    executor: ExecutorOpt = "local",
    cluster: ClusterOpt = None,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> int:
    """Take every Nth frame of videos: borders cropped, scenes recorded, one decoding pass each.

    Frames go into the manifest folder's image store (images/). Each row has video, frame, time,
    scene (<stem>:<nnnn>, changes at hard cuts and dissolves, not inside fades), crop (W:H:X:Y) and
    origin (file#frame=N). Running it again adds nothing and decodes only what is missing.
    """
    from manifests.store import Limits

    from .video import FramesOptions

    options = FramesOptions(
        videos=tuple(videos), label=label, workers=workers, scenes_csv=scenes_csv,
        executor=executor_spec(executor, cluster, workers),
        frames=_frame_options(every, every_seconds, crop, size, image_format, start=start, end=end,
                              max_side=max_side, quality=quality, keep_dark=keep_dark,
                              scene_threshold=scene_threshold, black_gap=black_gap,
                              min_scene_len=min_scene_len, detector=detector,
                              adaptive_threshold=adaptive_threshold, frames_per_scene=frames_per_scene,
                              hwaccel=hwaccel, sampling_policy=sampling, decoder=decoder,
                              limits=Limits(max_pixels=max_pixels)))
    return collect("frames", options, manifest, as_json, strict)


def _mirror(text: str) -> tuple[str, str]:
    prefix, sep, target = text.partition("=")
    if not sep or not prefix or not target:
        raise UsageError(f"--mirror takes PREFIX=URL, not {text!r}")
    return prefix, target


@app.command("reddit", epilog="Examples:\n\n"
             "  harvest reddit r/Doom --sort top --time month -m data/manifest.csv\n\n"
             "  harvest reddit r/Doom r/AnimalCrossing --after 2020-07-01 --before 2020-08-01 "
             "--top 900\n\n"
             "  harvest reddit r/Doom --dump RS_2020-07.zst --top 900 --previews\n\n"
             "  harvest reddit r/Doom --sort top --time week --video-frames --every 48 --max-side 720\n\n"
             "  harvest reddit r/Doom --frames-per-scene 2 --detector adaptive --min-scene-len 0.5s "
             "--scenes-csv doom-scenes.csv\n\n"
             "  harvest reddit --recheck -m data/manifest.csv   # mark rows of deleted posts removed\n\n"
             "Credentials: REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT or --site (a new "
             "app needs Reddit's approval since 2025-11); without them the public Arctic Shift archive "
             "is used. Reddit's Data API terms grant no right to train on user content: you decide.")
def reddit(
    subreddits: Annotated[list[str] | None, typer.Argument(help="Subreddits: r/Doom or Doom.")] = None,
    manifest: ManifestOpt = Path("manifest.csv"),
    sort: Annotated[str, typer.Option(help="hot, new, top, controversial or rising.")] = "hot",
    time: Annotated[str, typer.Option("--time", help="hour, day, week, month, year or all "
                                      "(top and controversial).")] = "all",
    limit: Annotated[int | None, typer.Option(min=1, help="Posts per subreddit (default: all the "
                                              "listing gives; Reddit stops near 1000).")] = None,
    after: Annotated[str | None, typer.Option(help="Posts created at or after (YYYY-MM-DD, ISO time, "
                                              "Unix seconds); uses Arctic Shift or --dump.")] = None,
    before: Annotated[str | None, typer.Option(help="Posts created before this time.")] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Keep the N best-scored posts of each "
                                            "subreddit in the window.")] = None,
    dump: Annotated[list[Path] | None, typer.Option(help="Reddit dump file (RS_YYYY-MM.zst); "
                                                    "repeatable.")] = None,
    site: Annotated[str | None, typer.Option(help="praw.ini site with the credentials.")] = None,
    oauth_url: Annotated[str | None, typer.Option(help="Reddit OAuth API URL (a mirror).")] = None,
    reddit_url: Annotated[str | None, typer.Option(help="Reddit URL for the token endpoint.")] = None,
    arctic_url: Annotated[str, typer.Option(help="Arctic Shift API URL.")] = ARCTIC_SHIFT_URL,
    label: Annotated[str | None, typer.Option(help="One label for every image (default: the "
                                              "subreddit).")] = None,
    previews: Annotated[bool, typer.Option("--previews", help="Take Reddit's preview image of "
                                           "link posts.")] = False,
    allow_nsfw: Annotated[bool, typer.Option("--allow-nsfw", help="Keep NSFW posts.")] = False,
    allow_spoilers: Annotated[bool, typer.Option("--allow-spoilers", help="Keep spoiler posts.")] = False,
    placeholder: Annotated[list[Path] | None, typer.Option(help="Image of a 'removed' placeholder "
                                                           "to reject by content; repeatable.")] = None,
    workers: DownloadsOpt = 16,
    per_host: PerHostOpt = 8,
    timeout: TimeoutOpt = 30.0,
    retries: RetriesOpt = 3,
    user_agent: Annotated[str | None, typer.Option(help="User-Agent of downloads (default: "
                                                   "python:gleanset:VERSION (dataset harvester)).")
                          ] = None,
    mirror: Annotated[list[str] | None, typer.Option(help="PREFIX=URL: fetch URLs starting with "
                                                     "PREFIX from URL instead; repeatable.")] = None,
    allow_private: AllowPrivateOpt = False,
    ignore_optout: IgnoreOptoutOpt = None,
    deadline: DeadlineOpt = 600.0,
    wait_budget: WaitBudgetOpt = 1800.0,
    executor: ExecutorOpt = "local",
    cluster: ClusterOpt = None,
    video_frames: Annotated[bool, typer.Option("--video-frames", help="Take frames of v.redd.it videos "
                                              "(as harvest frames does) instead of skipping them; "
                                              "--every/--every-seconds/--frames-per-scene imply it.")
                            ] = False,
    every: EveryOpt = None,
    every_seconds: EverySecondsOpt = None,
    crop: CropOpt = DEFAULT_CROP,
    size: SizeOpt = None,
    max_side: MaxSideOpt = None,
    image_format: FormatOpt = DEFAULT_FRAME_FORMAT,
    keep_dark: KeepDarkOpt = False,
    scene_threshold: SceneThresholdOpt = DEFAULT_SCENE_THRESHOLD,
    black_gap: BlackGapOpt = DEFAULT_BLACK_GAP,
    min_scene_len: MinSceneLenOpt = DEFAULT_MIN_SCENE_LEN,
    detector: DetectorOpt = DEFAULT_DETECTOR,
    adaptive_threshold: AdaptiveOpt = DEFAULT_ADAPTIVE_THRESHOLD,
    frames_per_scene: PerSceneOpt = None,
    scenes_csv: ScenesCsvOpt = None,
    hwaccel: HwaccelOpt = "none",
    sampling: SamplingOpt = "exact",
    decoder: DecoderOpt = "auto",
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    max_bytes: MaxBytesOpt = DEFAULT_MAX_BYTES,
    recheck: Annotated[bool, typer.Option("--recheck", help="Ask the source again for every post in "
                                          "the manifest; mark rows of deleted or removed posts, or "
                                          "whose media are gone, as removed.")] = False,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> int:
    """Download the images of subreddit posts with their metadata (score, title, flair, ...).

    Direct i.redd.it images, galleries, imgur links and crossposts; self posts, NSFW and spoiler posts
    are skipped and counted, and so are v.redd.it videos unless --video-frames (or --every N) takes
    their frames. Running it again downloads only what is new.
    """
    from manifests.store import Limits

    from .fetch import FetchOptions
    from .reddit import RedditOptions
    from .reddit.media import MediaRules
    from .reddit.placeholders import PlaceholderSet
    from .reddit.sources import SourceOptions, parse_when, subreddit_name

    frames_of = _video_frames(video_frames or bool(every or every_seconds or frames_per_scene), every,
                              every_seconds, crop, size, image_format, scenes_csv=scenes_csv,
                              max_side=max_side, keep_dark=keep_dark, max_bytes=max_bytes,
                              max_pixels=max_pixels, scene_threshold=scene_threshold, black_gap=black_gap,
                              min_scene_len=min_scene_len, detector=detector,
                              adaptive_threshold=adaptive_threshold, frames_per_scene=frames_per_scene,
                              hwaccel=hwaccel, sampling_policy=sampling, decoder=decoder)
    if not subreddits and not recheck:
        raise UsageError("give at least one subreddit (or --recheck to recheck the manifest's posts)")
    source = SourceOptions(
        subreddits=tuple(subreddit_name(s) for s in subreddits or ("all",)), sort=sort, time=time,
        limit=limit,
        after=parse_when(after) if after else None, before=parse_when(before) if before else None,
        top=top, dumps=tuple(dump or ()), site=site, oauth_url=oauth_url, reddit_url=reddit_url,
        arctic_url=arctic_url)
    fetch = FetchOptions(workers=workers, per_host=per_host, timeout=timeout, retries=retries,
                         max_bytes=max_bytes, mirrors=tuple(_mirror(m) for m in mirror or ()),
                         allow_private=allow_private, deadline=deadline, wait_budget=wait_budget,
                         **({"user_agent": user_agent} if user_agent else {}))
    if recheck:
        return _recheck(manifest, source, fetch, as_json)
    options = RedditOptions(source=source, fetch=fetch, label=label,
                            rules=MediaRules(previews, allow_nsfw, allow_spoilers),
                            placeholders=PlaceholderSet.from_files(placeholder or ()).with_known(),
                            limits=Limits(max_bytes, max_pixels), video_frames=frames_of,
                            executor=executor_spec(executor, cluster),
                            optout=_optout(ignore_optout))
    return collect("reddit", options, manifest, as_json, strict)


def _recheck(manifest: Path, source: Any, fetch: Any, as_json: bool) -> int:
    """``harvest reddit --recheck``: run the recheck, print what it marked."""
    from .reddit.recheck import recheck

    result = recheck(manifest, source, fetch)
    if as_json:
        print_json({**result.to_dict(), "manifest": str(manifest)})
    else:
        for line in result.lines():
            _say(line)
    return int(ExitStatus.OK)


# Options of ``harvest reddit`` that only apply to video frames, with their defaults.
_FRAME_ONLY = {"max_side": None, "keep_dark": False, "scene_threshold": DEFAULT_SCENE_THRESHOLD,
               "black_gap": 0.5, "min_scene_len": "0", "detector": "content", "adaptive_threshold": 3.0,
               "hwaccel": "none", "sampling_policy": "exact", "decoder": "auto"}


def _video_frames(wanted: bool, every: int | None, every_seconds: float | None, crop: str,
                  size: str | None, image_format: str, scenes_csv: Path | None = None,
                  **kwargs: object) -> RedditVideoFrames | None:
    """The ``harvest reddit`` video handler, or ``None`` (videos skipped) without --video-frames."""
    if not wanted:
        given = [name for name, on in (("--crop", crop != "auto"), ("--size", size),
                                       ("--format", image_format != "jpg"), ("--scenes-csv", scenes_csv))
                 if on]
        given += ["--" + k.removesuffix("_policy").replace("_", "-") for k, v in _FRAME_ONLY.items()
                  if kwargs.get(k, v) != v]
        if given:
            raise UsageError(f"{', '.join(given)} only apply to video frames: add --video-frames")
        return None
    from manifests.store import Limits

    from .reddit import RedditVideoFrames

    limits = Limits(kwargs.pop("max_bytes"), kwargs.pop("max_pixels"))  # type: ignore[arg-type]
    return RedditVideoFrames(_frame_options(every, every_seconds, crop, size, image_format,
                                            limits=limits, **kwargs), scenes_csv=scenes_csv)


def _optout(ignore: list[str] | None) -> Any:
    """The opt-out policy of a downloading command (``--ignore-optout``, comma-separated or repeated)."""
    from .optout import OptoutPolicy

    return OptoutPolicy(ignore=frozenset(s.strip().lower() for v in ignore or () for s in v.split(",")
                                         if s.strip()))


def _day(option: str, text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date YYYY-MM-DD") from None


@app.command("search", epilog="Examples:\n\n"
             "  harvest search \"tarzan fanart\" \"tarzan sketch\" --label tarzan --license by,by-sa,cc0 "
             "-m disney/manifest.csv\n\n"
             "  harvest search \"kiki fanart\" --label kiki --engine flickr --after 2015-01-01 "
             "--before 2020-01-01 --min-side 256\n\n"
             "  harvest search \"totoro sketch drawing\" --label totoro --engine serpapi --limit 500\n\n"
             "  harvest search \"tarzan fanart\" --label tarzan --limit 2000 --executor dask "
             "--cluster tcp://10.0.0.5:8786\n\n"
             "Engines:\n\n" + "\n\n".join(f"{k}: {v}" for k, v in SEARCH_ENGINES.items()))
def search(
    queries: Annotated[list[str], typer.Argument(help="Search queries; all feed one --label.")],
    label: Annotated[str, typer.Option(help="Label of every image found.")],
    manifest: ManifestOpt = Path("manifest.csv"),
    engine: Annotated[str, typer.Option(help="openverse, wikimedia, flickr, brave, serpapi or ddgs "
                                        "(see below).")] = DEFAULT_SEARCH_ENGINE,
    limit: Annotated[int, typer.Option(min=1, help="Results per query at most (engines' caps: "
                                       "openverse 240 anonymous, flickr 4000, brave 200).")] = 100,
    license: Annotated[str | None, typer.Option("--license", help="Licence codes, comma-separated: "
                                                "by, by-sa, by-nd, by-nc, by-nc-sa, by-nc-nd, cc0, "
                                                "pdm; or the kinds commercial, modification "
                                                "(licences that allow it).")] = None,
    after: Annotated[str | None, typer.Option(help="Uploaded on or after YYYY-MM-DD.")] = None,
    before: Annotated[str | None, typer.Option(help="Uploaded before YYYY-MM-DD.")] = None,
    safe: Annotated[bool | None, typer.Option("--safe/--no-safe", help="Safe search on or off "
                                              "(default: the engine's own default).")] = None,
    min_side: Annotated[int | None, typer.Option(min=1, help="Images whose shorter side is smaller "
                                                 "become too_small rows.")] = None,
    ignore_robots_tag: Annotated[bool, typer.Option("--ignore-robots-tag", hidden=True,
                                                    help="--ignore-optout header")] = False,
    workers: DownloadsOpt = 16,
    per_host: PerHostOpt = 8,
    timeout: TimeoutOpt = 30.0,
    retries: RetriesOpt = 3,
    user_agent: Annotated[str | None, typer.Option(help="User-Agent of API calls and downloads "
                                                   "(Wikimedia asks for contact details in it; default: "
                                                   "python:gleanset:VERSION (dataset harvester)).")
                          ] = None,
    contact: Annotated[str | None, typer.Option(help="E-mail or URL for the User-Agent; --engine "
                                                "wikimedia needs one (or GLEANSET_CONTACT); recorded "
                                                "with the manifest, so asked for once.")] = None,
    engine_url: Annotated[str | None, typer.Option(help="The engine API's base URL (a mirror or a "
                                                   "test server).")] = None,
    api_interval: Annotated[float | None, typer.Option(min=0, help="Seconds between API calls "
                                                       "(default: the engine's documented rate "
                                                       "limit).")] = None,
    mirror: Annotated[list[str] | None, typer.Option(help="PREFIX=URL: fetch URLs starting with "
                                                     "PREFIX from URL instead; repeatable.")] = None,
    allow_private: AllowPrivateOpt = False,
    ignore_optout: IgnoreOptoutOpt = None,
    deadline: DeadlineOpt = 600.0,
    wait_budget: WaitBudgetOpt = 1800.0,
    executor: ExecutorOpt = "local",
    cluster: ClusterOpt = None,
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
    max_bytes: MaxBytesOpt = DEFAULT_MAX_BYTES,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> int:
    """Download the results of image searches with their licence, attribution and creator.

    Each image is a row with query, engine, result_rank, title, page_url, creator, creator_url,
    license, license_url, provider and source_domain; creator (or the page's domain) is the group
    that curate split keeps on one side. Results are deduplicated by URL and by content; running it
    again lists no finished page and downloads no stored URL.
    """
    from manifests.store import Limits

    from .fetch import FetchOptions
    from .search import Filters, SearchOptions

    filters = Filters(licenses=tuple(c.strip().lower() for c in (license or "").split(",") if c.strip()),
                      after=_day("--after", after), before=_day("--before", before), safe=safe)
    fetch = FetchOptions(workers=workers, per_host=per_host, timeout=timeout, retries=retries,
                         max_bytes=max_bytes, mirrors=tuple(_mirror(m) for m in mirror or ()),
                         allow_private=allow_private, deadline=deadline, wait_budget=wait_budget,
                         **({"user_agent": user_agent} if user_agent else {}))
    options = SearchOptions(queries=tuple(queries), label=label, engine=engine, limit=limit,
                            filters=filters, min_side=min_side,
                            optout=_optout([*(ignore_optout or ()), *(["header"] * ignore_robots_tag)]),
                            fetch=fetch, limits=Limits(max_bytes, max_pixels), engine_url=engine_url,
                            api_interval=api_interval, executor=executor_spec(executor, cluster),
                            contact=contact)
    return collect("search", options, manifest, as_json, strict)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``harvest`` console script."""
    raise SystemExit(run_app(app, argv, "harvest"))
