"""Licences of a manifest's rows: their Creative Commons codes, the export filter on them
(``--license-allow``, ``--no-noncommercial``) and their Hugging Face and URL names.

A row's ``license`` is what the search engine said, normalised by harvest (``by-sa 4.0``, ``cc0 1.0``,
``pdm``); its *code* is the first word (``by-sa``), in Openverse's vocabulary. A row with no licence
is material the publisher brought (a folder, frames of their own videos) or a Reddit post whose rights
stay with its poster: the filter lets it pass, and the card names it as such.

Example::

    from curate.card.licenses import LicenseFilter, apply_filter
    kept, excluded = apply_filter(rows, LicenseFilter(allow=("by", "by-sa", "cc0", "pdm")))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from manifests import UsageError, schema

# Openverse's licence codes (harvest search --license takes the same).
CODES = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "cc0", "pdm")
NONE = "(none)"  # a row without a licence: the publisher's own material, or a Reddit post
_CC = "https://creativecommons.org/"


@dataclass(frozen=True)
class LicenseFilter:
    """Which licences an export keeps.

    Args:
        allow: licence codes kept (``by``, ``by-sa``, ``cc0``...); empty keeps every licence.
        no_noncommercial: drop the non-commercial licences (``by-nc``, ``by-nc-sa``, ``by-nc-nd``).
    """

    allow: tuple[str, ...] = ()
    no_noncommercial: bool = False

    def __post_init__(self) -> None:
        bad = [c for c in self.allow if c not in CODES]
        if bad:
            raise UsageError(f"--license-allow: unknown licence code {bad[0]!r} (choose from "
                             f"{', '.join(CODES)})")

    @property
    def active(self) -> bool:
        return bool(self.allow) or self.no_noncommercial

    def keeps(self, licence: str) -> bool:
        """Whether a row with this licence (``NONE`` when it has none) passes."""
        if licence == NONE:
            return True
        code = code_of(licence)
        if self.allow and code not in self.allow:
            return False
        return not (self.no_noncommercial and noncommercial(code))

    def describe(self) -> str:
        parts = [f"--license-allow {','.join(self.allow)}"] if self.allow else []
        return " ".join([*parts, *(["--no-noncommercial"] if self.no_noncommercial else [])])


def normalize(text: str) -> str:
    """``CC BY-SA 4.0`` -> ``by-sa 4.0``: lower case, no ``cc`` prefix (harvest's spelling)."""
    text = " ".join(str(text).lower().replace("_", "-").split())
    if text in ("cc0", "cc-0") or text.startswith(("cc0 ", "cc-0 ")):
        return "cc0" + text[text.index("0") + 1:]
    return text.removeprefix("cc ").removeprefix("cc-")


def code_of(licence: str) -> str:
    """The licence code of a licence (``by-sa 4.0`` -> ``by-sa``)."""
    words = normalize(licence).split()
    return words[0] if words else ""


def noncommercial(code: str) -> bool:
    return "-nc" in code


def noderivatives(code: str) -> bool:
    return code.endswith("-nd") or "-nd-" in code


def licences(rows: pd.DataFrame) -> pd.Series:
    """Each row's licence, normalised, ``NONE`` where it has none."""
    if schema.LICENSE not in rows.columns:
        return pd.Series(NONE, index=rows.index, dtype=object)
    text = rows[schema.LICENSE].astype("string").str.strip()
    return text.where(text.notna() & (text != ""), None).map(
        lambda v: NONE if v is None or pd.isna(v) else normalize(v)).astype(object)


def apply_filter(rows: pd.DataFrame, rule: LicenseFilter) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows the filter keeps, and how many it excluded per licence."""
    if not rule.active:
        return rows, {}
    found = licences(rows)
    keep = found.map(rule.keeps).astype(bool)
    excluded = Counter(found[~keep])
    return rows[keep], dict(sorted(excluded.items()))


def hf_id(licence: str) -> str | None:
    """Hugging Face's licence id (``cc-by-sa-4.0``, ``cc0-1.0``), ``None`` when it has none."""
    words = normalize(licence).split()
    if len(words) != 2 or words[0] not in CODES or words[0] == "pdm":
        return None
    code, version = words
    return f"cc0-{version}" if code == "cc0" else f"cc-{code}-{version}"


def url_of(licence: str) -> str | None:
    """The Creative Commons URL of a licence (``by-sa 4.0`` -> its deed), ``None`` when unknown."""
    words = normalize(licence).split()
    if words == ["pdm"] or (words and words[0] == "pdm"):
        return _CC + "publicdomain/mark/1.0/"
    if len(words) != 2 or words[0] not in CODES:
        return None
    code, version = words
    if code == "cc0":
        return f"{_CC}publicdomain/zero/{version}/"
    return f"{_CC}licenses/{code}/{version}/"
