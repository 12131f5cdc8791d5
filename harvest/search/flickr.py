"""Flickr (key in ``FLICKR_API_KEY``): ``flickr.photos.search`` with licence and upload-date windows.

``GET /services/rest/?method=flickr.photos.search`` with ``text``, ``license`` (Flickr's numeric ids,
mapped from --license codes), ``min_upload_date``/``max_upload_date`` (Unix seconds: a real date
window), ``safe_search`` (1 safe, 3 everything), ``extras`` naming the size ladder
``url_o,url_l,url_c,url_z,url_m`` (original, 1024, 800, 640, 500 px) with ``owner_name,license,date_upload``,
``per_page``/``page`` and ``format=json&nojsoncallback=1``. The answer is ``photos.photo[]`` with
``stat: ok``, or ``stat: fail`` with a ``code`` and ``message``. Flickr omits a size's ``url_*`` when
the photo is smaller than it (or the owner hides the original), so each photo takes the largest size
it has; one with none of them is a counted skip, never lost. Numbers come as strings (``total``,
``license``, ``width_*``, ``dateupload``). Flickr returns at most 4,000 distinct results per query: the
summary says when that ceiling cut a query short (narrow the date window and run again for more).

Keys: since 2024 a Flickr API key needs a Flickr Pro account, and a key may make 3,600 calls an hour,
so pages are spaced a second apart.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ..defaults import SEARCH_ENGINES
from .engine import (
    DATES,
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
    unusable,
)

KEY = "FLICKR_API_KEY"
PAGE = 250
CAP = 4000
SIZES = ("url_o", "url_l", "url_c", "url_z", "url_m")  # largest first: each photo takes the first it has
_CC = "https://creativecommons.org/"
# Flickr's licence ids (flickr.photos.licenses.getInfo): (code, licence URL).
LICENSES: dict[str, tuple[str, str | None]] = {
    "0": ("all rights reserved", None),
    "1": ("by-nc-sa 2.0", _CC + "licenses/by-nc-sa/2.0/"), "2": ("by-nc 2.0", _CC + "licenses/by-nc/2.0/"),
    "3": ("by-nc-nd 2.0", _CC + "licenses/by-nc-nd/2.0/"), "4": ("by 2.0", _CC + "licenses/by/2.0/"),
    "5": ("by-sa 2.0", _CC + "licenses/by-sa/2.0/"), "6": ("by-nd 2.0", _CC + "licenses/by-nd/2.0/"),
    "7": ("no known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    "8": ("united states government work", "http://www.usa.gov/copyright.shtml"),
    "9": ("cc0 1.0", _CC + "publicdomain/zero/1.0/"), "10": ("pdm 1.0", _CC + "publicdomain/mark/1.0/"),
    "11": ("by 4.0", _CC + "licenses/by/4.0/"), "12": ("by-sa 4.0", _CC + "licenses/by-sa/4.0/"),
    "13": ("by-nd 4.0", _CC + "licenses/by-nd/4.0/"), "14": ("by-nc 4.0", _CC + "licenses/by-nc/4.0/"),
    "15": ("by-nc-sa 4.0", _CC + "licenses/by-nc-sa/4.0/"),
    "16": ("by-nc-nd 4.0", _CC + "licenses/by-nc-nd/4.0/"),
}
# --license codes to Flickr ids (2.0 and 4.0 versions of each).
IDS = {"by": ("4", "11"), "by-sa": ("5", "12"), "by-nd": ("6", "13"), "by-nc": ("2", "14"),
       "by-nc-sa": ("1", "15"), "by-nc-nd": ("3", "16"), "cc0": ("9",), "pdm": ("7", "10")}


def unix(day: date) -> int:
    """Midnight UTC of a date, in Unix seconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


class FlickrEngine(Engine):
    """Flickr's photo search with real licence and upload-date filters."""

    name = "flickr"
    base_url = "https://api.flickr.com"
    keys = (KEY,)
    filters = frozenset({LICENSE, DATES, SAFE})
    page_size = PAGE
    depth_cap = CAP
    api_interval = 1.0
    about = SEARCH_ENGINES["flickr"]
    key_note = ("a Flickr API key, from https://www.flickr.com/services/apps/create/, needs a Flickr "
                "Pro account and allows 3,600 calls an hour")

    def cap_note(self, cap: int) -> str:
        return f"flickr returns at most {cap} results per query; narrow --after/--before for more"

    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        params: dict[str, Any] = {
            "method": "flickr.photos.search", "api_key": self.key(KEY), "text": query,
            "extras": ",".join((*SIZES, "owner_name", "license", "date_upload")), "per_page": PAGE,
            "page": int(cursor), "sort": "relevance", "content_types": "0", "media": "photos",
            "format": "json", "nojsoncallback": "1"}
        if filters.licenses:
            params["license"] = ",".join(i for code in filters.allowed() for i in IDS[code])
        if filters.after:
            params["min_upload_date"] = unix(filters.after)
        if filters.before:
            params["max_upload_date"] = unix(filters.before)
        if filters.safe is not None:
            params["safe_search"] = 1 if filters.safe else 3
        data = self.call("/services/rest/", params)
        if not isinstance(data, dict) or data.get("stat") != "ok":
            message = data.get("message") if isinstance(data, dict) else None
            code = data.get("code") if isinstance(data, dict) else None
            raise EngineError(f"flickr: error {code}: {message}" if message else
                              f"flickr answered without stat=ok for {query!r}")
        photos = data.get("photos") or {}
        results = [_result(photo) for photo in photos.get("photo") or []]
        pages = as_int(photos.get("pages"))
        more = results and (pages is None or int(cursor) < pages)
        return Page(results, int(cursor) + 1 if more else None, as_int(photos.get("total")))


def _result(photo: Any) -> Result:
    found = ladder(photo, SIZES)
    if found is None:
        return unusable(f"flickr sent none of {', '.join(SIZES)} for photo "
                        f"{photo.get('id') if isinstance(photo, dict) else repr(photo)[:40]}")
    key, url = found
    size = key.removeprefix("url_")
    owner = photo.get("owner")
    license_name, license_url = LICENSES.get(str(photo.get("license")), (None, None))
    return Result(
        url=str(url), title=photo.get("title") or None, creator=photo.get("ownername") or owner,
        page_url=f"https://www.flickr.com/photos/{owner}/{photo.get('id')}/" if owner else None,
        creator_url=f"https://www.flickr.com/photos/{owner}/" if owner else None,
        license=license_name, license_url=license_url, provider="flickr",
        width=as_int(photo.get(f"width_{size}")), height=as_int(photo.get(f"height_{size}")))
