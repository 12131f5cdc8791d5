"""``curate card``: a dataset card (Hugging Face ``README.md``) and Croissant 1.1 metadata with the
Responsible-AI fields, written from the manifest and its lineage log.

Facts first (:mod:`curate.card.facts`, plain data gathered from the rows, the lineage log and the
sources, :mod:`curate.card.sources`), then two renderers: :mod:`curate.card.markdown` (README.md) and
:mod:`curate.card.croissant` (croissant.json). :mod:`curate.card.licenses` holds the licence codes
and the export's licence filter. ``curate export`` writes the card of what it exported
(:class:`ExportCard`); ``curate card`` writes the card of a manifest alone (:func:`write_card`).
"""

from .facts import CardFacts, gather
from .licenses import LicenseFilter
from .stage import CARD_FILE, CROISSANT_FILE, CardOptions, CardResult, ExportCard, card_files, write_card

__all__ = ["CARD_FILE", "CROISSANT_FILE", "CardFacts", "CardOptions", "CardResult", "ExportCard",
           "LicenseFilter", "card_files", "gather", "write_card"]
