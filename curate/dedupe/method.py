"""The dedupe method plug-in base: how a method finds near pairs; the marking is shared.

A method (registered in :mod:`curate.dedupe.methods`) measures the eligible rows (hashes their files,
or reads their embeddings), puts them on a graph of *nodes* (distinct hash values, or one node per
row) with the near pairs of nodes, and says how far each member is from its keeper. The stage
(:mod:`curate.dedupe.stage`) clusters that graph and marks the frame the same way for every method
(:mod:`curate.dedupe.marking`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from manifests.progress import Progress

from .hashing import HashOutcome

if TYPE_CHECKING:
    from .options import DedupeOptions


@dataclass
class Graph:
    """Rows on nodes and the near pairs of nodes, with each member's distance to its keeper.

    ``node_of`` is ``k x rows`` (the node of each row's hash, then of its mirrored hash); ``pi``/``pj``
    are near node pairs; ``distance(pos, keeper_pos)`` is the measure between rows at those positions,
    named by ``measure`` in the notes ("phash distance", "cosine similarity").
    """

    node_of: np.ndarray
    n_nodes: int
    pi: np.ndarray
    pj: np.ndarray
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray]
    measure: str


@dataclass
class Found:
    """What a method found: the rows it could measure, their graph (None under two rows), counts."""

    rows: pd.Index
    graph: Graph | None
    outcome: HashOutcome
    warnings: list[str] = field(default_factory=list)


class Method(ABC):
    """One way to find near-duplicates (``--method``). Subclasses set ``name`` and implement ``find``."""

    name: ClassVar[str]

    @abstractmethod
    def find(self, frame: pd.DataFrame, root: Path, eligible: pd.Index, options: DedupeOptions,
             progress: Progress | None = None) -> Found:
        """Measure ``eligible`` rows of ``frame`` (files relative to ``root``); rows that cannot be
        measured get a status and an error in ``frame``."""

    def summary(self, options: DedupeOptions) -> dict[str, Any]:
        """What the method adds to the run's summary (its own settings)."""
        return {}
