"""What a ``harvest search`` run reports: the counts, what each query listed, and where each result went.

Every result an engine listed is accounted for, per query: it became a row (downloaded, or a
``too_small`` row from the engine's claimed size) or a counted skip with its reason (``duplicate_url``,
``url_recorded``, ``no_usable_url``). ``SearchSummary.accounting`` prints the equation for each query:
results seen = rows + skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from manifests import ExitStatus, schema

from ..summary import RunSummary


@dataclass
class SearchSummary(RunSummary):
    """A search run: the counts, plus what each query listed, depth caps met and queries that failed."""

    engine: str = ""
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failed_queries: list[str] = field(default_factory=list)
    results_listed: int = 0
    retried: int = 0  # transient failures of earlier runs downloaded again
    group_columns: tuple[str, ...] = (schema.CREATOR,)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "engine": self.engine, "queries": self.queries,
                "notes": list(self.notes), "failed_queries": list(self.failed_queries),
                "results_listed": self.results_listed, "retried": self.retried,
                "group_columns": list(self.group_columns)}

    def lines(self) -> list[str]:
        return [f"note: {note}" for note in self.notes] + [self.accounting(q) for q in self.queries]

    def account(self, query: str | None, skipped: str | None = None) -> None:
        """Count one result of ``query``: a row made from it, or a skip and why."""
        report = self.queries.get(query or "")
        if report is None:  # a transient failure of an earlier run, downloaded again
            return
        if skipped:
            reasons = report.setdefault("skipped", {})
            reasons[skipped] = reasons.get(skipped, 0) + 1
        else:
            report["rows"] = report.get("rows", 0) + 1

    def accounting(self, query: str) -> str:
        """One line: the results ``query`` listed = rows + skips (with their reasons)."""
        report = self.queries[query]
        if report.get("finished_earlier"):
            return f"{query!r}: finished by an earlier run"
        skipped = report.get("skipped", {})
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        return (f"{query!r}: {report['listed']} results seen = {report.get('rows', 0)} rows + "
                f"{sum(skipped.values())} skipped" + (f" ({why})" if why else ""))

    def errors(self) -> list[str]:
        return list(self.failed_queries)

    def exit_status(self, strict: bool = False) -> ExitStatus:
        """``NETWORK`` when a query's API failed; otherwise as for every collector."""
        if self.failed_queries:
            return ExitStatus.NETWORK
        return super().exit_status(strict)
