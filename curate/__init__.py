"""curate: dedupe, balance, split, report and export a manifest.

Every ``curate`` command is a stage (:mod:`curate.contract`; all of them in :mod:`curate.stages`):
``stats``, ``balance`` and ``augment`` (modules here), ``split`` (:mod:`curate.split`), ``dedupe``
(:mod:`curate.dedupe`), ``report`` (:mod:`curate.report`), ``export`` (:mod:`curate.export`),
``label-issues`` and ``check`` (:mod:`curate.quality`). The command line is :mod:`curate.cli`.
curate imports only :mod:`manifests` among gleanset's packages (pyproject.toml's import-linter
contracts); it reaches the trainer through its command line (:mod:`curate.trainer`).
"""
