"""``harvest search``: images from an image-search engine, with licence, attribution and creator.

Queries go to one engine (``harvest.search.registry``); its result pages are walked lazily while the
images of earlier pages download on the one fetcher's pool and go through the one image store. With a
distributed ``executor`` (``--executor dask``) the driver still lists the pages, the downloads run as
host batches on the Dask workers (:mod:`harvest.remote`, rows made by :class:`~.rows.JobRows`), and
only the driver adds rows and marks pages. Each result is a row with ``query``, ``engine``,
``result_rank``, ``title``, ``page_url``, ``creator``, ``creator_url``, ``license``, ``license_url``,
``provider``, ``source_domain`` and the size the engine claimed; ``creator`` (the page's domain when
the engine names none) is the rows' group column, because one artist's drawings look alike and must
not straddle train and test.

Deduplication: by URL across queries, pages, engines and earlier runs (a recorded URL is not
downloaded again unless it failed transiently), and by content through the manifest (same bytes, one
row). Failures are rows: ``http_error``, ``not_image``, ``too_small`` (``min_side``; from the engine's
claimed size before download, else from the image's header), ``opted_out`` (robots.txt, TDMRep,
``X-Robots-Tag`` or the image's XMP said no: :mod:`harvest.optout`; the host files are read here,
before the download is queued), ... A result the engine listed without a
usable URL (no size of its ladder) is a counted skip (``no_usable_url``), so that for every query the
results seen equal the rows made plus the results skipped (``SearchSummary.queries``, one line each).
Engines with a notice (serpapi, ddgs) say it once per manifest; Wikimedia needs a contact for its
User-Agent (``contact``, ``GLEANSET_CONTACT`` or the one an earlier run recorded). Resume: finished
pages are recorded (``harvest.search.resume``) once their rows are flushed, so a rerun lists no
finished page; rows that failed transiently are downloaded again with the fields they were recorded
with.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from manifests import NetworkError, RowSink, UsageError, read, schema
from manifests.executor import ExecutorSpec
from manifests.progress import Progress
from manifests.redact import redact
from manifests.store import Limits

from ..collector import Collector
from ..fetch import DEFAULT_USER_AGENT, Fetcher, FetchOptions
from ..optout import HeaderCheck, HostRules, OptoutPolicy
from ..remote import download
from ..summary import Counts
from .engine import Engine, EngineConfig, Filters, Listed, Result
from .registry import DEFAULT_ENGINE, check_filters, engine_class
from .resume import mark_page, resume_point
from .rows import JobRows, SearchJob, base_fields, job_url
from .summary import SearchSummary
from .wikimedia import CONTACT, contact_user_agent

log = logging.getLogger(__name__)

NO_USABLE_URL = "no_usable_url"  # a listed result with no URL at any size of its engine's ladder
NOTICES = "search:notice"  # archive records: engines whose notice this manifest has shown
CONTACTS = "search:contact"  # archive record: the contact Wikimedia's User-Agent names


@dataclass(frozen=True)
class SearchOptions:
    """Options of ``harvest search``; checked when built (a bad combination is a ``UsageError``).

    Attributes:
        queries: search queries; all feed ``label``.
        label: the class of every image found.
        engine: engine name from ``harvest.search.registry.ENGINES``.
        limit: results listed per query at most.
        filters: licence codes, upload-date window, safe search (only what the engine can apply).
        min_side: images whose shorter side is smaller are ``too_small`` rows.
        optout: which opt-out signals refuse an image (all by default; ``ignore`` takes them anyway).
        fetch: the fetcher's settings (workers, per-host limit, retries, User-Agent, mirrors).
        limits: byte and pixel limits of the image store.
        engine_url: the engine API's base URL (a mirror or a test server; default: the real host).
        env: environment holding the engine's keys (default: ``os.environ``).
        api_interval: seconds between API calls (default: the engine's documented rate limit).
        client: an engine's own client object (``ddgs``: the search function).
        executor: where downloads run (this process's fetcher threads by default, or host batches on
            Dask workers, which must see the manifest's folder at the same path); pages are always
            listed here.
        contact: an e-mail address or URL for the User-Agent (Wikimedia requires one; default:
            ``GLEANSET_CONTACT``, then the contact an earlier run on this manifest recorded).
    """

    queries: tuple[str, ...]
    label: str
    engine: str = DEFAULT_ENGINE
    limit: int = 100
    filters: Filters = Filters()
    min_side: int | None = None
    optout: OptoutPolicy = OptoutPolicy()
    fetch: FetchOptions = FetchOptions()
    limits: Limits = Limits()
    engine_url: str | None = None
    env: Mapping[str, str] | None = None
    api_interval: float | None = None
    client: Any = None
    executor: ExecutorSpec | None = None
    contact: str | None = None

    def __post_init__(self) -> None:
        if self.contact is not None and not self.contact.strip():
            raise UsageError("--contact is empty: give an e-mail address or a URL")
        if not self.queries or any(not q.strip() for q in self.queries):
            raise UsageError("give at least one non-empty search query")
        if not self.label or not self.label.strip():
            raise UsageError("--label is required: the class of the images found")
        if self.limit < 1:
            raise UsageError(f"--limit {self.limit}: give at least 1")
        if self.min_side is not None and self.min_side < 1:
            raise UsageError(f"--min-side {self.min_side}: give at least 1")
        check_filters(self.engine, self.filters)


@dataclass
class _PageState:
    """A listed page whose results are being turned into rows."""

    query: str
    listed: Listed
    outstanding: int = 0
    closed: bool = False


@dataclass
class _Pages:
    """Marks pages finished, in listing order, once every result of theirs is a row (or skipped)."""

    sink: RowSink
    engine: str
    filters: str
    queue: deque[_PageState] = field(default_factory=deque)
    owners: dict[int, _PageState] = field(default_factory=dict)  # download key -> its page
    keys: Iterator[int] = field(default_factory=itertools.count)

    def add(self, page: _PageState) -> None:
        self.queue.append(page)

    def expect(self, page: _PageState) -> int:
        """A download of ``page`` is on its way: its key."""
        key = next(self.keys)
        self.owners[key] = page
        page.outstanding += 1
        return key

    def finish(self, key: int | None = None) -> None:
        """The download ``key`` is a row (``None``: only mark what is finished)."""
        if key is not None:
            self.owners.pop(key).outstanding -= 1
        while self.queue and self.queue[0].closed and self.queue[0].outstanding == 0:
            done = self.queue.popleft()
            mark_page(self.sink, self.engine, done.query, self.filters, done.listed)


@dataclass
class _Seen:
    """Image URLs recorded by earlier runs and URLs met in this one (deduplication by URL)."""

    recorded: frozenset[str]
    met: set[str] = field(default_factory=set)

    def why_skip(self, url: str) -> str | None:
        """``url_recorded``, ``duplicate_url``, or ``None`` (then the URL counts as met)."""
        if url in self.recorded:
            return "url_recorded"
        if url in self.met:
            return "duplicate_url"
        self.met.add(url)
        return None


def recorded_urls(manifest: Path, optout: OptoutPolicy = OptoutPolicy()) -> set[str]:
    """Image URLs any search engine already brought into the manifest, except transient failures and
    opt-outs ``optout`` now ignores."""
    frame = read(manifest)
    mine = frame[schema.SOURCE].fillna("").str.startswith("search:")
    frame = frame[mine & ~frame[schema.STATUS].isin(schema.TRANSIENT) & ~optout.retry(frame)]
    return set(frame[schema.ORIGIN].dropna().astype(str))


_ROW_FIELDS = (schema.LABEL, schema.QUERY, schema.ENGINE, schema.RESULT_RANK, schema.TITLE,
               schema.PAGE_URL, schema.CREATOR, schema.CREATOR_URL, schema.LICENSE, schema.LICENSE_URL,
               schema.PROVIDER, schema.SOURCE_DOMAIN, schema.CLAIMED_WIDTH, schema.CLAIMED_HEIGHT)


def transient_rows(manifest: Path, source: str,
                   optout: OptoutPolicy = OptoutPolicy()) -> list[dict[str, Any]]:
    """Rows of ``source`` that failed transiently (5xx, network, 429) or were refused for a signal
    ``optout`` now ignores: their fields, to try again."""
    frame = read(manifest)
    again = frame[schema.STATUS].isin(schema.TRANSIENT) | optout.retry(frame)
    frame = frame[(frame[schema.SOURCE] == source) & again]
    cols = [c for c in (schema.ORIGIN, *_ROW_FIELDS) if c in frame.columns]
    sub = frame[cols].astype(object)
    return sub.where(sub.notna(), None).to_dict("records")


def result_fields(result: Result, query: str, engine: str, rank: int, label: str) -> dict[str, Any]:
    """The manifest columns a search result gives its row."""
    domain = result.source_domain
    return {schema.LABEL: label, schema.QUERY: query, schema.ENGINE: engine,
            schema.RESULT_RANK: rank, schema.TITLE: result.title, schema.PAGE_URL: result.page_url,
            schema.CREATOR: result.creator or domain, schema.CREATOR_URL: result.creator_url,
            schema.LICENSE: result.license, schema.LICENSE_URL: result.license_url,
            schema.PROVIDER: result.provider, schema.SOURCE_DOMAIN: domain,
            schema.CLAIMED_WIDTH: result.width, schema.CLAIMED_HEIGHT: result.height}


class SearchCollector(Collector):
    """Images from image-search engines (openverse, wikimedia, flickr, brave, serpapi, ddgs)."""

    name = "search"
    source = "search"
    example = 'harvest search "tarzan fanart" "tarzan sketch" --label tarzan --limit 240'
    group_columns: ClassVar[tuple[str, ...]] = (schema.CREATOR,)
    options_type = SearchOptions
    summary_type = SearchSummary

    options: SearchOptions

    def describe(self) -> str:
        cls = engine_class(self.options.engine)
        return f"engine: {cls.name} — {cls.about}"

    @property
    def row_source(self) -> str:
        return f"search:{self.options.engine}"

    def new_summary(self) -> SearchSummary:
        return SearchSummary(self.row_source, engine=self.options.engine,
                             group_columns=self.group_columns)

    def make_engine(self, fetcher: Fetcher) -> Engine:
        """The engine this run uses, talking through ``fetcher`` (no I/O)."""
        opts = self.options
        env = opts.env if opts.env is not None else os.environ
        return engine_class(opts.engine)(fetcher, EngineConfig(
            base_url=opts.engine_url, env=env, api_interval=opts.api_interval, client=opts.client))

    def run(self, sink: RowSink, progress: Progress | None = None) -> SearchSummary:
        """List every query's results, download them into the store beside the manifest, add rows."""
        opts = self.options
        summary = self.new_summary()
        counts = Counts(self.progress_or_none(progress), "listed", "results")
        self.declare_groups(sink)
        seen = _Seen(frozenset(recorded_urls(sink.path, opts.optout)))
        rows = JobRows(self.row_source, sink.path.parent.absolute(), opts.optout, opts.min_side,
                       opts.limits)
        sink.details["optout"] = opts.optout.details()
        fetch = replace(self._fetch_options(sink),
                                    reject=HeaderCheck(opts.optout, opts.fetch.reject))
        with Fetcher(fetch) as fetcher, HostRules(fetch, opts.optout, sink.archive) as hosts:
            engine = self.make_engine(fetcher)
            engine.prepare()
            self._notice(engine, sink, summary, self.progress_or_none(progress))
            pages = _Pages(sink, opts.engine, opts.filters.key())
            jobs = self._gated(self._jobs(engine, pages, seen, sink, summary, counts), hosts, pages,
                               sink, summary, counts)
            try:
                for key, row in download(fetcher, opts.executor, jobs, job_url, rows):
                    summary.account(pages.owners[key].query)
                    self._add(row, sink, summary, counts)
                    pages.finish(key)
            finally:  # interrupted or not, pages whose rows are all in are marked, rows merged
                pages.finish()
                sink.flush()
        summary.merge = sink.stats
        summary.results_listed = counts.counts["listed"]
        return summary

    def _fetch_options(self, sink: RowSink) -> FetchOptions:
        """The fetcher's options; for Wikimedia a User-Agent naming a contact (recorded in the archive
        and the run's lineage, so it is asked for once)."""
        opts = self.options
        if opts.engine != "wikimedia":
            return opts.fetch
        env = opts.env if opts.env is not None else os.environ
        recorded = sink.archive.entries(CONTACTS).get("contact", {}).get("contact")
        contact = opts.contact or env.get(CONTACT) or recorded
        if not contact:
            if opts.fetch.user_agent != DEFAULT_USER_AGENT:
                return opts.fetch  # the user wrote a User-Agent of their own
            raise UsageError("wikimedia asks every client for a contact in its User-Agent (enforced since "
                             f"2025): give --contact EMAIL or set {CONTACT}; it is recorded with the "
                             "manifest, so later runs need it no more")
        contact = " ".join(str(contact).split())
        if contact != recorded:
            sink.archive.add(CONTACTS, "contact", info={"contact": contact})
        sink.details["contact"] = contact
        user_agent = opts.fetch.user_agent if opts.fetch.user_agent != DEFAULT_USER_AGENT \
            else contact_user_agent(contact)
        return replace(opts.fetch, user_agent=user_agent)

    @staticmethod
    def _notice(engine: Engine, sink: RowSink, summary: SearchSummary, progress: Progress) -> None:
        """The engine's notice, the first time this manifest uses it (recorded in the archive)."""
        if not engine.notice or engine.name in sink.archive.entries(NOTICES):
            return
        progress.note(f"notice: {engine.notice}")
        summary.notes.append(engine.notice)
        sink.archive.add(NOTICES, engine.name, info={"notice": engine.notice})

    def _gated(self, jobs: Iterator[SearchJob], hosts: HostRules, pages: _Pages, sink: RowSink,
               summary: SearchSummary, counts: Counts) -> Iterator[SearchJob]:
        """The downloads the image hosts' robots.txt and tdmrep.json allow; the others become rows."""
        for job in jobs:
            verdict = self.options.optout.verdict(hosts.check(job.url))
            if schema.STATUS in verdict:
                summary.account(pages.owners[job.key].query)
                self._add({**job.fields, **base_fields(self.row_source, job.url), **verdict}, sink,
                          summary, counts)
                pages.finish(job.key)
                continue
            yield SearchJob(job.key, job.url, {**job.fields, **verdict}) if verdict else job

    def _add(self, row: dict[str, Any], sink: RowSink, summary: SearchSummary, counts: Counts) -> None:
        sink.add(row)
        summary.record(row.get(schema.LABEL), row[schema.STATUS])
        counts.add("stored" if row[schema.STATUS] == schema.OK else "failed")

    def _jobs(self, engine: Engine, pages: _Pages, seen: _Seen, sink: RowSink,
              summary: SearchSummary, counts: Counts) -> Iterator[SearchJob]:
        """Downloads to do, query by query and page by page; what needs none is handled here."""
        opts = self.options
        yield from self._retry_jobs(sink.path, pages, seen, summary)
        for query in dict.fromkeys(opts.queries):
            report: dict[str, Any] = {"listed": 0, "pages": 0}
            summary.queries[query] = report
            point = resume_point(sink.archive, opts.engine, query, opts.filters.key())
            if point.finished:
                report["finished_earlier"] = True
                continue
            if point.cursor is not None or point.rank > 1:
                report["resumed_at_rank"] = point.rank
            try:
                for listed in engine.walk(query, opts.filters, opts.limit, point.cursor, point.skip,
                                          point.rank):
                    report["pages"] += 1
                    report["listed"] += len(listed.results)
                    if listed.capped:
                        report["capped"] = listed.capped
                        summary.notes.append(f"{query!r}: {listed.capped}")
                    yield from self._page_jobs(engine, query, listed, pages, seen, sink, summary,
                                               counts)
            except NetworkError as exc:  # the engine's API failed for this query (EngineError too)
                why = redact(str(exc))  # an API key in a quoted URL never reaches the output
                report["error"] = why
                summary.failed_queries.append(f"{opts.engine} {query!r}: {why}")
                log.warning("query %r failed: %s", query, why)

    def _retry_jobs(self, manifest: Path, pages: _Pages, seen: _Seen,
                    summary: SearchSummary) -> Iterator[SearchJob]:
        """Downloads that failed transiently in an earlier run, on pages already recorded."""
        rows = transient_rows(manifest, self.row_source, self.options.optout)
        summary.retried = len(rows)
        state = _PageState("", Listed(None, [], 0, 0, None, 0))  # not recorded: pages.add is not called
        for row in rows:
            url = str(row.pop(schema.ORIGIN))
            seen.met.add(url)
            yield SearchJob(pages.expect(state), url, row)

    def _page_jobs(self, engine: Engine, query: str, listed: Listed, pages: _Pages, seen: _Seen,
                   sink: RowSink, summary: SearchSummary, counts: Counts) -> Iterator[SearchJob]:
        opts = self.options
        state = _PageState(query, listed)
        pages.add(state)
        for offset, result in enumerate(listed.results):
            counts.add("listed")
            name = f"{query} #{listed.rank + offset}"
            skip = seen.why_skip(result.url) if result.usable else NO_USABLE_URL
            if skip:
                summary.known += skip == "url_recorded"
                summary.skip(skip, f"{name}: {result.problem}" if skip == NO_USABLE_URL else name)
                summary.account(query, skip)
                counts.add("skipped")
                continue
            fields = result_fields(result, query, engine.name, listed.rank + offset, opts.label)
            if self._claimed_too_small(result):
                self._add({**fields, **base_fields(self.row_source, result.url),
                           schema.STATUS: schema.TOO_SMALL,
                           schema.ERROR: f"the engine says {result.width}x{result.height}, under "
                                         f"--min-side {opts.min_side}; not downloaded"},
                          sink, summary, counts)
                summary.account(query)
                continue
            yield SearchJob(pages.expect(state), result.url, fields)
        state.closed = True
        pages.finish()

    def _claimed_too_small(self, result: Result) -> bool:
        side = self.options.min_side
        return bool(side and result.width and result.height and min(result.width, result.height) < side)
