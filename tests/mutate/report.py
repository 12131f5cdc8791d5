"""Writes the report of `make mutate`: the figures per mutated module and every surviving mutant with
its diff, marking those docs/testing.md lists as equivalent.

Run from the project root after ``mutmut run`` (it reads ``mutants/*.meta``)::

    python -m tests.mutate.report [MODULE.py ...] [--out mutants-report.txt]

With modules, only those are reported. Survivors are the mutants no test killed: "survived" (the
module's tests passed) and "no tests" (none of the module's tests reaches the mutated function); killed
and timeout are caught. ``survivors %`` is survivors over the mutants checked.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

EQUIVALENT = re.compile(r"`([\w.ǁ]+__mutmut_\d+)`")
UNCAUGHT = ("survived", "no tests")
COLUMNS = ("killed", "timeout", "survived", "no tests", "other", "not checked")


def only_mutate(root: Path) -> list[str]:
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["mutmut"]["only_mutate"]


def equivalents(doc: Path) -> set[str]:
    """The mutant names docs/testing.md lists (in backticks) as equivalent."""
    return set(EQUIVALENT.findall(doc.read_text(encoding="utf-8"))) if doc.is_file() else set()


@dataclass
class Module:
    path: str
    counts: Counter = field(default_factory=Counter)
    uncaught: list[tuple[str, str]] = field(default_factory=list)  # (mutant, status)
    unrun: list[str] = field(default_factory=list)  # mutants mutmut has no result for yet

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def checked(self) -> int:
        return self.total - self.counts["not checked"]

    @property
    def survivors(self) -> int:
        return sum(self.counts[s] for s in UNCAUGHT)

    def percent(self) -> str:
        return f"{100 * self.survivors / self.checked:.1f}%" if self.checked else "-"


def load(path: str) -> Module:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code

    data = SourceFileMutationData(path=Path(path))
    data.load()
    module = Module(path)
    for name, code in sorted(data.exit_code_by_key.items(), key=lambda kv: _natural(kv[0])):
        status = status_by_exit_code[code]
        module.counts[status if status in COLUMNS else "other"] += 1
        if status == "not checked":
            module.unrun.append(name)
        if status in UNCAUGHT:
            module.uncaught.append((name, status))
    return module


def _natural(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


def diff(name: str, path: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    try:
        return get_diff_for_mutant(name, path=path)
    except Exception as exc:  # a report line, never a crash: the figures matter more than one diff
        return f"(no diff: {exc})"


def render(modules: list[Module], known: set[str], with_diffs: bool = True) -> str:
    head = f"{'module':<26}{'mutants':>8}{'killed':>8}{'timeout':>8}{'survived':>9}{'no tests':>9}" \
           f"{'other':>6}{'unrun':>6}{'survivors':>10}{'equiv.':>7}"
    lines = [head, "-" * len(head)]
    total = Module("total")
    for m in modules:
        total.counts.update(m.counts)
        total.uncaught.extend(m.uncaught)
    for m in [*modules, total]:
        c = m.counts
        equiv = sum(1 for name, _ in m.uncaught if name in known)
        lines.append(f"{m.path:<26}{m.total:>8}{c['killed']:>8}{c['timeout']:>8}{c['survived']:>9}"
                     f"{c['no tests']:>9}{c['other']:>6}{c['not checked']:>6}{m.percent():>10}{equiv:>7}")
    lines += ["", "survivors = survived + no tests; % of the mutants checked (unrun = not checked yet);",
              "equiv. = survivors docs/testing.md lists as equivalent.", ""]
    for m in modules:
        for name, status in m.uncaught:
            tag = "equivalent (docs/testing.md)" if name in known else "UNEXPLAINED"
            lines.append(f"== {name}: {status}, {tag}")
            if with_diffs:
                lines += [diff(name, m.path), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths (default: all of only_mutate)")
    parser.add_argument("--out", type=Path, help="write here as well as to stdout")
    parser.add_argument("--unrun", action="store_true", help="print only the names of the mutants not run "
                        "yet (for make mutate MUTANTS=...: a run cut short goes on where it stopped)")
    args = parser.parse_args(argv)
    root = Path.cwd()
    paths = args.modules or only_mutate(root)
    unknown = sorted(set(paths) - set(only_mutate(root)))
    if unknown:
        parser.error(f"not in [tool.mutmut] only_mutate: {unknown}")
    if args.unrun:
        print(" ".join(name for p in paths for name in load(p).unrun))
        return 0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    text = f"make mutate report (commit {commit.strip() or '?'})\n\n" + render(
        [load(p) for p in paths], equivalents(root / "docs" / "testing.md"))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text.split("\n== ")[0] if args.out else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
