"""curate: dedupe, balance, split, report and export a manifest."""
