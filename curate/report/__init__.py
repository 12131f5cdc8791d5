"""``curate report``: one self-contained HTML page of a dataset (:mod:`curate.report.stage`), its HTML
pieces (:mod:`~curate.report.markup`), picture sections (:mod:`~curate.report.pictures`) and cached
thumbnails (:mod:`~curate.report.thumbs`)."""

from .options import ReportOptions, ReportResult
from .stage import build_report, split_deviation, write_report

__all__ = ["ReportOptions", "ReportResult", "build_report", "split_deviation", "write_report"]
