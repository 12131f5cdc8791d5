"""``croissant.json``: the exported dataset in MLCommons Croissant 1.1, with the Responsible-AI fields.

Written as plain JSON (no Croissant library at run time); the tests load it with mlcroissant, the
reference implementation. The layout:

- ``distribution``: a FileObject (with sha256) for each ``records/<split>.csv`` and each metadata
  file the export wrote, a FileSet per split for its images (webdataset: a FileObject per tar shard,
  with sha256);
- ``recordSet``: one per split, with the fields ``image`` (the file's content), ``file``, ``label``,
  ``split``, each group column, ``license``, ``creator`` and ``source``. The values come from
  ``records/<split>.csv`` (one row per exported image), joined to the split's images on their path;
- the ``rai:`` fields, filled from the card's facts; ``rai:dataReleaseMaintenancePlan`` is left for
  the publisher and says so. ``rai:dataCollectionTimeframe`` follows the RAI vocabulary's spelling.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from manifests import schema

from . import markdown
from .facts import CardFacts
from .licenses import NONE, url_of

RECORDS_DIR = "records"  # records/<split>.csv: one row per exported image of the split
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
        ".gif": "image/gif", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
        ".csv": "text/csv", ".jsonl": "application/jsonlines", ".json": "application/json",
        ".md": "text/markdown", ".tar": "application/x-tar", ".txt": "text/plain"}
# Croissant's standard @context (what mlcroissant writes for 1.1).
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs", "column": "cr:column", "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject", "fileSet": "cr:fileSet", "format": "cr:format",
    "includes": "cr:includes", "isArray": "cr:isArray", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField",
    "path": "cr:path", "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source",
    "subField": "cr:subField", "transform": "cr:transform"}


def record_columns(rows: pd.DataFrame, groups: list[str]) -> list[str]:
    """The columns of a records file after ``file``: label, split, the group columns, licence,
    creator, source and sha256."""
    wanted = [schema.LABEL, schema.SPLIT, *groups, schema.LICENSE, schema.CREATOR, schema.SOURCE,
              schema.SHA256]
    return list(dict.fromkeys(c for c in wanted if c != "file"))


def records(rows: pd.DataFrame, rel_of: dict[Any, str], groups: list[str]) -> pd.DataFrame:
    """One row per exported image: its file (relative to the export folder) and its metadata, as text."""
    table = pd.DataFrame({"file": [rel_of[i] for i in rows.index]}, index=rows.index)
    for column in record_columns(rows, groups):
        values = rows[column] if column in rows else pd.Series(pd.NA, index=rows.index)
        table[column] = values.astype("string").fillna("")
    return table.sort_values("file").reset_index(drop=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_object(outdir: Path, rel: str) -> dict[str, Any]:
    return {"@type": "cr:FileObject", "@id": rel, "name": rel, "contentUrl": rel,
            "encodingFormat": MIME.get(Path(rel).suffix.lower(), "application/octet-stream"),
            "sha256": sha256(outdir / rel)}


def _field(split: str, name: str, source: dict[str, Any], data_type: str = "sc:Text") -> dict[str, Any]:
    return {"@type": "cr:Field", "@id": f"{split}/{name}", "name": name, "dataType": data_type,
            "source": source}


def records_file(split: str) -> str:
    return f"{RECORDS_DIR}/{split}.csv"


def record_set(split: str, images: str | None, columns: list[str]) -> dict[str, Any]:
    """A split's RecordSet: values from its records file, the image joined on its path when the
    images are plain files (``images``: the split's FileSet)."""
    column = {c: {"fileObject": {"@id": records_file(split)}, "extract": {"column": c}}
              for c in ["file", *columns]}
    fields = [_field(split, c, column[c]) for c in columns]
    if images:
        path = {"fileSet": {"@id": images}, "extract": {"fileProperty": "fullpath"},
                "transform": {"regex": "^(.*)$"}}
        fields = [_field(split, "image", {"fileSet": {"@id": images}, "extract": {"fileProperty": "content"}},
                         "sc:ImageObject"),
                  {**_field(split, "file", path), "references": column["file"]}, *fields]
    else:
        fields = [_field(split, "file", column["file"]), *fields]
    return {"@type": "cr:RecordSet", "@id": split, "name": split,
            "description": f"The {split} split, one record per image.", "field": fields}


def rai(facts: CardFacts, resize: int | None = None) -> dict[str, Any]:
    """The Responsible-AI fields (``rai:``), from the card's facts."""
    cur = facts.curation
    collection = " ".join(f"{s.collector} ({s.rows} images): {'; '.join(s.facts)}." for s in facts.sources)
    steps = ["only rows whose status is ok are included (failed downloads, corrupt, truncated and "
             "non-image files are left out, with their reason in the manifest)"]
    if any(s.collector == "frames" for s in facts.sources):
        steps.append("video frames were cropped to remove black bars and constant edge lines (crop per "
                     "video in the Sources)")
    steps.append(f"near-duplicates: {cur.duplicates} rows marked duplicate and left out")
    if resize:
        steps.append(f"images resized so that the shorter side is at most {resize} pixels")
    if facts.licences.rule:
        steps.append(f"licence filter {facts.licences.rule}: {sum(facts.licences.excluded.values())} rows "
                     "left out")
    annotation = [s.labels_from for s in facts.sources]
    annotation.append("no human annotation beyond the source's own; " + (
        "label issues were not searched" if cur.label_issues is None else
        f"curate label-issues (cleanlab) flagged {cur.label_issues} rows, relabelled {cur.relabelled} "
        f"and dropped {cur.dropped_issues}"))
    biases = [f"{share:.0%} of the {label} images come from one {column} ({value})"
              for label, column, value, share in facts.group_skew]
    biases += [f"the largest share of images from one {column} is {share:.0%} ({value})"
               for column, value, share in facts.one_source]
    out: dict[str, Any] = {
        "rai:dataCollection": collection,
        "rai:dataCollectionType": list(dict.fromkeys(t for s in facts.sources for t in s.collection_types)),
        "rai:dataAnnotationProtocol": annotation,
        "rai:dataPreprocessingProtocol": steps,
        "rai:personalSensitiveInformation": facts.people or ["none known"],
        "rai:dataBiases": biases or ["none measured"],
        "rai:dataLimitations": markdown.limitations(facts),
        "rai:dataUseCases": markdown.uses(facts),
        "rai:dataReleaseMaintenancePlan": markdown.MAINTENANCE,
    }
    if facts.timeframe:
        out["rai:dataCollectionTimeframe"] = list(facts.timeframe)
    return out


def document(facts: CardFacts, outdir: Path, layout: dict[str, list[str]], meta_files: list[str],
             columns: list[str], resize: int | None = None) -> dict[str, Any]:
    """The croissant.json object. ``layout``: split -> the glob patterns of its image files (relative
    to ``outdir``), or the ``.tar`` shards that hold them."""
    distribution = [_file_object(outdir, rel) for rel in meta_files]
    sets = []
    for split, parts in layout.items():
        if all(p.endswith(".tar") for p in parts):
            distribution += [_file_object(outdir, rel) for rel in parts]
            sets.append(record_set(split, None, columns))
            continue
        formats = sorted({MIME.get(Path(p).suffix.lower(), "image/png") for p in parts})
        distribution.append({"@type": "cr:FileSet", "@id": f"images/{split}", "name": f"images/{split}",
                             "description": f"The images of the {split} split.",
                             "encodingFormat": formats, "includes": parts})
        sets.append(record_set(split, f"images/{split}", columns))
    urls = [url_of(lic) or lic for lic in facts.licences.counts if lic != NONE]
    return {"@context": CONTEXT, "@type": "sc:Dataset", "name": facts.name,
            "description": " ".join(markdown.summary(facts)[2:]).strip(),
            "conformsTo": CONFORMS_TO, "license": urls or ["left for the publisher to set"],
            "datePublished": datetime.now(UTC).date().isoformat(), "version": "1.0.0",
            "keywords": ["image classification", "gleanset"],
            **rai(facts, resize), "distribution": distribution, "recordSet": sets}


def write(doc: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
