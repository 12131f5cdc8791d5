"""``harvest reddit``: subreddit images with their post metadata, resumable.

Posts come from ``harvest.reddit.sources`` (praw, Arctic Shift or dump files), their images from
``harvest.reddit.media``; every image is downloaded by the one fetcher (``harvest.fetch``), checked
against known "removed" placeholders (by URL and ``ETag`` before the body is read, by content after),
and verified and written by the image store. Each
image is a row with the post's metadata (``post_id`` groups the images of one post); failed downloads
are rows with a ``status`` and ``error``; posts without images are counted as skipped with a reason.
Opt-outs (:mod:`harvest.optout`): each media host's robots.txt and tdmrep.json are read before its
first download, the answer's headers before its body, an image's XMP before it is stored; a refused
image is an ``opted_out`` row whose ``optout`` column names the signal.

Resume: media URLs done are marked in the manifest's archive (:mod:`manifests.archive`, collector
``reddit``) once their rows are in the manifest; those and the media URLs recorded in the manifest (as
``origin``, or as ``video`` for the frames of a video) are not downloaded again, except those that
failed transiently (``schema.TRANSIENT``, never marked); a post whose media are all done is skipped.

Videos: ``v.redd.it`` posts are skipped unless ``RedditOptions.video_frames`` is set. That hook is the
extension point for the frames collector (``harvest.reddit.video.RedditVideoFrames``): it
receives the downloaded video file (named after the post, so scene ids are ``<post_id>:<nnnn>``), the
post's row fields and the image store's root, and returns the rows of the frames it extracted. A
handler with a ``finish()`` method is called once after the downloads (``RedditVideoFrames`` writes its
scene list there) and returns the file it wrote, or ``None``.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from manifests import ExitStatus, RowSink, UsageError, lineage, read, schema
from manifests.executor import ExecutorSpec
from manifests.progress import Progress
from manifests.store import Limits, store_bytes

from ..collector import Collector
from ..fetch import Fetcher, FetchOptions, FetchResult, Reject
from ..names import bounded_name
from ..optout import HeaderCheck, HostRules, OptoutPolicy, after_download, merge_notes
from ..remote import download
from ..summary import Counts, RunSummary
from ..values import finite_float, finite_int, text
from .media import VIDEO, Media, MediaPlan, MediaRules, plan_media
from .placeholders import PlaceholderSet, placeholder_url
from .sources import SHAPE_ERRORS, PostStream, SourceChoice, SourceOptions, choose

log = logging.getLogger(__name__)

REDDIT = "https://www.reddit.com"
MALFORMED = "malformed_post"  # a post whose fields have shapes no Reddit post has (skip reason)
# Receives a downloaded video file, the post's row fields (``origin`` is the video URL) and the image
# store's root; returns one row per extracted frame (or rows saying why there are none).
VideoFrames = Callable[[Path, dict[str, Any], Path], list[dict[str, Any]]]


@dataclass(frozen=True)
class RedditOptions:
    """Options of ``harvest reddit``.

    Attributes:
        source: which posts, from where (subreddits, sort, window, endpoints).
        rules: which posts and media to take (previews, NSFW, spoilers).
        fetch: the fetcher's settings (workers, per-host limit, retries, User-Agent, mirrors).
        label: one label for every image (default: the subreddit name).
        placeholders: known "removed" placeholder images, rejected by content (imgur's by default).
        limits: byte and pixel limits of the image store.
        video_frames: the frames extractor for ``v.redd.it`` videos; ``None`` skips videos.
        env: environment holding ``REDDIT_*`` credentials (default: ``os.environ``).
        executor: where downloads run (this process's fetcher threads by default, or host batches on
            Dask workers, which must see the manifest's folder at the same path).
        optout: which opt-out signals refuse an image (all by default; ``ignore`` takes them anyway).
    """

    source: SourceOptions
    rules: MediaRules = MediaRules()
    fetch: FetchOptions = FetchOptions()
    label: str | None = None
    placeholders: PlaceholderSet = PlaceholderSet.known()
    limits: Limits = Limits()
    video_frames: VideoFrames | None = None
    env: Mapping[str, str] | None = None
    executor: ExecutorSpec | None = None
    optout: OptoutPolicy = OptoutPolicy()

    def __post_init__(self) -> None:
        if not isinstance(self.source, SourceOptions):
            raise UsageError("RedditOptions.source must be a SourceOptions")
        if self.video_frames is not None and not callable(self.video_frames):
            raise UsageError("RedditOptions.video_frames must be callable (a RedditVideoFrames)")
        if self.label is not None and not str(self.label).strip():
            raise UsageError("--label must not be empty")
        distributed = self.executor is not None and self.executor.distributed
        if distributed and getattr(self.video_frames, "scenes_csv", None) is not None:
            raise UsageError("--scenes-csv needs the local executor: with --executor dask the videos "
                             "are decoded on the workers, which keep their scene lists")


@dataclass
class RedditSummary(RunSummary):
    """A reddit run: the counts, plus where the posts came from and how many were listed."""

    post_source: str | None = None
    source_reason: str | None = None
    posts_listed: int = 0
    posts_known: int = 0  # posts whose media were all done by earlier runs
    notes: list[str] = field(default_factory=list)
    fetch_limits: dict[str, Any] = field(default_factory=dict)  # what the deadline/wait budget gave up
    scenes_csv: str | None = None  # where the video handler wrote the scene list (--scenes-csv)
    failed_subreddits: list[str] = field(default_factory=list)  # whose listing failed, and why

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "post_source": self.post_source, "scenes_csv": self.scenes_csv,
                "source_reason": self.source_reason, "posts_listed": self.posts_listed,
                "posts_known": self.posts_known, "notes": list(self.notes),
                "fetch_limits": dict(self.fetch_limits),
                "failed_subreddits": list(self.failed_subreddits)}

    def lines(self) -> list[str]:
        scenes = [f"scene list written to {self.scenes_csv}"] if self.scenes_csv else []
        return [f"note: {note}" for note in self.notes] + scenes

    def errors(self) -> list[str]:
        return list(self.failed_subreddits)

    def exit_status(self, strict: bool = False) -> ExitStatus:
        """``NETWORK`` when a subreddit's listing failed; otherwise as for every collector."""
        if self.failed_subreddits:
            return ExitStatus.NETWORK
        return super().exit_status(strict)


@dataclass(frozen=True)
class _Job:
    media: Media
    fields: dict[str, Any]


def post_fields(post: dict[str, Any], label: str | None) -> dict[str, Any]:
    """The manifest columns a post gives each of its images, read totally: text fields are text or
    ``None``, numbers are finite (``"nan"``, ``1e400``, a list: ``None``)."""
    permalink = text(post.get("permalink")) or ""
    subreddit = text(post.get("subreddit")) or None
    return {
        schema.POST_ID: text(post.get("id")), schema.SUBREDDIT: subreddit,
        schema.LABEL: label or subreddit, schema.TITLE: text(post.get("title")),
        schema.AUTHOR: text(post.get("author")), schema.SCORE: finite_int(post.get("score")),
        schema.UPVOTE_RATIO: finite_float(post.get("upvote_ratio")),
        schema.NUM_COMMENTS: finite_int(post.get("num_comments")),
        schema.CREATED_UTC: finite_int(post.get("created_utc")),
        schema.PERMALINK: REDDIT + permalink if permalink.startswith("/") else permalink or None,
        schema.FLAIR: text(post.get("link_flair_text")), schema.OVER_18: bool(post.get("over_18")),
        schema.SPOILER: bool(post.get("spoiler")),
    }


def post_name(post: dict[str, Any]) -> str:
    """``subreddit/id`` of a post, for the summary's examples (printed as plain text by the CLI)."""
    return f"{text(post.get('subreddit'))}/{text(post.get('id'))}"


def recorded_origins(manifest: Path, source: str, optout: OptoutPolicy = OptoutPolicy()) -> set[str]:
    """Origins (and videos) of a source already in the manifest, except transient failures and
    opt-outs ``optout`` now ignores (both retried)."""
    frame = read(manifest)
    again = frame[schema.STATUS].isin(schema.TRANSIENT) | optout.retry(frame)
    frame = frame[(frame[schema.SOURCE] == source) & ~again]
    done = set(frame[schema.ORIGIN].dropna().astype(str))
    if schema.VIDEO in frame.columns:
        done.update(frame[schema.VIDEO].dropna().astype(str))
    return done


_STORED_LOCK = threading.Lock()  # module-level: the collector itself travels to Dask workers


def _placeholder_reason(url: str | None) -> str | None:
    name = placeholder_url(url)
    return f"{url} is a 'removed image' placeholder ({name})" if name else None


def stored_digests(manifest: Path, source: str) -> dict[str, str]:
    """sha256 -> origin of the images a source has stored in the manifest."""
    frame = read(manifest)
    frame = frame[(frame[schema.SOURCE] == source) & (frame[schema.STATUS] == schema.OK)]
    return dict(zip(frame[schema.SHA256].astype(str), frame[schema.ORIGIN].astype(str), strict=True))


@dataclass(frozen=True)
class _Rejects:
    """The placeholder check, then the caller's own ``FetchOptions.reject`` (picklable for Dask)."""

    placeholders: PlaceholderSet
    then: Reject | None = None

    def __call__(self, url: str, headers: Mapping[str, str]) -> str | None:
        why = self.placeholders.reject(url, headers)
        return why if why or self.then is None else self.then(url, headers)


def _mark_done(sink: RowSink, source: str, rows: list[dict[str, Any]]) -> None:
    """Mark the media URL of one download done, unless it failed transiently or opted out (retried
    next run, or by a run that ignores that signal: the manifest's row records which)."""
    if rows and not any(row[schema.STATUS] in (*schema.TRANSIENT, schema.OPTED_OUT) for row in rows):
        first = rows[0]
        url = first.get(schema.VIDEO) or first[schema.ORIGIN]
        sink.mark(source, str(url), "", {schema.STATUS: first[schema.STATUS]})


class RedditCollector(Collector):
    """Images of subreddit posts (direct, galleries, imgur, crossposts, previews) with post metadata."""

    name = "reddit"
    source = "reddit"
    example = "harvest reddit r/Doom --after 2020-07-01 --before 2020-08-01 --top 900"
    options_type = RedditOptions
    summary_type = RedditSummary
    group_columns = (schema.POST_ID, schema.AUTHOR)

    options: RedditOptions

    def describe(self) -> str:
        choice = self.source_choice()
        return f"source: {choice.name} — {choice.reason}"

    def source_choice(self) -> SourceChoice:
        """The post source this run will use and why (no I/O)."""
        return choose(self.options.source, self._env())

    def _env(self) -> Mapping[str, str]:
        return self.options.env if self.options.env is not None else os.environ

    def fetch_options(self) -> FetchOptions:
        """The fetcher's options: known placeholders and opt-out headers refused before the body."""
        fetch = self.options.fetch
        return replace(fetch, reject=_Rejects(self.options.placeholders,
                                              HeaderCheck(self.options.optout, fetch.reject)))

    def run(self, sink: RowSink, progress: Progress | None = None) -> RedditSummary:
        """List posts, download their images into the store under the manifest's folder, add rows."""
        opts = self.options
        summary: RedditSummary = self.new_summary()
        counts = Counts(self.progress_or_none(progress), "posts", "posts")
        self.declare_groups(sink)
        done = recorded_origins(sink.path, self.source, opts.optout) | set(sink.archive.entries(self.source))
        self._stored = stored_digests(sink.path, self.source)
        root = sink.path.parent
        sink.details["optout"] = opts.optout.details()

        def emit(row: dict[str, Any]) -> None:
            sink.add(row)
            summary.record(row.get(schema.LABEL), row[schema.STATUS])
            counts.add("stored" if row[schema.STATUS] == schema.OK else "failed")

        finish = getattr(opts.video_frames, "finish", None)
        try:
            with Fetcher(self.fetch_options()) as fetcher, \
                    HostRules(opts.fetch, opts.optout, sink.archive) as hosts:
                stream = PostStream(opts.source, fetcher, self._env())
                summary.post_source, summary.source_reason = stream.choice.name, stream.choice.reason
                jobs = self._jobs(stream, done, summary, counts,
                                  lambda row: (emit(row), _mark_done(sink, self.source, [row])), hosts)
                for rows in self._download(fetcher, jobs, root):
                    for row in rows:
                        emit(row)
                    _mark_done(sink, self.source, rows)
                limits = fetcher.report()
        finally:  # RedditVideoFrames writes its scene list, also when interrupted (a rerun skips
            if callable(finish):  # the videos decoded so far)
                summary.scenes_csv = finish()
        sink.flush()
        summary.fetch_limits = limits
        skipped = limits["skipped_wait_budget"] + limits["skipped_deadline"]
        if skipped:
            stream.notes.append(f"{skipped} downloads gave up at the per-URL deadline or the run's "
                                "wait budget (see fetch_limits; a rerun retries them)")
        summary.merge = sink.stats
        summary.posts_listed, summary.posts_known = counts.counts["posts"], counts.counts["known"]
        summary.notes = list(stream.notes)
        summary.failed_subreddits = list(stream.failed)
        return summary

    def _download(self, fetcher: Fetcher, jobs: Iterator[_Job], root: Path) -> Iterator[list[dict[str, Any]]]:
        """Rows per download: on this fetcher's threads, or as host batches on a Dask executor."""
        handle = functools.partial(_handle, self, root)
        yield from download(fetcher, self.options.executor, jobs, _media_url, handle)

    def _jobs(self, stream: PostStream, done: set[str], summary: RedditSummary, counts: Counts,
              emit: Callable[[dict[str, Any]], object], hosts: HostRules | None = None) -> Iterator[_Job]:
        """Downloads to do, post by post; skipped posts and recorded media are counted here, and media
        known to be gone (failed gallery items, placeholder URLs) or refused by their host's
        robots.txt or tdmrep.json become rows without a download."""
        for post in stream:
            counts.add("posts")
            name = post_name(post)
            try:
                plan = plan_media(post, self.options.rules)
                fields = post_fields(post, self.options.label) if not plan.skip else {}
            except SHAPE_ERRORS as exc:  # a field no Reddit post has the shape of: the post is skipped
                log.warning("post %s skipped: %s: %s", name, type(exc).__name__, exc)
                plan = MediaPlan(skip=MALFORMED)
            if plan.skip:
                summary.skip(plan.skip, name)
                counts.add("skipped")
                continue
            todo = [m for m in plan.media if m.url not in done]
            summary.known += len(plan.media) - len(todo)
            if not todo:
                counts.add("known")
                continue
            for media in todo:
                if media.kind == VIDEO and self.options.video_frames is None:
                    summary.skip("video", name)
                    counts.add("skipped")
                    continue
                done.add(media.url)
                gone = media.gone or _placeholder_reason(media.url)
                if gone:
                    emit({**self._row(_Job(media, fields), None), schema.STATUS: schema.REMOVED,
                          schema.ERROR: gone})
                    continue
                verdict = self.options.optout.verdict(hosts.check(media.url)) if hosts else {}
                if schema.STATUS in verdict:
                    emit({**self._row(_Job(media, fields), None), **verdict})
                    continue
                yield _Job(media, {**fields, **verdict})

    def _row(self, job: _Job, result: FetchResult | None) -> dict[str, Any]:
        final = result.final_url if result is not None else None
        return {**job.fields, schema.SOURCE: self.source, schema.ORIGIN: job.media.url,
                schema.MEDIA_URL: final or job.media.url, schema.GALLERY_INDEX: job.media.gallery_index,
                schema.HARVESTED_AT: lineage.now()}

    def _handle(self, job: _Job, result: FetchResult, root: Path) -> list[dict[str, Any]]:
        """Turn one download into rows (runs on a fetcher thread)."""
        row = self._row(job, result)
        # A placeholder URL (imgur's redirect of a deleted image) or ETag is refused by the fetcher
        # (``fetch_options``) before the body is read: it arrives here as a ``removed`` result.
        if not result.ok or (result.data is None and result.file is None):
            return [{**row, schema.STATUS: result.status, schema.ERROR: result.error,
                     schema.OPTOUT: merge_notes(row.get(schema.OPTOUT), result.note)}]
        data = None if job.media.kind == VIDEO else result.body()
        verdict = after_download(self.options.optout, result.robots_tag, result.tdm_reservation, data)
        row[schema.OPTOUT] = merge_notes(row.get(schema.OPTOUT), verdict.pop(schema.OPTOUT, None))
        if verdict:
            return [{**row, **verdict}]
        if job.media.kind == VIDEO:
            return self._video_rows(job, result, row, root)
        assert data is not None
        placeholder = self.options.placeholders.match(data)
        if placeholder:
            return [{**row, schema.STATUS: schema.REMOVED,
                     schema.ERROR: f"the bytes are a 'removed image' placeholder ({placeholder})"}]
        info, rel = store_bytes(data, root, self.options.limits)
        row.update(info.row())
        if info.ok and info.sha256:
            with _STORED_LOCK:
                first = self._stored.setdefault(info.sha256, job.media.url)
            if first != job.media.url:  # recorded, so a rerun does not fetch this URL again
                return [{**row, schema.SHA256: None, schema.PATH: None, schema.STATUS: schema.DUPLICATE,
                         schema.DUP_OF: info.sha256, schema.ERROR: f"the same bytes as {first}"}]
        if rel is not None:
            row[schema.PATH] = rel.as_posix()
        elif result.content_type:
            row[schema.ERROR] = f"{info.error} (served as {result.content_type})"
        return [row]

    def _video_rows(self, job: _Job, result: FetchResult, row: dict[str, Any],
                    root: Path) -> list[dict[str, Any]]:
        """Hand a downloaded video to the ``video_frames`` extension point."""
        assert self.options.video_frames is not None
        stem = bounded_name(str(row.get(schema.POST_ID) or "video"), fallback="video")
        if job.media.gallery_index is not None:
            stem += f"_{job.media.gallery_index}"
        with tempfile.TemporaryDirectory(prefix="gleanset-video-") as tmp:
            path = Path(tmp) / f"{stem}.mp4"
            if result.file:  # a large video streamed to disk: moved, never held in memory
                shutil.move(result.file, path)
            else:
                path.write_bytes(result.data or b"")
            return self.options.video_frames(path, row, root)


def _media_url(job: _Job) -> str:
    return job.media.url


def _handle(collector: RedditCollector, root: Path, job: _Job, result: FetchResult) -> list[dict[str, Any]]:
    """Module-level (picklable) form of :meth:`RedditCollector._handle`, for executor workers."""
    return collector._handle(job, result, root)
