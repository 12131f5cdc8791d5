"""The opt-out signals a download can carry, read from what is at hand: no I/O here.

- ``header``: ``X-Robots-Tag`` directives ``noai``, ``noimageai`` and ``noml``, addressed to everyone,
  to ``*`` or to gleanset (``otherbot: noai`` binds only ``otherbot``), as img2dataset reads them;
- ``tdmrep``: the ``tdm-reservation`` response header of the W3C TDMRep final report (``1``: TDM rights
  reserved; ``0``: not reserved; any other value is a protocol error and counts as unset), and the
  rules of a site's ``/.well-known/tdmrep.json`` (:func:`tdmrep_rules`, :func:`tdmrep_match`);
- ``xmp``: the IPTC/PLUS ``DataMining`` property in the image's XMP packet: every
  ``DMI-PROHIBITED...`` value of the PLUS vocabulary (AI/ML training, generative AI/ML training,
  all mining, "see constraint" ...) blocks, since the use of an exported dataset is not known here;
  ``DMI-ALLOWED`` and ``DMI-UNSPECIFIED`` do not.

The robots.txt signal needs the host's file: see :mod:`harvest.optout.hosts`. A :class:`Finding`
says which signal, what it said and where it came from; :class:`OptoutPolicy` turns it into the row's
fields: an ``opted_out`` row, or a note on a row ``--ignore-optout`` let through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from manifests import UsageError, images, schema

from ..fetch import Refusal, Reject

if TYPE_CHECKING:
    import pandas as pd

ROBOTS, TDMREP, HEADER, XMP = "robots", "tdmrep", "header", "xmp"
SIGNALS = (ROBOTS, TDMREP, HEADER, XMP)
AGENT = "gleanset"  # our product token in robots.txt groups and X-Robots-Tag prefixes
BLOCKING = frozenset({"noai", "noimageai", "noml"})
OUR_AGENTS = frozenset({"*", AGENT})
# X-Robots-Tag directives that take a value after a colon (not user-agent prefixes).
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
_WHERE_HEADER = "response header"
_WHERE_XMP = "image XMP"


@dataclass(frozen=True)
class Finding:
    """One opt-out signal met: ``signal`` (robots, tdmrep, header, xmp), what it said, where it was.

    ``status`` is the row's status when the signal is honoured: ``opted_out``, or a transient status
    for a robots.txt that could not be read (RFC 9309: complete disallow; a later run asks again).
    """

    signal: str
    what: str
    where: str
    status: str = schema.OPTED_OUT

    def text(self) -> str:
        return f"{self.signal}: {self.what} ({self.where})"


@dataclass(frozen=True)
class OptoutPolicy:
    """Which opt-out checks decide (all by default); ``ignore`` names those ``--ignore-optout`` turns
    into notes. ``deadline`` bounds the seconds one host's robots.txt or tdmrep.json may take."""

    ignore: frozenset[str] = frozenset()
    agent: str = AGENT
    deadline: float = 20.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.ignore) - set(SIGNALS))
        if unknown:
            raise UsageError(f"--ignore-optout {', '.join(unknown)}: choose from {', '.join(SIGNALS)}")
        if not self.deadline > 0:
            raise UsageError(f"the opt-out deadline must be above 0 seconds, not {self.deadline}")
        object.__setattr__(self, "ignore", frozenset(self.ignore))

    def honours(self, signal: str) -> bool:
        return signal not in self.ignore

    def verdict(self, finding: Finding | None, stage: str = "downloaded") -> dict[str, Any]:
        """The row fields a finding gives: ``{}`` for none, a note when ignored, else the refusal."""
        if finding is None:
            return {}
        if not self.honours(finding.signal):
            return {schema.OPTOUT: f"ignored {finding.text()}"}
        return {schema.STATUS: finding.status, schema.OPTOUT: finding.text(),
                schema.ERROR: f"not {stage}: {finding.text()}; --ignore-optout {finding.signal} "
                              "takes it anyway"}

    def retry(self, frame: pd.DataFrame) -> pd.Series:
        """Rows an earlier run refused for a signal this policy ignores: a rerun downloads them again
        (``--ignore-optout`` after the fact), as it does transient failures."""
        refused = frame[schema.STATUS].fillna("") == schema.OPTED_OUT
        if schema.OPTOUT not in frame.columns or not self.ignore:
            return refused & False
        signal = frame[schema.OPTOUT].fillna("").astype(str).str.split(":", n=1).str[0]
        return refused & signal.isin(sorted(self.ignore))

    def details(self) -> dict[str, Any]:
        """What the run's lineage entry records about the opt-out checks."""
        return {"checked": [s for s in SIGNALS if self.honours(s)], "ignored": sorted(self.ignore),
                "agent": self.agent}


def blocking_directive(header: str | None, agent: str = AGENT) -> str | None:
    """The first directive of an ``X-Robots-Tag`` value that forbids AI use by us, or ``None``."""
    if not header:
        return None
    ours = OUR_AGENTS | {agent.lower()}
    bound: str | None = None
    for piece in header.split(","):
        piece = piece.strip().lower()
        head, sep, rest = piece.partition(":")
        if sep and head.strip() not in _VALUED:
            bound, piece = head.strip(), rest.strip()
        for directive in piece.split():
            if directive in BLOCKING and (bound is None or bound in ours):
                return directive
    return None


def header_findings(robots_tag: str | None, tdm_reservation: str | None,
                    agent: str = AGENT) -> list[Finding]:
    """The signals in a download's response headers: X-Robots-Tag, then tdm-reservation."""
    found = []
    directive = blocking_directive(robots_tag, agent)
    if directive:
        found.append(Finding(HEADER, f"X-Robots-Tag {directive}", _WHERE_HEADER))
    if (tdm_reservation or "").strip() == "1":
        found.append(Finding(TDMREP, "tdm-reservation 1", _WHERE_HEADER))
    return found


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _strings(value)


def _data_mining(node: Any) -> Iterator[str]:
    """Every value of a ``DataMining`` property anywhere in Pillow's XMP dicts."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if str(key).lower() == "datamining":
                yield from _strings(value)
            else:
                yield from _data_mining(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _data_mining(value)


def xmp_finding(data: bytes) -> Finding | None:
    """The IPTC/PLUS ``DataMining`` value that prohibits mining, read from the image's XMP, or ``None``."""
    for value in _data_mining(images.xmp(data)):
        text = value.strip()
        name = text.rsplit("/", 1)[-1]
        if name.upper().startswith("DMI-PROHIBITED") or text.lower().startswith("prohibited"):
            return Finding(XMP, f"plus:DataMining {name}", _WHERE_XMP)
    return None


def after_download(policy: OptoutPolicy, robots_tag: str | None, tdm_reservation: str | None,
                   data: bytes | None) -> dict[str, Any]:
    """Row fields from the signals a downloaded image carries (headers, then its XMP when ``data``):
    the first honoured one refuses it; ignored ones become notes."""
    found = header_findings(robots_tag, tdm_reservation, policy.agent)
    if data is not None:
        found += [f for f in (xmp_finding(data),) if f]
    notes = []
    for finding in found:
        verdict = policy.verdict(finding, "stored")
        if schema.STATUS in verdict:
            return verdict
        notes.append(verdict[schema.OPTOUT])
    return {schema.OPTOUT: "; ".join(notes)} if notes else {}


def merge_notes(*notes: Any) -> str | None:
    """Opt-out notes of one row joined (``None`` when there are none)."""
    kept = [str(n) for n in notes if n]
    return "; ".join(kept) if kept else None


@dataclass(frozen=True)
class HeaderCheck:
    """The fetcher's ``reject`` hook: refuse a download whose headers opt out, before its body is read,
    then ask ``then`` (picklable: it travels to Dask workers with the fetch options)."""

    policy: OptoutPolicy
    then: Reject | None = None

    def __call__(self, url: str, headers: Mapping[str, str]) -> str | Refusal | None:
        for finding in header_findings(headers.get("X-Robots-Tag"), headers.get("tdm-reservation"),
                                       self.policy.agent):
            verdict = self.policy.verdict(finding)
            if schema.STATUS in verdict:
                return Refusal(verdict[schema.STATUS], verdict[schema.ERROR], verdict[schema.OPTOUT])
        return self.then(url, headers) if self.then is not None else None


# -- /.well-known/tdmrep.json ------------------------------------------------------------------------
@dataclass(frozen=True)
class TdmRule:
    """One rule of a tdmrep.json: a robots.txt-style path pattern and its reservation (1, 0)."""

    location: str
    reservation: int
    policy: str | None = None

    def matches(self, path: str) -> bool:
        return _pattern(self.location).match(path) is not None


def _pattern(location: str) -> re.Pattern[str]:
    """A robots.txt path pattern (``*`` any characters, a final ``$`` the end) as an anchored regex."""
    end = location.endswith("$")
    body = ".*".join(re.escape(part) for part in (location[:-1] if end else location).split("*"))
    return re.compile(body + ("$" if end else ""))


def tdmrep_rules(document: Any) -> tuple[TdmRule, ...]:
    """The usable rules of a parsed tdmrep.json (an array of objects); rules with no ``location`` or
    a ``tdm-reservation`` other than 0 or 1 are skipped (a protocol error: unset)."""
    if not isinstance(document, list):
        return ()
    rules = []
    for item in document:
        if not isinstance(item, Mapping) or not isinstance(item.get("location"), str):
            continue
        value = item.get("tdm-reservation")
        if str(value).strip() not in ("0", "1") or isinstance(value, bool):
            continue
        policy = item.get("tdm-policy")
        rules.append(TdmRule(item["location"], int(str(value).strip()),
                             policy if isinstance(policy, str) else None))
    return tuple(rules)


def tdmrep_match(rules: tuple[TdmRule, ...], path: str) -> TdmRule | None:
    """The rule that applies to ``path``: the first in sequence that matches (the report's rule)."""
    return next((rule for rule in rules if rule.matches(path)), None)
