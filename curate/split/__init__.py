"""``curate split``: a leak-free, stratified train/val/test split (:mod:`curate.split.stage`) and the
partition solver behind it (:mod:`curate.split.partition`)."""

from .stage import SplitOptions, SplitReport, assign_splits, group_columns_of, parse_ratios, read_pins

__all__ = ["SplitOptions", "SplitReport", "assign_splits", "group_columns_of", "parse_ratios", "read_pins"]
