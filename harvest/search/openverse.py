"""Openverse (the default engine, no key): openly licensed images from Flickr, Wikimedia, museums.

``GET /v1/images/`` with ``q``, ``page``, ``page_size``, ``license`` (``by,by-sa,cc0``...),
``license_type`` (``commercial``, ``modification``) and ``mature``. Anonymous callers get at most 20
results per page and 240 per query (page * page_size), and a documented 20 requests per minute: pages
are spaced 3 s apart. With ``OPENVERSE_CLIENT_ID`` and
``OPENVERSE_CLIENT_SECRET`` (a registered application) a token from ``POST /v1/auth_tokens/token/``
(OAuth2 client credentials) raises the page size to 500 and lifts the 240 cap. Each result carries
``url``, ``foreign_landing_url``, ``creator``, ``creator_url``, ``license``, ``license_version``,
``license_url``, ``provider``, ``source`` and ``width``/``height`` (either may be null). ``result_count``
is a search-engine total (10000 means "at least"); ``page_count`` is how deep one may page. A result
without ``url`` is a counted skip (``thumbnail`` is a small proxy copy built from the request's host,
not the image, so it is no fallback).

Registering an application (once, for the 500-per-page depth): ``POST /v1/auth_tokens/register/`` with
a JSON body ``{"name": ..., "description": ..., "email": ...}`` answers a ``client_id`` and
``client_secret``; verify the e-mail address from the link Openverse sends, then set both variables.
"""

from __future__ import annotations

from typing import Any

from ..defaults import SEARCH_ENGINES
from .engine import (
    LICENSE,
    SAFE,
    Cursor,
    Engine,
    EngineError,
    Filters,
    Page,
    Result,
    as_int,
    ladder,
    normalize_license,
    unusable,
)

ANONYMOUS_PAGE = 20
ANONYMOUS_CAP = 240
TOKEN_PAGE = 500
CLIENT_ID = "OPENVERSE_CLIENT_ID"
CLIENT_SECRET = "OPENVERSE_CLIENT_SECRET"


class OpenverseEngine(Engine):
    """Openverse's image search; anonymous by default, a registered application's token when set."""

    name = "openverse"
    base_url = "https://api.openverse.org"
    filters = frozenset({LICENSE, SAFE})
    page_size = ANONYMOUS_PAGE
    depth_cap = ANONYMOUS_CAP
    api_interval = 3.0  # anonymous: 20 requests per minute
    about = SEARCH_ENGINES["openverse"]

    _token: str | None = None

    def _credentials(self) -> tuple[str, str] | None:
        cid, secret = self.config.env.get(CLIENT_ID), self.config.env.get(CLIENT_SECRET)
        return (cid, secret) if cid and secret else None

    def prepare(self) -> None:
        creds = self._credentials()
        if creds is None or self._token:
            return
        answer = self.fetcher.post_json(f"{self.base}/v1/auth_tokens/token/", {
            "grant_type": "client_credentials", "client_id": creds[0], "client_secret": creds[1]})
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            raise EngineError("openverse: the token endpoint answered without an access_token")
        self._token = str(token)

    def current_cap(self) -> int | None:
        return None if self._token else ANONYMOUS_CAP

    def current_interval(self) -> float:
        return 0.6 if self._token else self.api_interval  # registered: 100 requests per minute

    def cap_note(self, cap: int) -> str:
        return (f"openverse serves anonymous callers at most {cap} results per query; set "
                f"{CLIENT_ID}/{CLIENT_SECRET} for more")

    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        size = TOKEN_PAGE if self._token else ANONYMOUS_PAGE
        params: dict[str, Any] = {"q": query, "page": int(cursor), "page_size": size}
        if filters.codes:
            params["license"] = ",".join(filters.codes)
        if filters.kinds:
            params["license_type"] = ",".join(filters.kinds)
        params["mature"] = "true" if filters.safe is False else "false"
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        data = self.call("/v1/images/", params, headers)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise EngineError(f"openverse answered without a results list for {query!r}")
        results = [_result(item) for item in data["results"]]
        page_count = as_int(data.get("page_count"))
        more = results and (page_count is None or int(cursor) < page_count)
        return Page(results, int(cursor) + 1 if more else None, as_int(data.get("result_count")))


def _result(item: Any) -> Result:
    found = ladder(item, ("url",))
    if found is None:
        return unusable(f"openverse sent no url for result "
                        f"{item.get('id') if isinstance(item, dict) else repr(item)[:40]}", item)
    return Result(
        url=found[1], page_url=item.get("foreign_landing_url"), title=item.get("title"),
        creator=item.get("creator"), creator_url=item.get("creator_url"),
        license=normalize_license(item.get("license"), item.get("license_version")),
        license_url=item.get("license_url"), provider=item.get("provider") or item.get("source"),
        width=as_int(item.get("width")), height=as_int(item.get("height")))
