"""``python -m train ...`` is the ``train`` console script (``curate label-issues`` runs it this way)."""

from .cli import main

main()
