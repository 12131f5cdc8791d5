"""One ``harvest search`` download and the row it becomes, apart from the collector so that both
travel to a Dask worker (``--executor dask``) without the engine, its client or its keys.

:class:`JobRows` checks what the server sent in this order: a failed download is a row with its
status (``opted_out`` when the fetcher refused the answer's opt-out headers before its body); an
image whose headers or XMP opt out (:func:`harvest.optout.after_download`) is ``opted_out`` unless the
policy ignores that signal; an image under ``min_side`` (measured from its header) is ``too_small``;
everything else goes through the image store under ``root``, which says ``not_image``, ``corrupt``,
``too_large`` or where it stored the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests import images, lineage, schema
from manifests.store import Limits, store_bytes

from ..fetch import FetchResult
from ..optout import OptoutPolicy, after_download, merge_notes


@dataclass(frozen=True)
class SearchJob:
    """One download; picklable (it may travel to a Dask worker), its page stays with the driver."""

    key: int
    url: str
    fields: dict[str, Any]


def base_fields(source: str, url: str) -> dict[str, Any]:
    """The columns every row of a search source has: where it came from and when."""
    return {schema.SOURCE: source, schema.ORIGIN: url, schema.HARVESTED_AT: lineage.now()}


@dataclass(frozen=True)
class JobRows:
    """Turns one download into its row (on a fetcher thread, here or on a Dask worker): opt-out
    signals, the measured size, then the image store under ``root``."""

    source: str
    root: Path
    optout: OptoutPolicy = OptoutPolicy()
    min_side: int | None = None
    limits: Limits = Limits()

    def __call__(self, job: SearchJob, result: FetchResult) -> tuple[int, dict[str, Any]]:
        return job.key, self.row(job, result)

    def row(self, job: SearchJob, result: FetchResult) -> dict[str, Any]:
        row = {**job.fields, **base_fields(self.source, job.url),
               schema.MEDIA_URL: result.final_url or job.url}
        if not result.ok or result.data is None:
            failed = {**row, schema.STATUS: result.status, schema.ERROR: result.error}
            return {**failed, schema.OPTOUT: merge_notes(row.get(schema.OPTOUT), result.note)}
        verdict = after_download(self.optout, result.robots_tag, result.tdm_reservation, result.data)
        row[schema.OPTOUT] = merge_notes(row.get(schema.OPTOUT), verdict.pop(schema.OPTOUT, None))
        if verdict:
            return {**row, **verdict}
        small = self._measured_too_small(result.data)
        if small:
            return {**row, schema.STATUS: schema.TOO_SMALL, schema.WIDTH: small[0],
                    schema.HEIGHT: small[1], schema.BYTES: len(result.data),
                    schema.ERROR: f"{small[0]}x{small[1]}, under --min-side {self.min_side}"}
        info, rel = store_bytes(result.data, self.root, self.limits)
        row.update(info.row())
        if rel is not None:
            row[schema.PATH] = rel.as_posix()
        elif result.content_type:
            row[schema.ERROR] = f"{info.error} (served as {result.content_type})"
        return row

    def _measured_too_small(self, data: bytes) -> tuple[int, int] | None:
        """The real size when it is under ``min_side`` (read from the header; no full decode)."""
        side = self.min_side
        if not side:
            return None
        found = images.header(data)
        if found is None:  # not an image: the store says what it is
            return None
        width, height = found[1]
        return (width, height) if min(width, height) < side else None


def job_url(job: SearchJob) -> str:
    """The URL a job downloads (module level: it pickles)."""
    return job.url
