"""``curate export``: the dataset in a layout other trainers load. The file helpers
(:mod:`curate.export.files`) sit below the formats (:mod:`curate.export.formats`, a registry)."""

from .files import ExportOptions, ExportReport, export, safe_names

__all__ = ["ExportOptions", "ExportReport", "export", "safe_names"]
