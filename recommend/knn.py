"""Item–item kNN graphs from modality features (LUDP, paper 001, eqs 3–4).

``S^m(i, j) = e_i^m · e_j^m / (‖e_i^m‖ ‖e_j^m‖)`` (eq 3); each item keeps the ``k`` items of
highest similarity (eq 4, ``G^m(i, j) = S^m(i, j)`` for ``j`` in ``top-k(S^m_i)``, else 0). The
item itself is never its own neighbour, and items without a feature vector (a zero row: the
item has no node of that modality) have no neighbours and are nobody's neighbour.

The similarity matrix is never held whole: rows are scored in blocks of ``block`` items, so a
catalogue of ``n`` items costs ``O(block * n)`` memory. The same graph feeds the LUDP model and
the ``SIMILAR_VISUAL``/``SIMILAR_ACOUSTIC``/``SIMILAR_TEXTUAL`` relationships of the graph DB
(:func:`similar_relationships`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from kg_store.export import GraphExport
from kg_store.graph_data import GraphData, RelSet
from kgrec.schema import VIDEO

MODALITIES = ("Visual", "Acoustic", "Textual")
"""Modality labels that have a ``SIMILAR_<LABEL>`` relationship type."""


@dataclass
class KNNGraph:
    """A directed kNN graph: ``src`` keeps ``dst`` among its ``k`` most similar items.

    Attributes:
        n: number of items (the id space of ``src`` and ``dst``).
        k: neighbours asked for per item (items with fewer candidates keep fewer).
        src, dst: int64 ``[E]``, sorted by ``src`` then by descending ``score``.
        score: float32 ``[E]`` cosine similarity.
    """

    n: int
    k: int
    src: np.ndarray
    dst: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.src)

    def degree(self) -> np.ndarray:
        """Out-degree of every item. Shapes: ``[n]``."""
        return np.bincount(self.src, minlength=self.n)


def knn_graph(features: np.ndarray, k: int, block: int = 1024) -> KNNGraph:
    """Top-``k`` cosine neighbours of every item with a non-zero feature vector (eqs 3–4).

    Ties are broken by the lower item id, so the graph is deterministic.

    Args:
        features: float ``[n, d]``; a zero row means "no feature" (no edges).
        k: neighbours per item, ``>= 1``.
        block: rows scored at once (default: 1024).

    Returns:
        the graph; an item keeps ``min(k, number of other items with features)`` neighbours.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    x = torch.as_tensor(np.asarray(features, dtype=np.float32))
    if x.dim() != 2:
        raise ValueError(f"features must be a [n, d] matrix, got shape {tuple(x.shape)}")
    n = x.shape[0]
    norm = x.norm(dim=1)
    has = norm > 0
    xn = x / norm.clamp(min=1e-12).unsqueeze(1)
    kk = min(k, int(has.sum()) - 1)
    srcs, dsts, scores = [], [], []
    if kk >= 1:
        rows_with = torch.nonzero(has).flatten()
        for start in range(0, len(rows_with), block):
            rows = rows_with[start : start + block]
            sim = xn[rows] @ xn.T  # [B, n]
            sim[:, ~has] = -float("inf")
            sim[torch.arange(len(rows)), rows] = -float("inf")  # not its own neighbour
            # stable order: sort by (-score, id) so equal scores keep the lower id first
            val, idx = torch.sort(sim, dim=1, descending=True, stable=True)
            val, idx = val[:, :kk], idx[:, :kk]
            srcs.append(rows.repeat_interleave(kk))
            dsts.append(idx.reshape(-1))
            scores.append(val.reshape(-1))
    cat = lambda xs, dt: torch.cat(xs).numpy().astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return KNNGraph(n, k, cat(srcs, np.int64), cat(dsts, np.int64), cat(scores, np.float32))


def item_modality_features(export: GraphExport) -> dict[str, np.ndarray]:
    """Per modality label, each Video's feature vector (zero rows for videos without one).

    Reads ``(Video)-[HAS_<LABEL>]->(<Label>)`` edges of the export for every label that holds
    vectors. Shapes: ``{label: [n_videos, d]}``.
    """
    n = export.num_nodes(VIDEO)
    out: dict[str, np.ndarray] = {}
    for (src, _, dst), frame in sorted(export.edges.items()):
        if src != VIDEO or dst not in export.features:
            continue
        feats = np.asarray(export.features[dst], dtype=np.float32)
        mat = out.setdefault(dst, np.zeros((n, feats.shape[1]), np.float32))
        mat[frame["src"].to_numpy(np.int64)] = feats[frame["dst"].to_numpy(np.int64)]
    return out


def similar_type(label: str) -> str:
    """``"Textual"`` -> ``"SIMILAR_TEXTUAL"``."""
    return f"SIMILAR_{label.upper()}"


def similar_relationships(graph: KNNGraph, label: str, video_ids: pd.Index) -> RelSet:
    """The kNN graph as ``(Video)-[SIMILAR_<LABEL> {score}]->(Video)`` relationships.

    One relationship per similar pair: ``i -> j`` when ``j`` is among the ``k`` nearest of
    ``i``; a mutual pair is stored once, from the lower id (cosine is symmetric, and the
    analysts' ``similar_in_modality`` reads the relationships in both directions). So a
    video's similar videos in the graph are its ``k`` nearest plus those that count it among
    theirs.

    Args:
        graph: from :func:`knn_graph` over the export's Video order.
        label: the modality label (``Visual``, ``Acoustic``, ``Textual``, ...).
        video_ids: the export's Video keys (``export.ids["Video"]``).
    """
    if graph.n != len(video_ids):
        raise ValueError(f"kNN graph over {graph.n} items, but {len(video_ids)} Video ids")
    lo, hi = np.minimum(graph.src, graph.dst), np.maximum(graph.src, graph.dst)
    first = ~pd.DataFrame({"lo": lo, "hi": hi}).duplicated().to_numpy()  # src-sorted: lower id
    keys = np.asarray(video_ids, dtype=object)
    frame = pd.DataFrame(
        {
            "src": keys[graph.src[first]],
            "dst": keys[graph.dst[first]],
            "score": graph.score[first].astype(np.float64),
        }
    )
    return RelSet(similar_type(label), VIDEO, VIDEO, frame)


def similar_graph_data(
    export: GraphExport, k: int, labels: list[str] | None = None
) -> tuple[GraphData, dict[str, int]]:
    """kNN relationships of every modality of ``export`` (or of ``labels``) as a load.

    Returns:
        (graph data holding one :class:`RelSet` per modality, relationships per type).

    Raises:
        ValueError: a requested label has no feature vectors in the export.
    """
    feats = item_modality_features(export)
    wanted = labels or sorted(feats)
    missing = [lab for lab in wanted if lab not in feats]
    if missing:
        have = ", ".join(sorted(feats)) or "none"
        raise ValueError(f"no Video has {', '.join(missing)} features (modalities here: {have})")
    data = GraphData()
    counts: dict[str, int] = {}
    for label in wanted:
        rels = similar_relationships(knn_graph(feats[label], k), label, export.ids[VIDEO])
        data.rels.append(rels)
        counts[rels.type] = len(rels.frame)
    return data, counts
