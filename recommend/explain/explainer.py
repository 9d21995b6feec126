"""The explainer of one trained model: the top-N paths for a (user, item) pair, each with a plain
sentence and the Cypher that shows it, in the API's reason format.

Paths run only over positive evidence (:class:`~recommend.explain.evidence.EvidenceRule`) and
are ranked by :class:`~recommend.explain.ranking.PathRanking`; each reason's ``score`` is the
model's own path weight, ``rank_score`` the ranking's.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recommend.explain.attribution import LocalMasking
from recommend.explain.cypher import path_cypher
from recommend.explain.evidence import EvidenceRule
from recommend.explain.graph import PathGraph
from recommend.explain.names import display_name
from recommend.explain.quality import sep_table
from recommend.explain.ranking import DEFAULT_RANKING, PathRanking
from recommend.explain.search import PathSearch
from recommend.explain.sentences import Hop, describe


def user_side_entities(g: PathGraph) -> np.ndarray:
    """Attribute nodes whose every edge goes to a user (Gender, Occupation, ...), ``[N]``."""
    frm, to = g.half_ends(np.arange(2 * g.n_edges))
    anchors = g.n_users + g.n_items
    side = np.zeros(g.n_nodes, dtype=bool)
    side[anchors:] = g.degree()[anchors:] > 0
    side[frm[(frm >= anchors) & (to >= g.n_users)]] = False
    return side


class Explainer:
    """Top-N ranked paths with sentences for (user, item) pairs of one trained model.

    Args:
        g: the search graph with the model's weights
            (:func:`~recommend.explain.build.build_path_graph`, then :meth:`PathGraph.set_weights`
            with :func:`~recommend.explain.weights.model_weights`).
        names: display names (:func:`~recommend.explain.names.load_names`); ids are shown where
            a name is missing.
        max_len: longest path by default (default: 3; at most 4).
        beam: partial walks kept per meeting node (default: 16).
        fanout: edges followed per node, highest weight first (default: 512).
        evidence: which interactions may be cited (default: :class:`EvidenceRule`'s defaults).
        ranking: how paths are ranked by default, a preset name or a :class:`PathRanking`
            (default: ``"balanced"``).
        source_labels: role label -> the graph's own label (``GraphExport.source_labels``),
            for names, displayed labels and Cypher.
        masking: the model's local view of masking
            (:class:`~recommend.explain.attribution.LocalMasking`), which gives each reason its
            ``masking_drop`` and lets a ranking's ``rerank`` order paths by it (default: none).
    """

    def __init__(
        self,
        g: PathGraph,
        names: Mapping[str, Mapping[str, str]] | None = None,
        max_len: int = 3,
        beam: int = 16,
        fanout: int = 512,
        evidence: EvidenceRule | None = None,
        ranking: str | PathRanking = DEFAULT_RANKING,
        source_labels: Mapping[str, str] | None = None,
        masking: LocalMasking | None = None,
    ) -> None:
        self.g = g
        self.masking = masking
        self.names = names or {}
        self.max_len = max_len
        self.beam = beam
        self.fanout = fanout
        self.evidence = evidence or EvidenceRule()
        self.ranking = PathRanking.named(ranking)
        self.source_labels = dict(source_labels or {})
        self.positive = self.evidence.positive(g)
        self.user_side = user_side_entities(g)
        self._graphs: dict[PathRanking, PathGraph] = {}
        self._sep: np.ndarray | None = None
        self._types: tuple[list[int], list[int]] | None = None
        self._lock = threading.Lock()

    def demographic_only(self, nodes: np.ndarray) -> bool:
        """Whether a path's inner nodes are user-side attributes and other users only (at
        least one attribute)."""
        inner = nodes[1:-1]
        side = self.user_side[inner]
        return bool(side.any() and np.all(side | (inner < self.g.n_users)))

    def source_label(self, label: str) -> str:
        """The graph's own name of a role label (``Customer`` for ``User``)."""
        return self.source_labels.get(label, label)

    def node_of(self, node: Mapping[str, str]) -> int:
        """The node id of a reason's path node (``{"id", "label"}``, the graph's own label)."""
        own = {v: k for k, v in self.source_labels.items()}
        return self.g.node(own.get(node["label"], node["label"]), node["id"])

    def graph(self, ranking: str | PathRanking | None = None) -> PathGraph:
        """The graph the search runs on for a ranking: positive evidence only, weights folded
        with the ranking (built once per ranking)."""
        r = self.ranking if ranking is None else PathRanking.named(ranking)
        with self._lock:
            if r not in self._graphs:
                w = r.search_weights(self.g, self.g.weight)
                self._graphs[r] = self.g.restricted(self.positive, w)
            return self._graphs[r]

    def search(
        self, user: int, max_len: int | None = None, ranking: str | PathRanking | None = None
    ) -> PathSearch:
        """Walks from ``user`` (a node id), reusable for every item of one request."""
        return PathSearch(self.graph(ranking), user, max_len or self.max_len, self.beam,
                          self.fanout)  # fmt: skip

    def hops(self, nodes: np.ndarray, half: np.ndarray) -> list[Hop]:
        g = self.g
        out = []
        for a, b, h in zip(nodes[:-1].tolist(), nodes[1:].tolist(), half.tolist(), strict=True):
            e = h >> 1
            out.append(Hop(a, b, g.rel_names[int(g.rel[e])], (h & 1) == 0,
                           float(g.rating[e]), e))  # fmt: skip
        return out

    def node_dict(self, node: int) -> dict[str, str]:
        role = self.g.label_of(node)
        key = str(self.g.keys[node])
        label = self.source_label(role)
        return {"id": key, "label": label, "name": display_name(role, key, self.names, label)}

    def model_score(self, half: np.ndarray) -> float:
        """The model's path weight: the product of the model's weights along the path."""
        return float(np.prod(self.g.weight[np.asarray(half, dtype=np.int64)]))

    def reason(
        self, nodes: np.ndarray, half: np.ndarray, rank_score: float, drop: float | None = None
    ) -> dict[str, Any]:
        """One path as the API's reason: ``{path, relations, forward, score, rank_score,
        masking_drop, text, cypher}``."""
        hops = self.hops(nodes, half)
        labels = [self.g.label_of(int(n)) for n in nodes]
        relations = [h.relation for h in hops]
        forward = [h.forward for h in hops]
        return {
            "path": [self.node_dict(int(n)) for n in nodes],
            "relations": relations,
            "forward": forward,
            "score": self.model_score(half),
            "rank_score": rank_score,
            "masking_drop": drop,
            "text": describe(self.g, hops, self.names, self.source_label),
            "cypher": path_cypher(
                labels,
                [str(self.g.keys[int(n)]) for n in nodes],
                relations,
                forward,
                self.source_label,
            ),  # fmt: skip
        }

    def explain(
        self,
        user: int,
        item: int,
        n: int = 3,
        search: PathSearch | None = None,
        ranking: str | PathRanking | None = None,
    ) -> list[dict[str, Any]]:
        """The ``n`` best reasons for recommending ``item`` (node id) to ``user`` (node id).

        Args:
            search: walks from ``user`` made with ``ranking`` (:meth:`search`), reused across
                a request's items (default: made here).
            ranking: the ranking (default: the explainer's); with ``rerank``, its best
                ``rerank`` paths are re-ordered by their estimated masking drop.
        """
        return self.explain_many(user, [item], n, search, ranking)[0]

    def explain_many(
        self,
        user: int,
        items: Sequence[int],
        n: int = 3,
        search: PathSearch | None = None,
        ranking: str | PathRanking | None = None,
    ) -> list[list[dict[str, Any]]]:
        """:meth:`explain` for several items of one user (a list, in its order), their
        masking drops estimated in one batch; with the ranking's ``diversity`` an item's first
        reason prefers a type not shown first for an earlier item of ``items``."""
        r = self.ranking if ranking is None else PathRanking.named(ranking)
        s = search or self.search(user, ranking=r)
        rerank = r.rerank if self.masking is not None else 0
        listwise = bool(r.diversity or r.recognisable)  # the first reason chosen over the list
        m = max(n, r.rerank) if rerank or listwise else n
        found = [s.top(item, m) for item in items]
        drops: list[np.ndarray | None] = [None] * len(found)
        if self.masking is not None:
            requests = [(item, [nodes.tolist() for nodes, _, _ in f])
                        for item, f in zip(items, found, strict=True)]  # fmt: skip
            drops = list(self.masking.drops_many(user, requests))
        out = []
        used: set[tuple[int, ...]] = set()  # the types of the reasons shown first so far
        for f, drop in zip(found, drops, strict=True):
            if rerank and drop is not None:  # the costliest to mask first
                key = drop * np.array([r.demographic if self.demographic_only(p) else 1.0
                                       for p, _, _ in f])  # fmt: skip
                order = np.argsort(-key, kind="stable")
            else:  # the search's order
                key, order = np.array([sc for _, _, sc in f]), np.arange(len(f))
            if listwise and len(order):
                order = self._diversified(f, key, order, used, r.diversity, r.recognisable)
                used.add(self.path_type(f[order[0]][0], f[order[0]][1]))
            out.append([self.reason(f[j][0], f[j][1], f[j][2],
                                    None if drop is None else float(drop[j]))
                        for j in order[:n]])  # fmt: skip
        return out

    def path_type(self, nodes: np.ndarray, half: np.ndarray) -> tuple[int, ...]:
        """A path's explanation type as ids: its node labels, then its relation types."""
        labels, rels = self._type_tables
        return (*(labels[n] for n in nodes.tolist()),
                *(rels[h >> 1] for h in np.asarray(half).tolist()))  # fmt: skip

    @property
    def _type_tables(self) -> tuple[list[int], list[int]]:
        """Each node's label id and each edge's relation id as lists (fast to index)."""
        if self._types is None:
            self._types = (self.g.label_idx.tolist(), self.g.rel.tolist())
        return self._types

    def _diversified(
        self, found: list[Any], key: np.ndarray, order: np.ndarray, used: set[tuple[int, ...]],
        band: float, recognisable: float = 0.0,
    ) -> np.ndarray:  # fmt: skip
        """``order`` with its first entry replaced by the best path within ``band``: those
        whose key is at least ``band`` times the best's; of a type not yet shown first in this
        list if any and ``band`` > 0 (Balloccu et al.'s explanation-type diversity), then by
        ``key / best + recognisable * SEP`` of the shared entity (the node before the item:
        shared-entity popularity)."""
        best = float(key[order[0]])
        if best <= 0:
            return order
        inside = [(pos, j) for pos, j in enumerate(order.tolist()) if key[j] >= band * best]
        sep = self.sep if recognisable else None

        def merit(pos_j: tuple[int, int]) -> tuple[bool, float]:
            j = pos_j[1]
            nodes, half = found[j][0], found[j][1]
            bonus = recognisable * float(sep[nodes[-2]]) if sep is not None else 0.0
            new = band > 0 and self.path_type(nodes, half) not in used
            return new, float(key[j]) / best + bonus

        pos, j = max(inside, key=merit)
        return np.r_[j, np.delete(order, pos)]

    @property
    def sep(self) -> np.ndarray:
        """Every node's shared-entity popularity (:func:`~recommend.explain.quality.sep_table`)."""
        if self._sep is None:
            self._sep = sep_table(self.g)
        return self._sep
