"""How candidate paths are ranked: the model's own path weight, combined with how specific the
linking entities are, and a preference for the user's own history.

A path ``u = x0, x1, ..., xL = i`` ranks by

    rank(p) = prod_k w(x_k -> x_{k+1})            (the model's path weight, weights.py)
              * prod_{attribute x_k, 0<k<L} deg(x_k) ** -specificity
              * other_users ** (number of other users on the path)
              * prod_{video x_k, 0<k<L} deg(x_k) ** item_popularity

The second factor is an inverse-popularity term: the genre Film-Noir, shared by 24 videos,
says more than a gender shared by 670 users. The third prefers paths through the user's own
history ("you rated Fargo 5 stars; Fargo and Pulp Fiction share the genre Crime") over paths
through other users ("you and user 153 share the gender M; user 153 rated ..."). Both factors
are folded into the weight of the half-edge that enters ``x_k``, so the beam search
(:mod:`~recommend.explain.search`) ranks by ``rank(p)`` exactly; the reason still reports the
model's path weight as its ``score``.

Presets (``--path-ranking``): ``model`` (the model's weight alone), ``balanced`` (the
default), ``specific``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommend.explain.graph import PathGraph


@dataclass(frozen=True)
class PathRanking:
    """The combination of model weight and specificity that ranks paths (module docstring).

    Args:
        name: the preset's name, or ``"custom"``.
        specificity: exponent of the inverse-popularity term of attribute entities
            (0: ignore popularity).
        other_users: factor per other user on the path, in (0, 1] (1: no preference for the
            user's own history).
        item_popularity: exponent of a popularity term ``deg ** item_popularity`` of the videos
            a path goes through (0: none): a well-known film the user rated is a reason people
            recognise.
        rerank: how many of the search's best paths are re-ordered by what masking each would
            cost the item's score (:mod:`~recommend.explain.attribution`), the costliest shown
            first; 0: the search's order. Models without a local view of masking keep the
            search's order.
        demographic: factor on the re-ranking key (the estimated drop) of a path that goes
            only through user-side attributes and other users ("you and user 153 share the
            gender M; ..."), in (0, 1]: a model may lean on demographics, and a person still
            takes a reason from their own history first.
        diversity: across one user's list, an item's first reason is the best path of a
            type (node labels and relationships) not yet shown first for an earlier item, if
            its key (the estimated masking drop under ``rerank``, else the search's rank) is at
            least ``diversity`` times the item's best key; among the ``max(n, rerank)`` best
            paths; in [0, 1], 0: off (explanation-type diversity, Balloccu et al., SIGIR 2022).
        recognisable: within that band, weight of the shared entity's popularity (its SEP,
            :func:`~recommend.explain.quality.sep_table`: the node before the item) beside the
            key over the best key, for the item's first reason; >= 0, 0: off (shared-entity
            popularity, Balloccu et al.: a well-known shared entity is a reason people
            recognise). With ``diversity`` 0 the band is the whole candidate list.
    """

    name: str = "balanced"
    specificity: float = 1.0
    other_users: float = 0.01
    item_popularity: float = 0.0
    rerank: int = 0
    demographic: float = 1.0
    diversity: float = 0.0
    recognisable: float = 0.0

    def __post_init__(self) -> None:
        if not self.specificity >= 0:
            raise ValueError(f"specificity must be >= 0, got {self.specificity}")
        if not self.item_popularity >= 0:
            raise ValueError(f"item_popularity must be >= 0, got {self.item_popularity}")
        if not 0 < self.other_users <= 1:
            raise ValueError(f"other_users must be in (0, 1], got {self.other_users}")
        if self.rerank < 0:
            raise ValueError(f"rerank must be >= 0, got {self.rerank}")
        if not 0 < self.demographic <= 1:
            raise ValueError(f"demographic must be in (0, 1], got {self.demographic}")
        if not 0 <= self.diversity <= 1:
            raise ValueError(f"diversity must be in [0, 1], got {self.diversity}")
        if not self.recognisable >= 0:
            raise ValueError(f"recognisable must be >= 0, got {self.recognisable}")

    @classmethod
    def named(cls, name: str | PathRanking) -> PathRanking:
        """A preset by name (:data:`PRESETS`); a PathRanking as is."""
        if isinstance(name, PathRanking):
            return name
        if name not in PRESETS:
            raise ValueError(f"unknown path ranking {name!r}; choose one of {', '.join(PRESETS)}")
        return PRESETS[name]

    def entry_factors(self, g: PathGraph) -> np.ndarray:
        """The factor of entering each node, ``[N]``: ``deg ** -specificity`` for attribute
        entities, ``other_users`` for users, 1 for videos."""
        f = np.ones(g.n_nodes)
        deg = np.maximum(g.degree(), 1).astype(np.float64)
        anchors = g.n_users + g.n_items
        if self.specificity:
            f[anchors:] = deg[anchors:] ** -self.specificity
        if self.item_popularity:
            f[g.n_users : anchors] = deg[g.n_users : anchors] ** self.item_popularity
        f[: g.n_users] = self.other_users
        return f

    def search_weights(self, g: PathGraph, weight: np.ndarray) -> np.ndarray:
        """Half-edge weights whose path products are ``rank(p)`` up to a factor that is the
        same for every path to one item (entering the item itself)."""
        _, to = g.half_ends(np.arange(2 * g.n_edges))
        return np.asarray(weight * self.entry_factors(g)[to])


PRESETS: dict[str, PathRanking] = {
    "model": PathRanking("model", specificity=0.0, other_users=1.0, item_popularity=0.0),
    "balanced": PathRanking(
        "balanced",
        specificity=1.0,
        other_users=0.01,
        rerank=24,
        demographic=0.001,
        diversity=0.5,
        recognisable=1.0,
    ),
    "specific": PathRanking("specific", specificity=2.0, other_users=0.001),
    "faithful": PathRanking(
        "faithful", specificity=1.0, other_users=0.01, rerank=16, demographic=1.0
    ),
}
"""The rankings ``--path-ranking`` names; ``balanced`` is the default. Its values were chosen on
MovieLens-100K with benchmarks/explain.py (mmkgat, 40 users): against ``model`` they cut the
top reasons that go only through demographic entities from 94% to 9% and raise SEP (0.07 to
0.14) and ETD (0.31 to 0.39); ``item_popularity`` 0.5 cut them to 0% but lowered the deletion
faithfulness of the top path in a small sample, so it is off by default. Re-ranking
(2026-12-02, an mmkgat run with its defaults, benchmarks/explain_estimate.py: 60 pairs, every
candidate masked exactly): ordering the 16 best paths by estimated masking drop made the shown
path's drop beat a random path's in 93% of comparisons, but through demographics alone in 50%
of pairs; with ``demographic`` 0.001, 89% and 8% (90% and 8% over the 32 candidates of both
searches, which the 32 best of this one approximate). List-level choice of the first reason
(2026-12-02, benchmarks/explain.py, 200 users, mmkgat with its defaults, user-side graph without
demographics, and kgat): ``diversity`` 0.5 with ``recognisable`` 1.0 took mmkgat from 98.5%
faithful, SEP 0.053, ETD 0.165 (both below ``model``'s 0.090 / 0.231) to 95.0%, 0.127, 0.302;
``diversity`` 0.3 with ``recognisable`` 0.5: 94.1%, 0.113, 0.336; ``diversity`` alone at 0.5,
0.3, 0.2: SEP 0.084, 0.089, 0.091 (not above ``model``'s). Over the 24 best paths instead of
32 (the default; the API's explained p99 at 4 clients ~84 ms against ~105): mmkgat 96.1%,
0.119, 0.294; kgat SEP 0.299 against ``model``'s 0.285 (over 16: 0.284)."""
DEFAULT_RANKING = "balanced"
