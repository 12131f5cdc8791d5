"""The dataset card as Hugging Face reads it: ``README.md`` with YAML front matter, then sections.

The front matter (written with PyYAML) holds ``pretty_name``, ``license`` (an id, or ``other`` with
the list in ``license_name``), ``task_categories``, ``size_categories`` and, for an export, ``configs``
whose ``data_files`` name each split's files, so ``datasets.load_dataset(FOLDER)`` finds the splits.
Every number below it is a field of :class:`curate.card.facts.CardFacts`; text that came from outside
(labels, queries, subreddit names) is escaped as Markdown text.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..text import markdown_text, plural
from .facts import CardFacts
from .licenses import NONE, hf_id

HF_SPLITS = {"val": "validation"}  # the split names Hugging Face's loaders know
OWN = ("folder", "frames")  # collectors whose rows without a licence are the publisher's own
MAINTENANCE = ("Left for the publisher to fill in (gleanset cannot know it): who maintains this "
               "dataset, how often it is updated, and how removal requests are handled.")


def size_category(n: int) -> str:
    """Hugging Face's ``size_categories`` value for ``n`` items."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def licence_meta(facts: CardFacts) -> dict[str, str]:
    counts = facts.licences.counts
    named = [lic for lic in counts if lic != NONE]
    if len(named) == 1 and NONE not in counts and hf_id(named[0]):
        return {"license": str(hf_id(named[0]))}
    parts = [f"{hf_id(lic) or lic} ({counts[lic]} images)" for lic in named]
    if NONE in counts:
        parts.append(f"no licence recorded ({counts[NONE]} images, see the card)")
    return {"license": "other", "license_name": "; ".join(parts)}


def front_matter(facts: CardFacts) -> dict[str, Any]:
    meta: dict[str, Any] = {"pretty_name": facts.name, **licence_meta(facts),
                            "task_categories": ["image-classification"],
                            "size_categories": [size_category(facts.images)], "tags": ["gleanset"]}
    if facts.files:
        files = [{"split": HF_SPLITS.get(s, s), "path": facts.files[s]} for s in facts.splits
                 if s in facts.files]
        meta["configs"] = [{"config_name": "default", "data_files": files}]
    return meta


def table(head: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [[markdown_text(str(c)) for c in row] for row in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(row) + " |" for row in cells), ""]


def counts_table(per: dict[str, dict[str, int]], splits: list[str], first: str) -> list[str]:
    rows = [[key, *(c.get(s, 0) for s in splits), sum(c.values())] for key, c in per.items()]
    rows.append(["all", *(sum(c.get(s, 0) for c in per.values()) for s in splits),
                 sum(sum(c.values()) for c in per.values())])
    return table([markdown_text(first), *splits, "all"], rows)


def summary(facts: CardFacts) -> list[str]:
    per_split = " / ".join(f"{sum(c.get(s, 0) for c in facts.per_class.values())} {s}"
                           for s in facts.splits)
    per_split = "not split yet (`curate split`)" if facts.splits == ["(missing)"] else f"split {per_split}"
    kinds = ", ".join(f"{s.collector} ({s.rows})" for s in facts.sources)
    return [f"# {markdown_text(facts.name)}", "",
            f"An image-classification dataset of {plural(facts.images, 'image')} in "
            f"{plural(len(facts.labels), 'class', 'classes')} "
            f"({markdown_text(', '.join(facts.labels))}), {per_split}. Collected from {kinds} "
            "and curated with gleanset; this card and `croissant.json` were written from the manifest "
            "and its lineage log.", ""]


def sources_part(facts: CardFacts) -> list[str]:
    out = ["## Sources", ""]
    for source in facts.sources:
        out += [f"### {source.collector} ({plural(source.rows, 'image')})", ""]
        out += [f"- {markdown_text(fact)}" for fact in source.facts]
        if source.commands:
            out += ["", "Commands, from the lineage log:", "", "```",
                    *(c.replace("```", "'''") for c in source.commands), "```"]
        out.append("")
    return out


def counts_part(facts: CardFacts) -> list[str]:
    out = ["## Counts", "", "### Per class and split", "",
           *counts_table(facts.per_class, facts.splits, "label")]
    for column, group in facts.groups.items():
        out += [f"### Per {markdown_text(column)} ({plural(group.values, 'value')})", "",
                *counts_table(group.per_value, facts.splits, column)]
    return out


def curation_part(facts: CardFacts) -> list[str]:
    cur = facts.curation
    out = ["## Curation", ""]
    how = cur.dedupe
    method = (f" by `curate dedupe` ({how.get('hash', 'phash')} hashes, Hamming distance at most "
              f"{how.get('threshold')}, keeping the {how.get('keep', 'largest')} image"
              f"{', mirrored copies too' if how.get('flip_invariant') else ''})") if how else ""
    if how or cur.duplicates:
        out.append(f"- Near-duplicates: {cur.duplicates} rows marked `duplicate`{method} in "
                   f"{plural(cur.clusters, 'cluster')}; {plural(cur.mixed_clusters, 'cluster')} with mixed "
                   "labels left ok, noted in `dup_conflict`.")
    else:
        out.append("- Near-duplicates: not searched (`curate dedupe` was not run).")
    if cur.label_issues is None:
        out.append("- Label issues: not searched (`curate label-issues` was not run).")
    else:
        out.append(f"- Label issues: cleanlab flagged {cur.label_issues} ok rows; {cur.relabelled} "
                   f"relabelled and {cur.dropped_issues} dropped by `curate label-issues`.")
    out.append(f"- ok rows not in this dataset (no path, label or split, or excluded by licence): "
               f"{cur.ok_not_exported}.")
    if cur.by_status:
        out += ["- Rows not used, by status:", "", *table(["status", "rows"], list(cur.by_status.items()))]
    return [*out, ""]


def splits_part(facts: CardFacts) -> list[str]:
    sp = facts.split
    out = ["## Splits", ""]
    if sp.recorded:
        ratios = "/".join(f"{r:g}" for r in sp.ratios)
        groups = ", ".join(sp.group_by) or "none"
        out.append(f"Made by `curate split` with ratios {ratios}, group columns {markdown_text(groups)}, "
                   f"stratified by {markdown_text(str(sp.stratify or 'nothing'))}, seed {sp.seed}.")
    else:
        out.append("The split column was not made by `curate split` (no entry in the lineage log).")
    label, split = sp.deviation_at
    out.append(f"The largest deviation of a class's share in a split from that split's share of all "
               f"images is {sp.deviation:.1%} ({markdown_text(label)} in {markdown_text(split)}).")
    out.append("")
    for column, group in facts.groups.items():
        if group.straddling:
            out.append(f"- Warning: {plural(group.straddling, 'value')} of {markdown_text(column)} "
                       "are in more than one split: images of one group leak across splits.")
        else:
            out.append(f"- No value of {markdown_text(column)} is in two splits (checked on these "
                       "images): a model is evaluated on groups it did not train on.")
    return [*out, ""]


def licences_part(facts: CardFacts) -> list[str]:
    lic = facts.licences
    rows = [[name if name != NONE else "no licence recorded", n] for name, n in lic.counts.items()]
    out = ["## Licences", "", *table(["licence", "images"], rows)]
    own = sum(n for k, n in lic.unlicensed.items() if k in OWN)
    if own:
        out.append(f"- {plural(own, 'image')} without a licence come from the publisher's own folders "
                   "and videos: their rights are the publisher's, who sets the licence of this dataset.")
    for kind, n in lic.unlicensed.items():
        if kind not in OWN:
            out.append(f"- {plural(n, 'image')} from {markdown_text(kind)} carry no licence: their "
                       "rights stay with the people who posted them.")
    out.append(f"- Non-commercial licences: {lic.noncommercial:.1%} of the images; no-derivatives "
               f"licences: {lic.noderivatives:.1%}.")
    if lic.rule:
        excluded = ", ".join(f"{k}: {v}" for k, v in lic.excluded.items()) or "none"
        out.append(f"- The export kept licences by `{lic.rule}`; rows excluded: "
                   f"{sum(lic.excluded.values())} ({markdown_text(excluded)}).")
    if lic.attribution:
        out.append("- Creators, titles and licence links of the searched images are in "
                   "[ATTRIBUTION.md](ATTRIBUTION.md); keep it with the images.")
    return [*out, ""]


def limitations(facts: CardFacts) -> list[str]:
    """The known limitations, one sentence each (the card's and Croissant's ``rai:dataLimitations``)."""
    out = [f"The largest class has {facts.class_ratio:.1f} times the images of the smallest."]
    for label, column, value, share in facts.group_skew:
        out.append(f"{share:.0%} of the {label} images come from one {column} ({value}): a model may "
                   f"learn the {column} instead of the class.")
    for column, value, share in facts.one_source:
        out.append(f"The largest share of images from one {column} is {share:.0%} ({value}).")
    if facts.timeframe:
        out.append(f"Harvested between {facts.timeframe[0]} and {facts.timeframe[1]}: later content is "
                   "not represented.")
    return out


def uses(facts: CardFacts) -> list[str]:
    return [f"Training, validating and testing image classifiers for the classes "
            f"{', '.join(facts.labels)}, with the splits as given (they keep groups apart).",
            "Not for identifying or profiling people, and not a sample of the world beyond its sources."]


def render(facts: CardFacts) -> str:
    """The whole ``README.md``."""
    meta = yaml.safe_dump(front_matter(facts), sort_keys=False, allow_unicode=True)
    parts = [*summary(facts), *sources_part(facts), *counts_part(facts), *curation_part(facts),
             *splits_part(facts), *licences_part(facts),
             "## Known limitations", "", *(f"- {markdown_text(s)}" for s in limitations(facts)), "",
             "## Intended use", "", *(f"- {markdown_text(s)}" for s in uses(facts)), "",
             "## Personal and sensitive information", "",
             *(f"- {markdown_text(s)}" for s in facts.people or ["none known"]), "",
             "## Maintenance", "", MAINTENANCE, ""]
    return f"---\n{meta}---\n\n" + "\n".join(parts)
