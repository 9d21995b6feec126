"""Edge weights from a trained model, so that a path's score says how much the model uses it.

Every directed edge ``a -> b`` carries a weight ``w(a -> b)`` that sums to one over ``a``'s
edges, and a path ``u = x0, x1, ..., xL = i`` scores ``prod_k w(x_k -> x_{k+1})``: the
probability that a walk from the user led by those weights follows the path. A model says which
weights fit it through the hooks of :class:`~recommend.models.base.Recommender`
(:meth:`~recommend.models.base.Recommender.attention_encoders`,
:attr:`~recommend.models.base.Recommender.path_weights`,
:meth:`~recommend.models.base.Recommender.scoring_vectors`), read in
:mod:`recommend.explain.introspect`:

* Attention models (``attention_encoders`` not empty: ``kgat``, ``mmkgat``): ``w`` is the
  learned attention π(h, r, t) of the model's propagation (KGAT Sec. 3.2, eqs 4–5; paper 000
  eqs 12–13), summed over the relations between the same two nodes, so the score is the product
  of the attention weights along the path, as KGAT scores its explanation paths. MMKGAT holds
  two graphs: an interaction edge is in both and gets the mean of its two weights. Edges the
  model does not propagate over (similarity edges; the user KG for KGAT) get
  ``OUTSIDE_SCALE / degree(a)``: they carry nothing into the score, so a path through them ranks
  below the model's own paths unless it is far stronger (with weight ``1 / degree`` such paths
  were often on top and masking them left KGAT's score unchanged).
* Attention a model does not train: MMKGAT's accuracy-first default (``transr_on="kg"``) trains
  TransR on the KG triples only, so the attention on interaction edges comes from relation
  parameters that never move; those edges keep the attention mass their source gives them in
  total, shared out by the embedding weights below (``"attention+embedding"``). Measured on
  ML-100K (benchmarks/explain.py, an mmkgat checkpoint, ~56 pairs), the top path's masking
  drop beat a random path's in 63% of pairs this way, 43% with the raw attention.
* Embedding models (``path_weights = "embedding"``: ``bprmf``, ``lightgcn``, and ``kgat``,
  ``mmkgat`` should their attention be missing): ``w(a -> b) = softmax_b(cos(r_a, r_b) / tau)``
  over ``a``'s neighbours, where ``r`` is the model's final representation of a user or an item
  (``scoring_vectors``: the vectors whose inner product is the model's score) and an attribute
  entity's ``r`` is the mean of its neighbours' (``tau``: :data:`EMBED_TAU`).
* Any other model (``path_weights = "uniform"``, the default), and one with one-dimensional
  scores (popularity), gets uniform weights, ``1 / degree(a)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recommend.data import RecData
from recommend.explain.graph import PathGraph
from recommend.explain.introspect import model_encoders, model_vectors

if TYPE_CHECKING:
    from recommend.models.base import Recommender

OUTSIDE_SCALE = 0.01
"""Weight factor of edges an attention model does not propagate over (see the module doc)."""
EMBED_TAU = 0.2
"""Temperature of the cosine softmax that weights edges for embedding models."""


def _encoder_weights(
    g: PathGraph, encoder: Any, emap: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Attention of one encoder mapped onto ``g``'s half-edges: (weights, present mask).

    ``encoder.edges`` ``[3, E]`` and ``encoder.att`` ``[E]`` are read defensively: an encoder
    without them (or with an attention of the wrong size, e.g. not yet refreshed) gives None.
    """
    edges = getattr(encoder, "edges", None)
    att = getattr(encoder, "att", None)
    if edges is None or att is None or not isinstance(att, torch.Tensor):
        return None
    if att.numel() != edges.shape[1] or att.numel() == 0:
        return None
    h = emap[edges[0].cpu().numpy()]
    t = emap[edges[2].cpu().numpy()]
    a = att.detach().cpu().double().numpy()
    keep = (h >= 0) & (t >= 0)
    n = g.n_nodes
    key = h[keep] * n + t[keep]
    uniq, inv = np.unique(key, return_inverse=True)
    summed = np.bincount(inv, weights=a[keep], minlength=len(uniq))
    frm, to = g.half_ends(np.arange(2 * g.n_edges))
    hk = frm * n + to
    pos = np.clip(np.searchsorted(uniq, hk), 0, max(len(uniq) - 1, 0))
    found = (uniq[pos] == hk) if len(uniq) else np.zeros(len(hk), bool)
    w = np.where(found, summed[pos] if len(uniq) else 0.0, 0.0)
    return w, found


def attention_weights(g: PathGraph, model: Recommender, data: RecData) -> np.ndarray | None:
    """Per half-edge attention π of a model's :func:`model_encoders` (KGAT's, MMKGAT's), or None
    for a model without attention.

    Edges outside the model's graphs get ``OUTSIDE_SCALE / degree``; an edge in several graphs
    gets the mean of its weights.
    """
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for enc, emap in model_encoders(model, data, g):
        r = _encoder_weights(g, enc, emap)
        if r is not None:
            found.append(r)
    if not found:
        return None
    total = np.zeros(2 * g.n_edges)
    count = np.zeros(2 * g.n_edges)
    for w, present in found:
        total += np.where(present, w, 0.0)
        count += present
    outside = OUTSIDE_SCALE * g.uniform_weights()
    return np.where(count > 0, total / np.maximum(count, 1), outside)


def embedding_weights(
    g: PathGraph, user_vecs: np.ndarray, item_vecs: np.ndarray, tau: float = EMBED_TAU
) -> np.ndarray:
    """``softmax_b(cos(r_a, r_b) / tau)`` over each node's edges (see the module docstring)."""
    if user_vecs.shape[1] < 2:  # one score per item (popularity): nothing to compare
        return g.uniform_weights()
    r = node_vectors(g, user_vecs, item_vecs)
    norm = np.linalg.norm(r, axis=1)
    rn = r / np.maximum(norm, 1e-12)[:, None]
    frm, to = g.half_ends(np.arange(2 * g.n_edges))
    logit = (rn[frm] * rn[to]).sum(1) / tau
    # softmax per source node
    mx = np.full(g.n_nodes, -np.inf)
    np.maximum.at(mx, frm, logit)
    ex = np.exp(logit - mx[frm])
    den = np.bincount(frm, weights=ex, minlength=g.n_nodes)
    return np.asarray(ex / den[frm])


def node_vectors(g: PathGraph, user_vecs: np.ndarray, item_vecs: np.ndarray) -> np.ndarray:
    """A vector per node: users' and items' from the model, an entity's the mean of its
    neighbours' (user and item neighbours only). Shapes: ``[N, D]``."""
    d = user_vecs.shape[1]
    r = np.zeros((g.n_nodes, d), dtype=np.float64)
    r[: g.n_users] = user_vecs
    r[g.n_users : g.n_users + g.n_items] = item_vecs
    n_anchor = g.n_users + g.n_items
    if g.n_nodes > n_anchor:
        # entity <- anchor edges: every KG edge has an anchor head or tail
        a = np.concatenate([g.head, g.tail])
        b = np.concatenate([g.tail, g.head])
        m = (a >= n_anchor) & (b < n_anchor)
        acc = np.zeros((g.n_nodes, d))
        np.add.at(acc, a[m], r[b[m]])
        cnt = np.bincount(a[m], minlength=g.n_nodes)
        ent = np.arange(n_anchor, g.n_nodes)
        r[ent] = acc[ent] / np.maximum(cnt[ent], 1)[:, None]
    return r


def untrained_interactions(model: Recommender) -> bool:
    """Whether the model's attention on interaction edges is untrained: its options say TransR
    trains on the KG triples only (``transr_on="kg"``, MMKGAT's default)."""
    return getattr(getattr(model, "options", None), "transr_on", None) == "kg"


def mixed_weights(g: PathGraph, att: np.ndarray, emb: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``att`` with the half-edges of ``edges`` (edge ids, both directions) re-weighted: each
    source node's total attention on them, shared out in proportion to ``emb``."""
    half = np.concatenate([2 * edges, 2 * edges + 1]).astype(np.int64)
    frm, _ = g.half_ends(half)
    mass = np.bincount(frm, weights=att[half], minlength=g.n_nodes)
    share = np.bincount(frm, weights=emb[half], minlength=g.n_nodes)
    out = att.copy()
    out[half] = mass[frm] * emb[half] / np.maximum(share[frm], 1e-300)
    return out


def model_weights(
    g: PathGraph,
    model: Recommender,
    data: RecData,
    vectors: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, str]:
    """Half-edge weights for ``model`` and how they were made (``"attention"``,
    ``"attention+embedding"``, ``"embedding"`` or ``"uniform"``; see the module docstring).

    Args:
        vectors: the model's :func:`model_vectors`, when the caller has them already.
    """
    att = attention_weights(g, model, data)
    if att is not None and not (untrained_interactions(model) and g.kinds):
        return att, "attention"
    if att is None and model.path_weights != "embedding":
        return g.uniform_weights(), "uniform"
    u, v = vectors if vectors is not None else model_vectors(model)
    if u.shape[1] < 2:
        return (att, "attention") if att is not None else (g.uniform_weights(), "uniform")
    emb = embedding_weights(g, u, v)
    if att is None:
        return emb, "embedding"
    inter = np.fromiter(g.kinds, dtype=np.int64, count=len(g.kinds))
    return mixed_weights(g, att, emb, inter), "attention+embedding"
