"""Sum the per-test CPU seconds ``GLEANSET_TEST_CPU=FILE make test`` wrote: by test and by file.

    python -m tests.cpu_costs FILE [--top N]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    opts = parser.parse_args()
    rows = [json.loads(line) for line in opts.file.read_text(encoding="utf-8").splitlines() if line]
    by_file: dict[str, float] = defaultdict(float)
    for row in rows:
        by_file[row["test"].split("::")[0]] += row["own"] + row["children"]
    total = sum(by_file.values())
    print(f"{len(rows)} tests, {total:.0f} CPU s (own + waited-for children)\n\nslowest files:")
    for name, cpu in sorted(by_file.items(), key=lambda kv: -kv[1])[:opts.top]:
        print(f"{cpu:8.1f}  {name}")
    print("\nslowest tests:")
    for row in sorted(rows, key=lambda r: -(r["own"] + r["children"]))[:opts.top]:
        print(f"{row['own'] + row['children']:8.1f}  ({row['children']:.1f} in children)  {row['test']}")


if __name__ == "__main__":
    main()
