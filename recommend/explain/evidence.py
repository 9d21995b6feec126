"""Which interactions an explanation may cite: :class:`EvidenceRule`.

A low rating still shapes the model (it is a training interaction like any other), but a
sentence never offers it as a reason: "user 153 rated Liar Liar 2 stars" is no argument *for*
anything. The rule marks each interaction edge of a :class:`~recommend.explain.graph.PathGraph`
as positive evidence or not, and the path search runs only over positive interaction edges
(attribute and similarity edges are always usable).

Defaults follow kgrec's own schema (:mod:`kgrec.schema`):

* ``RATED`` is positive at a rating of at least ``rating_threshold`` (default 4.0, of 5) or the
  rating user's own mean rating if that is higher (a generous rater's 4 is their average); a
  ``RATED`` edge without a rating is not evidence.
* ``LIKED``, ``FINISHED``, ``SHARED``, ``COMMENTED``, ``FOLLOWED`` are positive: each is an
  explicit act of approval or engagement.
* ``INTERACTED`` is positive: it is KGAT's implicit feedback, the only signal such data has.
* ``CLICKED`` is positive: a click is the implicit positive the models train on, and the
  sentence it makes ("you watched X") is true. Drop it from ``positive_kinds`` for data where
  clicks are mostly impressions.

An edge that joins several kinds (CLICKED and LIKED) is positive when any of them is. The rule
is plain data so that a dataset spec can build one (``EvidenceRule(positive_kinds=...,
rating_threshold=...)``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from kgrec.schema import INTERACTED, RATED
from recommend.explain.graph import PathGraph

POSITIVE_KINDS: frozenset[str] = frozenset(
    {"LIKED", "FINISHED", "SHARED", "COMMENTED", "FOLLOWED", "CLICKED", INTERACTED}
)
"""Interaction kinds that are positive evidence by themselves (see the module docstring)."""
RATING_THRESHOLD = 4.0
"""Lowest rating cited as a reason, unless the user's own mean is higher."""

_RATED_KIND = re.compile(r"^(\w+?)_(\d+(?:\.\d+)?)$")  # RATED_5: one relation per rating value


@dataclass(frozen=True)
class EvidenceRule:
    """Which interactions count as positive evidence.

    Args:
        positive_kinds: interaction kinds positive by themselves (default:
            :data:`POSITIVE_KINDS`).
        rated_kinds: kinds whose ``rating`` decides (default: ``{"RATED"}``).
        rating_threshold: lowest positive rating (default: 4.0).
        user_mean: raise the threshold to the rating user's own mean when that is higher
            (default: True).
    """

    positive_kinds: frozenset[str] = field(default_factory=lambda: POSITIVE_KINDS)
    rated_kinds: frozenset[str] = frozenset({RATED})
    rating_threshold: float = RATING_THRESHOLD
    user_mean: bool = True

    def __post_init__(self) -> None:
        if not math.isfinite(self.rating_threshold):
            raise ValueError(f"rating_threshold must be a number, got {self.rating_threshold}")
        overlap = set(self.positive_kinds) & set(self.rated_kinds)
        if overlap:
            raise ValueError(f"kinds cannot be both always positive and rated: {sorted(overlap)}")

    def thresholds(self, g: PathGraph) -> np.ndarray:
        """The lowest positive rating of every user node, ``[n_users]``."""
        inter = self.interaction_edges(g)
        rated = inter[np.isfinite(g.rating[inter])]
        base = np.full(g.n_users, self.rating_threshold)
        if not self.user_mean or not len(rated):
            return base
        users = g.head[rated]
        total = np.bincount(users, weights=g.rating[rated], minlength=g.n_users)
        count = np.bincount(users, minlength=g.n_users)
        mean = np.where(count > 0, total / np.maximum(count, 1), -np.inf)
        return np.maximum(base, mean)

    @staticmethod
    def interaction_edges(g: PathGraph) -> np.ndarray:
        """Edge ids of the user -> video interaction edges."""
        return np.asarray(sorted(g.kinds), dtype=np.int64)

    def positive(self, g: PathGraph) -> np.ndarray:
        """Per edge of ``g``: True for positive evidence and for every non-interaction edge
        (attributes, similarity), False for an interaction that is no reason, ``[M]``."""
        ok = np.ones(g.n_edges, bool)
        thr = self.thresholds(g)
        for e, kinds in g.kinds.items():
            ok[e] = self.is_positive(kinds, float(g.rating[e]), float(thr[g.head[e]]))
        return ok

    def is_positive(self, kinds: tuple[str, ...], rating: float, threshold: float) -> bool:
        """One interaction: its kinds, its rating (NaN: none) and its user's threshold."""
        base = {_base(k) for k in kinds}
        if base & self.positive_kinds:
            return True
        return bool(base & self.rated_kinds) and math.isfinite(rating) and rating >= threshold


def _base(kind: str) -> str:
    m = _RATED_KIND.match(kind)
    return m.group(1) if m else kind
