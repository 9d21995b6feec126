"""The explainer of one trained model: the top-N scored paths for a (user, item) pair, each
with a plain sentence, in the API's reason format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from recommend.explain.graph import PathGraph
from recommend.explain.names import display_name
from recommend.explain.search import PathSearch
from recommend.explain.sentences import Hop, describe


class Explainer:
    """Top-N scored paths with sentences for (user, item) pairs of one trained model.

    Args:
        g: the search graph with the model's weights
            (:func:`~recommend.explain.build.build_path_graph`, then :meth:`PathGraph.set_weights`
            with :func:`~recommend.explain.weights.model_weights`).
        names: display names (:func:`~recommend.explain.names.load_names`); ids are shown where
            a name is missing.
        max_len: longest path by default (default: 3; at most 4).
        beam: partial walks kept per meeting node (default: 16).
        fanout: edges followed per node, highest weight first (default: 512).
    """

    def __init__(
        self,
        g: PathGraph,
        names: Mapping[str, Mapping[str, str]] | None = None,
        max_len: int = 3,
        beam: int = 16,
        fanout: int = 512,
    ) -> None:
        self.g = g
        self.names = names or {}
        self.max_len = max_len
        self.beam = beam
        self.fanout = fanout

    def search(self, user: int, max_len: int | None = None) -> PathSearch:
        """Walks from ``user`` (a node id), reusable for every item of one request."""
        return PathSearch(self.g, user, max_len or self.max_len, self.beam, self.fanout)

    def hops(self, nodes: np.ndarray, half: np.ndarray) -> list[Hop]:
        g = self.g
        out = []
        for a, b, h in zip(nodes[:-1].tolist(), nodes[1:].tolist(), half.tolist(), strict=True):
            e = h >> 1
            out.append(Hop(a, b, g.rel_names[int(g.rel[e])], (h & 1) == 0,
                           float(g.rating[e]), e))  # fmt: skip
        return out

    def node_dict(self, node: int) -> dict[str, str]:
        label = self.g.label_of(node)
        key = str(self.g.keys[node])
        return {"id": key, "label": label, "name": display_name(label, key, self.names)}

    def reason(self, nodes: np.ndarray, half: np.ndarray, score: float) -> dict[str, Any]:
        """One path as the API's reason: ``{path, relations, score, text}``."""
        hops = self.hops(nodes, half)
        return {
            "path": [self.node_dict(int(n)) for n in nodes],
            "relations": [h.relation for h in hops],
            "score": score,
            "text": describe(self.g, hops, self.names),
        }

    def explain(
        self, user: int, item: int, n: int = 3, search: PathSearch | None = None
    ) -> list[dict[str, Any]]:
        """The ``n`` best reasons for recommending ``item`` (node id) to ``user`` (node id)."""
        s = search or self.search(user)
        return [self.reason(nodes, half, score) for nodes, half, score in s.top(item, n)]
