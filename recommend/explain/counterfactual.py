"""What a path is worth to the model: the item's score and rank with the path's edges masked.

:class:`Masker` re-scores with some edges of a model's propagation graphs masked: their entries
of the propagation matrices (the attention summed over relations) become 0 in both directions,
without renormalisation, in every encoder graph that holds them, and the model propagates
again. "Without this path it would fall from #3 to #17" is :meth:`Masker.counterfactual`.

Only models that propagate over attention edges (``Recommender.attention_encoders``: ``kgat``,
``mmkgat``) can be masked; one propagation per masked path is the cost (about 0.1-0.5 s on
MovieLens-100K on one CPU thread), which is why callers bound how many paths they mask.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recommend.data import RecData
from recommend.explain.graph import PathGraph
from recommend.explain.introspect import model_encoders, model_vectors

if TYPE_CHECKING:
    from recommend.explain.explainer import Explainer
    from recommend.models.base import Recommender


class NotMaskable(ValueError):
    """The model has no propagation edges to mask (no attention encoders)."""


def hops_of(nodes: Sequence[int] | np.ndarray) -> list[tuple[int, int]]:
    """The node pairs ``(x_k, x_{k+1})`` of a path."""
    seq = [int(n) for n in nodes]
    return list(zip(seq[:-1], seq[1:], strict=True))


def _zeroed(adj: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
    """A copy of the CSR matrix ``adj`` with the entries at (rows, cols) set to 0."""
    crow = adj.crow_indices().numpy()
    col = adj.col_indices().numpy()
    values = adj.values().clone()
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        lo, hi = crow[r], crow[r + 1]
        j = lo + int(np.searchsorted(col[lo:hi], c))
        if j < hi and col[j] == c:
            values[j] = 0.0
    return torch.sparse_csr_tensor(adj.crow_indices(), adj.col_indices(), values, adj.shape)


class Masker:
    """Re-scores a model with the edges between some node pairs of ``g`` masked.

    Args:
        model: a trained model with attention encoders.
        data: its training data.
        g: the explanation graph whose node ids the pairs use.

    Raises:
        NotMaskable: the model has no attention encoders.
    """

    def __init__(self, model: Recommender, data: RecData, g: PathGraph) -> None:
        self.model, self.g = model, g
        self.encoders: list[tuple[Any, np.ndarray, np.ndarray]] = []
        for enc, emap in model_encoders(model, data, g):
            h = emap[enc.edges[0].cpu().numpy()]
            t = emap[enc.edges[2].cpu().numpy()]
            lo, hi = np.minimum(h, t), np.maximum(h, t)  # both directions share a key
            key = np.where((h >= 0) & (t >= 0), lo * g.n_nodes + hi, -1)
            order = np.argsort(key, kind="stable")
            self.encoders.append((enc, key[order], order))
        if not self.encoders:
            name = getattr(model, "name", type(model).__name__)
            raise NotMaskable(f"{name} propagates over no attention edges: nothing to mask")
        self._lock = threading.Lock()
        self.base = model_vectors(model)

    def vectors(self, pairs: Sequence[tuple[int, int]] = ()) -> tuple[np.ndarray, np.ndarray]:
        """The model's user and item vectors with the edges between ``pairs`` masked."""
        if not pairs:
            return self.base
        want = np.array([min(a, b) * self.g.n_nodes + max(a, b) for a, b in pairs])
        with self._lock:
            saved = []
            try:
                for enc, skey, order in self.encoders:
                    lo = np.searchsorted(skey, want, "left")
                    hi = np.searchsorted(skey, want, "right")
                    parts = [order[a:b] for a, b in zip(lo, hi, strict=True)]
                    idx = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, int)
                    if not len(idx):
                        continue
                    saved.append((enc, enc.adj, enc.adj_t))
                    h, t = enc.edges[0].numpy()[idx], enc.edges[2].numpy()[idx]
                    enc.adj = _zeroed(enc.adj, h, t)  # row h aggregates from t
                    enc.adj_t = _zeroed(enc.adj_t, t, h)
                if not saved:
                    return self.base
                return model_vectors(self.model)
            finally:
                for enc, adj, adj_t in saved:
                    enc.adj, enc.adj_t = adj, adj_t

    def score(self, user: int, item: int, pairs: Sequence[tuple[int, int]] = ()) -> float:
        """The score of (user, item) (contiguous ids) with the edges between ``pairs`` masked."""
        u, v = self.vectors(pairs)
        return float(u[user] @ v[item])

    def counterfactual(
        self, user: int, item: int, pairs: Sequence[tuple[int, int]], seen: np.ndarray
    ) -> dict[str, Any]:
        """``{"score", "rank", "base_score", "base_rank"}`` of ``item`` for ``user`` without the
        edges of ``pairs`` (ranks: 1 for the best, among the items not in ``seen``)."""
        bu, bv = self.base
        u, v = self.vectors(pairs)
        return {
            "base_score": float(bu[user] @ bv[item]),
            "base_rank": _rank(bv @ bu[user], item, seen),
            "score": float(u[user] @ v[item]),
            "rank": _rank(v @ u[user], item, seen),
        }


def _rank(scores: np.ndarray, item: int, seen: np.ndarray) -> int:
    """1 + the unseen items scoring above ``item``."""
    s = np.asarray(scores, dtype=np.float64).copy()
    s[seen] = -np.inf
    return int((s > s[item]).sum()) + 1


def add_counterfactuals(
    masker: Masker,
    explainer: Explainer,
    user: int,
    reasons: Sequence[tuple[int, dict[str, Any]]],
    seen: np.ndarray,
    limit: int,
) -> int:
    """Give each ``(item, reason)`` its ``counterfactual`` (:meth:`Masker.counterfactual` and
    ``rank_drop``, the places the item falls), the first ``limit`` of them; ``None`` after
    that. Returns how many paths were masked."""
    masked = 0
    for item, reason in reasons:
        if masked >= limit:
            reason["counterfactual"] = None
            continue
        nodes = [explainer.node_of(p) for p in reason["path"]]
        cf = masker.counterfactual(user, item, hops_of(nodes), seen)
        cf["rank_drop"] = cf["rank"] - cf["base_rank"]
        reason["counterfactual"] = cf
        masked += 1
    return masked
