"""The data-quality stages: ``curate label-issues`` (:mod:`curate.quality.label_issues`) and
``curate check`` (:mod:`curate.quality.check`)."""
