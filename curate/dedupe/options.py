"""The options of ``curate dedupe``, checked where they are made (library callers get the CLI's checks)."""

from __future__ import annotations

from dataclasses import dataclass

from manifests import UsageError
from manifests.executor import ExecutorSpec

from . import clusters, hashing, index, marking
from .methods import METHODS


@dataclass(frozen=True)
class DedupeOptions:
    """How to find and resolve near-duplicates (the ``curate dedupe`` options).

    Args:
        hash: the perceptual hash (:data:`curate.dedupe.hashing.METHODS`).
        hash_size: bits per side (colorhash: per bin); None: the method's default.
        threshold: largest Hamming distance to the keeper; None: 10 per 64 bits of hash.
        keep: the keep policy (:data:`curate.dedupe.marking.KEEP_POLICIES`).
        flip_invariant: also match mirrored copies.
        workers: processes for hashing, threads for the search.
        engine: the search index (:data:`curate.dedupe.index.ENGINES`).
        clusters: ``keeper`` (every member within the threshold of its keeper) or ``components``.
        conflicts: members labelled unlike their keeper stay ok (``keep``) or are marked (``mark``).
        method: a registered method (:data:`curate.dedupe.methods.METHODS`): hash or embedding.
        similarity: embedding: smallest cosine similarity of a duplicate to its keeper.
        arch, weights, img_size, device: embedding: the trainer's backbone and where it runs.
        executor: hashing and the pair search on Dask (None: local processes).
        leaks: check only: the run fails (exit 1) when near-duplicates cross splits.
        force: embedding: run on untrained features (``weights="none"``) anyway, with a warning;
            refused otherwise (random features make unrelated images look alike).
    """

    hash: str = "phash"
    hash_size: int | None = None
    threshold: int | None = None
    keep: str = "largest"
    flip_invariant: bool = False
    workers: int = 1
    engine: str = "auto"
    clusters: str = "keeper"
    conflicts: str = "keep"
    method: str = "hash"
    similarity: float = 0.95
    arch: str = "resnet18"
    weights: str = "imagenet"
    img_size: int | None = None
    device: str = "auto"
    executor: ExecutorSpec | None = None
    leaks: bool = False
    force: bool = False

    def __post_init__(self) -> None:
        how = hashing.method(self.hash)
        index.check_engine(self.engine)
        marking.check_policy(self.keep)
        if self.threshold is not None and self.threshold < 0:
            raise UsageError("--threshold must be >= 0")
        if not how.valid_size(self.size):
            raise UsageError(f"--hash-size for {how.name} must be {how.size_rule}, not {self.size}")
        if self.clusters not in clusters.METHODS:
            raise UsageError(f"unknown --clustering {self.clusters!r} (choose from "
                             f"{', '.join(clusters.METHODS)})")
        if self.method not in METHODS:
            raise UsageError(f"unknown --method {self.method!r} (choose from {', '.join(METHODS)})")
        if self.conflicts not in marking.CONFLICTS:
            raise UsageError(f"unknown --conflicts {self.conflicts!r} (choose from "
                             f"{', '.join(marking.CONFLICTS)})")
        if self.method == "embedding" and not 0 < self.similarity <= 1:
            raise UsageError(f"--similarity must be in (0, 1], not {self.similarity}")
        if self.method == "embedding" and self.untrained and not self.force:
            raise UsageError("--weights none gives untrained (random) features: their similarities say "
                             "nothing about the images, and unrelated images would be marked duplicates; "
                             "use --weights imagenet or a trained model.pt, or --force to run anyway")
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, not {self.workers}")

    @property
    def untrained(self) -> bool:
        """The embedding backbone has no trained weights (``--weights none``)."""
        return self.weights.strip().lower() == "none"

    UNTRAINED_WARNING = ("--weights none --force: features of an untrained backbone; its near-duplicates "
                         "are not to be trusted (check them with --dry-run)")

    @property
    def size(self) -> int:
        return self.hash_size or hashing.method(self.hash).default_size

    @property
    def bits(self) -> int:
        return hashing.method(self.hash).bits(self.size)

    @property
    def distance(self) -> int:
        """The threshold in use: the given one or the default for the hash size."""
        return clusters.default_threshold(self.bits) if self.threshold is None else self.threshold
