"""The dedupe methods (``curate dedupe --method``), in a registry: name -> :class:`~.method.Method`.

``tests/curate/dedupe/test_dedupe.py`` checks every entry against the plug-in contract.
"""

from __future__ import annotations

from .embedding import Embedding
from .method import Method
from .perceptual import PerceptualHash

METHODS: dict[str, type[Method]] = {cls.name: cls for cls in (PerceptualHash, Embedding)}
