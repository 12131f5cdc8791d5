"""``curate export``: the dataset in a layout other trainers load. The orchestrator
(:mod:`curate.export.stage`) sits above the formats (:mod:`curate.export.formats`, a registry), which
sit above the file helpers (:mod:`curate.export.files`)."""

from .files import safe_names
from .result import ExportReport
from .stage import ExportOptions, export

__all__ = ["ExportOptions", "ExportReport", "export", "safe_names"]
