"""Path explanations: the knowledge-graph paths from a user to a recommended item, scored by the
trained model, with a plain sentence each.

The search runs over a :class:`PathGraph` held in memory, built from a run's training data only
(training interactions, the item KG, the user KG, and item–item multimodal similarity), never
from validation or test pairs. Nodes live in one id space: users, then videos, then the item-side
attribute entities (Genre, Decade, Tag, Person, ...), then the user-side ones (Occupation,
AgeGroup, Gender). Modality nodes (Visual/Acoustic/Textual hold one video's features each, so no
path runs through them) are replaced by ``SIMILAR_<MODALITY>`` edges joining each video to its
``sim_k`` nearest videos by cosine similarity of the features. A pair with several interaction
kinds (CLICKED, FINISHED, LIKED) is one edge named after its strongest kind.

**Path scores.** Every directed edge ``a -> b`` carries a weight ``w(a -> b)`` that sums to one
over ``a``'s edges, and a path ``u = x0, x1, ..., xL = i`` scores ``prod_k w(x_k -> x_{k+1})``:
the probability that a walk from the user led by those weights follows the path.

* Attention models (``kgat``, ``mmkgat``): ``w`` is the learned attention π(h, r, t) of the
  model's propagation (KGAT Sec. 3.2, eqs 4–5; paper 000 eqs 12–13), summed over the relations
  between the same two nodes, so the score is the product of the attention weights along the
  path, as KGAT scores its explanation paths. MMKGAT holds two graphs: an interaction edge is in
  both and gets the mean of its two weights. Edges the model does not propagate over
  (similarity edges; the user KG for KGAT) get ``OUTSIDE_SCALE / degree(a)``: they carry
  nothing into the score, so a path through them ranks below the model's own paths unless it
  is far stronger (with weight ``1 / degree`` such paths were often on top and masking them
  left KGAT's score unchanged).
* Embedding models (``bprmf``, ``lightgcn``) and others: ``w(a -> b) = softmax_b(cos(r_a, r_b) /
  tau)`` over ``a``'s neighbours, where ``r`` is the model's final representation of a user or
  an item (the vectors whose inner product is the model's score) and an attribute entity's ``r``
  is the mean of its neighbours' (``tau``: :data:`EMBED_TAU`). A model with one-dimensional
  scores (popularity) gets uniform weights, ``1 / degree(a)``.

**Search.** Paths of length ``1..max_len`` (at most 4) are found by joining walks from the user
with walks from the item at their meeting node: length ``L`` joins ``ceil(L/2)`` steps from the
user with ``floor(L/2)`` steps from the item. Both sides keep at most ``beam`` partial walks per
meeting node (the best by score) and expand each node through its ``fanout`` highest-weight
edges only (rows are sorted by weight), so the work is bounded by the degrees near the two
endpoints and no variable-length query runs. With ``fanout`` at least the largest degree the
top ``beam`` paths are exact (the score is a product, so a pruned partial walk cannot be part of
a better path); only simple paths (no node twice) are kept.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from kg_ingest.model import MODALITIES, USER, VIDEO
from recommend.data import KGTriples, RecData

MAX_LEN = 4
"""Longest path the search accepts."""
OUTSIDE_SCALE = 0.01
"""Weight factor of edges an attention model does not propagate over (see the module doc)."""
EMBED_TAU = 0.2
"""Temperature of the cosine softmax that weights edges for embedding models."""
EMBEDDING_MODELS = ("bprmf", "lightgcn", "kgat", "mmkgat")
"""Models whose user and item vectors weight edges when they hold no attention."""
NAMES_FILE = "names.json"
"""Display names cached in a run directory (see :func:`save_names`)."""

# strongest first: the kind a multi-kind interaction edge is named after
_KIND_ORDER = ("SHARED", "LIKED", "COMMENTED", "FOLLOWED", "FINISHED", "RATED", "CLICKED",
               "INTERACTED")  # fmt: skip
_VERBS = {
    "RATED": "rated", "CLICKED": "watched", "LIKED": "liked", "FINISHED": "finished",
    "SHARED": "shared", "COMMENTED": "commented on", "FOLLOWED": "followed",
    "INTERACTED": "watched",
}  # fmt: skip
_NOUNS = {
    "Genre": "genre", "Decade": "decade", "Tag": "tag", "Person": "creator",
    "Occupation": "occupation", "AgeGroup": "age group", "Gender": "gender",
    "Entity": "entity",
}  # fmt: skip
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_RATED_KIND = re.compile(r"^(\w+?)_(\d+(?:\.\d+)?)$")


class UnknownEntity(KeyError):
    """An id that the served run does not know (the API answers 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown entity"


# --------------------------------------------------------------------------------------------
# Display names
# --------------------------------------------------------------------------------------------

Names = dict[str, dict[str, str]]
"""label -> node key -> display name (a Video's title, a Person's name, ...)."""


def names_from_graph_data(graph: Any) -> Names:
    """Display names from a :class:`kg_store.GraphData` (``title`` or ``name`` properties)."""
    out: Names = {}
    for ns in graph.nodes:
        frame = ns.frame
        for col in ("title", "name"):
            if col in frame.columns:
                sel = frame[["id", col]].dropna()
                out.setdefault(ns.label, {}).update(
                    {str(k): str(v) for k, v in zip(sel["id"], sel[col], strict=True)}
                )
                break
    return out


def save_names(directory: str | Path, names: Names) -> Path:
    """Cache display names in a run directory as ``names.json`` (atomically)."""
    path = Path(directory) / NAMES_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(names, ensure_ascii=False))
    tmp.replace(path)
    return path


def load_names(directory: str | Path) -> Names | None:
    """The cached display names of a run, or None when it has none."""
    path = Path(directory) / NAMES_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return {str(lab): {str(k): str(v) for k, v in m.items()} for lab, m in raw.items()}


def display_name(label: str, key: str, names: Mapping[str, Mapping[str, str]]) -> str:
    """A node's name for people: its title/name when known, ``user 42`` for a user, else its id."""
    known = names.get(label, {}).get(key)
    if known:
        return known
    if label == USER:
        return f"user {key}"
    return key


# --------------------------------------------------------------------------------------------
# The graph the search runs on
# --------------------------------------------------------------------------------------------


@dataclass
class PathGraph:
    """An undirected multi-relational graph in CSR form, with a weight per directed edge.

    Attributes:
        labels: node label of each block, in id order; ``offsets[label]`` is its first id.
        keys: node key (the graph's ``id`` property) of every node, ``[N]``.
        label_idx: index into ``labels`` of every node, ``[N]``.
        head/tail/rel: endpoints (in the graph's own direction) and relation of each edge
            ``[M]``; ``rel`` indexes ``rel_names``.
        rating: the training rating of an interaction edge (NaN elsewhere), ``[M]``.
        kinds: the interaction kinds (model relation names) of each interaction edge.
        indptr/nbr/half: CSR over directed half-edges: row ``a`` lists ``nbr`` (the other end)
            and ``half`` (``2 * edge + 0`` from head to tail, ``+ 1`` from tail to head), rows
            sorted by weight, highest first (after :meth:`set_weights`).
        weight: ``w(a -> b)`` of every half-edge id, ``[2M]``.
    """

    n_users: int
    n_items: int
    labels: list[str]
    offsets: dict[str, int]
    keys: np.ndarray
    label_idx: np.ndarray
    head: np.ndarray
    tail: np.ndarray
    rel: np.ndarray
    rel_names: list[str]
    rating: np.ndarray
    kinds: dict[int, tuple[str, ...]] = field(default_factory=dict)
    indptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    nbr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    half: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    _key_index: dict[str, pd.Index] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.keys)

    @property
    def n_edges(self) -> int:
        return len(self.head)

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def node(self, label: str, key: str) -> int:
        """Node id of ``(label, key)``; raises :class:`UnknownEntity`."""
        idx = self._key_index.get(label)
        if idx is None:
            raise UnknownEntity(f"no {label} nodes in this run")
        pos = idx.get_indexer(pd.Index([str(key)]))[0]
        if pos < 0:
            raise UnknownEntity(f"unknown {label} id {key!r}")
        return int(self.offsets[label] + pos)

    def label_of(self, node: int) -> str:
        return self.labels[int(self.label_idx[node])]

    def half_ends(self, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(from, to) nodes of half-edge ids."""
        e, d = half >> 1, half & 1
        return np.where(d == 0, self.head[e], self.tail[e]), np.where(d == 0, self.tail[e],
                                                                      self.head[e])  # fmt: skip

    def model_edges(self, half: Iterable[int]) -> list[tuple[int, int, str]]:
        """``(head, tail, relation)`` of the edges of some half-edges, in the graph's direction."""
        out = []
        for h in half:
            e = int(h) >> 1
            out.append((int(self.head[e]), int(self.tail[e]), self.rel_names[int(self.rel[e])]))
        return out

    def set_weights(self, weight: np.ndarray) -> None:
        """Set ``w`` per half-edge and sort each CSR row by it (highest first)."""
        self.weight = np.asarray(weight, dtype=np.float64)
        src = np.repeat(np.arange(self.n_nodes), np.diff(self.indptr))
        order = np.lexsort((-self.weight[self.half], src))
        self.nbr, self.half = self.nbr[order], self.half[order]

    def uniform_weights(self) -> np.ndarray:
        """``1 / degree(from)`` for every half-edge."""
        frm, _ = self.half_ends(np.arange(2 * self.n_edges))
        return 1.0 / np.maximum(self.degree()[frm], 1)


def _entity_map(
    kg: KGTriples, anchor: str, anchor_base: int, offsets: dict[str, int]
) -> np.ndarray:
    """Unified node id of every entity of ``kg`` (-1 for modality entities)."""
    out = np.full(kg.n_entities, -1, dtype=np.int64)
    starts = sorted(kg.offsets.items(), key=lambda kv: kv[1])
    for j, (label, start) in enumerate(starts):
        end = starts[j + 1][1] if j + 1 < len(starts) else kg.n_entities
        if label == anchor:
            out[start:end] = anchor_base + np.arange(end - start)
        elif label in offsets:
            out[start:end] = offsets[label] + np.arange(end - start)
    return out


def _knn(features: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)`` with ``b`` among the ``k`` most cosine-similar rows to ``a`` (a < b
    kept once); zero rows take no part."""
    x = np.asarray(features, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1)
    rows = np.flatnonzero(norm > 0)
    if len(rows) < 2 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    xn = x[rows] / norm[rows, None]
    k = min(k, len(rows) - 1)
    src, dst = [], []
    for s in range(0, len(rows), chunk):
        sim = xn[s : s + chunk] @ xn.T
        np.fill_diagonal(sim[:, s : s + chunk], -np.inf)
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        src.append(np.repeat(rows[s : s + chunk], k))
        dst.append(rows[top.ravel()])
    a, b = np.concatenate(src), np.concatenate(dst)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.stack([lo, hi], 1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _rating_of_kind(name: str) -> float:
    m = _RATED_KIND.match(name)
    return float(m.group(2)) if m else math.nan


def _base_kind(name: str) -> str:
    m = _RATED_KIND.match(name)
    return m.group(1) if m else name


def build_path_graph(
    data: RecData,
    ids: Mapping[str, pd.Index],
    ratings: Mapping[tuple[int, int], float] | None = None,
    sim_k: int = 5,
) -> PathGraph:
    """The search graph of a run's training data (no validation or test pair enters it).

    Args:
        data: the run's :class:`RecData`.
        ids: node keys per label (``GraphExport.ids``), to name the attribute entities.
        ratings: ``(user, item) -> rating`` of training interactions, when the model's kinds do
            not carry it (``RATED_5`` does).
        sim_k: nearest videos per video and modality for ``SIMILAR_<MODALITY>`` edges
            (default: 5; 0 for none).
    """
    n_users, n_items = data.n_users, data.n_items
    modal = set(data.item_kg.entity_features) | set(MODALITIES)
    labels, offsets = [USER, VIDEO], {USER: 0, VIDEO: n_users}
    n = n_users + n_items
    for kg in (data.item_kg, data.user_kg):
        for label in sorted(kg.offsets, key=lambda lab: kg.offsets[lab]):
            if label in offsets or label in modal:
                continue
            offsets[label] = n
            labels.append(label)
            n += len(ids.get(label, ()))
    keys = np.empty(n, dtype=object)
    label_idx = np.empty(n, dtype=np.int16)
    key_index: dict[str, pd.Index] = {}
    for j, label in enumerate(labels):
        idx = data.user_ids if label == USER else data.item_ids if label == VIDEO else ids[label]
        idx = pd.Index([str(x) for x in idx])
        key_index[label] = idx
        keys[offsets[label] : offsets[label] + len(idx)] = idx.to_numpy()
        label_idx[offsets[label] : offsets[label] + len(idx)] = j

    heads: list[np.ndarray] = []
    tails: list[np.ndarray] = []
    rels: list[np.ndarray] = []
    rel_names: list[str] = []

    def rel_id(name: str) -> int:
        if name not in rel_names:
            rel_names.append(name)
        return rel_names.index(name)

    # interactions: one edge per training pair, named after its strongest kind
    inter = np.asarray(data.train_kinds_all, dtype=np.int64).reshape(-1, 3)
    pair_key = inter[:, 0] * max(n_items, 1) + inter[:, 1]
    uniq, first, inv = np.unique(pair_key, return_index=True, return_inverse=True)
    kind_sets: list[list[str]] = [[] for _ in range(len(uniq))]
    for j, kind in zip(inv.tolist(), inter[:, 2].tolist(), strict=True):
        kind_sets[j].append(data.kind_names[kind])
    pu, pi = inter[first, 0], inter[first, 1]
    rating = np.full(len(uniq), np.nan)
    inter_rel = np.empty(len(uniq), np.int64)
    kinds: dict[int, tuple[str, ...]] = {}
    for j, ks in enumerate(kind_sets):
        strongest = sorted({_base_kind(k) for k in ks},
                      key=lambda k: _KIND_ORDER.index(k) if k in _KIND_ORDER else 99)  # fmt: skip
        inter_rel[j] = rel_id(strongest[0])
        kinds[j] = tuple(sorted(set(ks)))
        r = [_rating_of_kind(k) for k in ks if not math.isnan(_rating_of_kind(k))]
        if r:
            rating[j] = max(r)
        elif ratings is not None:
            rating[j] = ratings.get((int(pu[j]), int(pi[j])), math.nan)
    heads.append(pu)
    tails.append(pi + n_users)
    rels.append(inter_rel)
    ratings_all = [rating]

    # the item and user KGs, modality entities left out
    for kg, anchor, base in ((data.item_kg, VIDEO, n_users), (data.user_kg, USER, 0)):
        if not len(kg.heads):
            continue
        emap = _entity_map(kg, anchor, base, offsets)
        h, t = emap[kg.heads], emap[kg.tails]
        keep = (h >= 0) & (t >= 0)
        rmap = np.array([rel_id(r) for r in kg.relation_names], dtype=np.int64)
        heads.append(h[keep])
        tails.append(t[keep])
        rels.append(rmap[kg.relations[keep]])
        ratings_all.append(np.full(int(keep.sum()), np.nan))

    # multimodal similarity between videos
    for label in sorted(data.item_features):
        a, b = _knn(data.item_features[label], sim_k)
        if len(a):
            heads.append(a + n_users)
            tails.append(b + n_users)
            rels.append(np.full(len(a), rel_id(f"SIMILAR_{label.upper()}"), np.int64))
            ratings_all.append(np.full(len(a), np.nan))

    head, tail = np.concatenate(heads), np.concatenate(tails)
    g = PathGraph(
        n_users=n_users, n_items=n_items, labels=labels, offsets=offsets, keys=keys,
        label_idx=label_idx, head=head, tail=tail, rel=np.concatenate(rels),
        rel_names=rel_names, rating=np.concatenate(ratings_all), kinds=kinds,
        _key_index=key_index,
    )  # fmt: skip
    m = len(head)
    src = np.concatenate([head, tail])
    dst = np.concatenate([tail, head])
    half = np.concatenate([2 * np.arange(m), 2 * np.arange(m) + 1])
    order = np.argsort(src, kind="stable")
    g.indptr = np.r_[0, np.cumsum(np.bincount(src, minlength=n))].astype(np.int64)
    g.nbr, g.half = dst[order], half[order]
    g.set_weights(g.uniform_weights())
    return g


# --------------------------------------------------------------------------------------------
# Edge weights from a model
# --------------------------------------------------------------------------------------------


def _encoder_weights(
    g: PathGraph, encoder: Any, emap: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Attention of one encoder mapped onto ``g``'s half-edges: (weights, present mask).

    ``encoder.edges`` ``[3, E]`` and ``encoder.att`` ``[E]`` are read defensively: a model
    without them (or with an attention of the wrong size) gives None.
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


def model_encoders(model: Any, data: RecData, g: PathGraph) -> list[tuple[Any, np.ndarray]]:
    """The attentive encoders of a model, each with the map from its entity ids to ``g``'s
    node ids (-1 for entities outside ``g``): MMKGAT's ``enc_u`` and ``enc_i``, KGAT's
    ``encoder``; empty for other models. Attributes are read defensively (``getattr``)."""
    n_users, n_items = data.n_users, data.n_items
    out: list[tuple[Any, np.ndarray]] = []
    enc_u, enc_i = getattr(model, "enc_u", None), getattr(model, "enc_i", None)
    if enc_u is not None and enc_i is not None:  # mmkgat: G_u (users, user KG, items), G_i
        ukg, ikg = data.user_kg, data.item_kg
        out.append((enc_u, np.r_[_entity_map(ukg, USER, 0, g.offsets),
                                 n_users + np.arange(n_items)]))  # fmt: skip
        out.append((enc_i, np.r_[_entity_map(ikg, VIDEO, n_users, g.offsets),
                                 np.arange(n_users)]))  # fmt: skip
    elif getattr(model, "encoder", None) is not None:  # kgat: items, item-KG, then users
        ikg = data.item_kg
        emap = np.r_[_entity_map(ikg, VIDEO, n_users, g.offsets), np.arange(n_users)]
        out.append((model.encoder, emap))
    return out


def attention_weights(g: PathGraph, model: Any, data: RecData) -> np.ndarray | None:
    """Per half-edge attention π of a KGAT or MMKGAT model, or None for other models.

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


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


@dataclass
class Walks:
    """Partial walks from one endpoint: ``nodes [P, d+1]``, ``half [P, d]`` (half-edge ids in
    walking direction), ``score [P]``."""

    nodes: np.ndarray
    half: np.ndarray
    score: np.ndarray

    @classmethod
    def start(cls, node: int) -> Walks:
        return cls(np.array([[node]], np.int64), np.zeros((1, 0), np.int64), np.ones(1))

    def __len__(self) -> int:
        return len(self.score)

    def nodes_of(self, j: int) -> np.ndarray:
        """The nodes of walk ``j`` (padding dropped)."""
        row = self.nodes[j]
        return row[row >= 0]

    def half_of(self, j: int) -> np.ndarray:
        """The half-edges of walk ``j`` (padding dropped)."""
        row = self.half[j]
        return row[row >= 0]


def _expand(g: PathGraph, walks: Walks, fanout: int, reverse: bool) -> Walks:
    """One more step from the end of every walk through at most ``fanout`` edges per node.

    ``reverse``: the walks start at the item and will be read backwards, so a step ``a -> b``
    is scored with ``w(b -> a)``.
    """
    if not len(walks):
        return walks
    ends = walks.nodes[:, -1]
    lo = g.indptr[ends]
    cnt = np.minimum(g.indptr[ends + 1] - lo, fanout)
    total = int(cnt.sum())
    if total == 0:
        return Walks(np.zeros((0, walks.nodes.shape[1] + 1), np.int64),
                     np.zeros((0, walks.half.shape[1] + 1), np.int64), np.zeros(0))  # fmt: skip
    rep = np.repeat(np.arange(len(walks)), cnt)
    offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    pos = lo[rep] + offs
    nxt, half = g.nbr[pos], g.half[pos]
    w = g.weight[half ^ 1] if reverse else g.weight[half]
    return Walks(
        np.concatenate([walks.nodes[rep], nxt[:, None]], 1),
        np.concatenate([walks.half[rep], half[:, None]], 1),
        walks.score[rep] * w,
    )


def _empty(length: int) -> Walks:
    return Walks(np.zeros((0, length + 1), np.int64), np.zeros((0, length), np.int64),
                 np.zeros(0))  # fmt: skip


def _order_by_end(end: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Order by end node, then by score, highest first.

    Two stable radix sorts on 16-bit keys (``-log score`` in steps of 0.1%, then the end node)
    where node ids fit 16 bits: several times faster than a lexsort, and this sort is the
    largest cost of a request.
    """
    if end.size == 0 or int(end.max()) >= 1 << 16:
        return np.lexsort((-score, end))
    q = np.clip(-np.log(np.maximum(score, 1e-300)) * 1000.0, 0, 65535).astype(np.uint16)
    by_score = np.argsort(q, kind="stable")
    return by_score[np.argsort(end[by_score].astype(np.uint16), kind="stable")]


def _by_end(walks: Walks, beam: int) -> Walks:
    """The ``beam`` best walks per end node, sorted by end node (then best first)."""
    if not len(walks):
        return walks
    end = walks.nodes[:, -1]
    order = _order_by_end(end, walks.score)
    se = end[order]
    starts = np.flatnonzero(np.r_[True, se[1:] != se[:-1]])
    run = np.diff(np.r_[starts, len(se)])
    rank = np.arange(len(se)) - np.repeat(starts, run)
    keep = order[rank < beam]
    return Walks(walks.nodes[keep], walks.half[keep], walks.score[keep])


def _join(fwd: Walks, bwd: Walks, limit: int | None = None) -> Walks:
    """Paths: a walk of ``fwd`` (sorted by end node, :func:`_by_end`) then a walk of ``bwd``
    reversed, met at their common end node; simple paths only.

    With ``limit``, only the best candidates are materialised (enough for the ``limit`` best
    simple paths; all of them when too few of those turn out simple).
    """
    length = fwd.half.shape[1] + bwd.half.shape[1]
    if not len(fwd) or not len(bwd):
        return _empty(length)
    fe, be = fwd.nodes[:, -1], bwd.nodes[:, -1]
    lo = np.searchsorted(fe, be, "left")
    cnt = np.searchsorted(fe, be, "right") - lo
    total = int(cnt.sum())
    if total == 0:
        return _empty(length)
    bi = np.repeat(np.arange(len(bwd)), cnt)
    fi = np.repeat(lo, cnt) + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    score = fwd.score[fi] * bwd.score[bi]
    if limit is not None and total > 4 * limit:
        best = np.argpartition(-score, 4 * limit - 1)[: 4 * limit]
        found = _materialise(fwd, bwd, fi[best], bi[best], score[best])
        if len(found) >= limit:
            return found
    return _materialise(fwd, bwd, fi, bi, score)


def _materialise(
    fwd: Walks, bwd: Walks, fi: np.ndarray, bi: np.ndarray, score: np.ndarray
) -> Walks:
    """The joined paths of forward walks ``fi`` and backward walks ``bi``, simple ones only."""
    length = fwd.half.shape[1] + bwd.half.shape[1]
    bn = bwd.nodes[bi][:, ::-1][:, 1:]  # the item's walk reversed, meeting node dropped
    nodes = np.concatenate([fwd.nodes[fi], bn], 1)
    simple = np.ones(len(fi), bool)
    for a in range(length + 1):
        for c in range(a + 1, length + 1):
            simple &= nodes[:, a] != nodes[:, c]
    half = np.concatenate([fwd.half[fi[simple]], (bwd.half[bi[simple]] ^ 1)[:, ::-1]], 1)
    return Walks(nodes[simple], half, score[simple])


@dataclass
class PathSearch:
    """Paths from one user to any item; the walks from the user are computed once.

    Args:
        g: the search graph.
        user: the user's node id.
        max_len: longest path, 1 to 4 (default: 3).
        beam: partial walks kept per meeting node and side (default: 16).
        fanout: edges followed per node, highest weight first (default: 512).
    """

    g: PathGraph
    user: int
    max_len: int = 3
    beam: int = 16
    fanout: int = 512
    _fwd: list[Walks] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.max_len <= MAX_LEN:
            raise ValueError(f"max_len must be 1 to {MAX_LEN}, got {self.max_len}")
        w = Walks.start(self.user)
        self._fwd = [w]
        for _ in range((self.max_len + 1) // 2):
            w = _expand(self.g, w, self.fanout, reverse=False)
            self._fwd.append(_by_end(w, self.beam))

    def _backward(self, item: int, steps: int) -> list[Walks]:
        """Walks of 0..``steps`` steps from the item (two-step ones beamed per end node)."""
        out = [Walks.start(item)]
        for step in range(steps):
            w = _expand(self.g, out[-1], self.fanout, reverse=True)
            out.append(_by_end(w, self.beam) if step else w)
        return out

    def paths(self, item: int, length: int, limit: int | None = None) -> Walks:
        """The paths of exactly ``length`` edges to ``item`` (``item``: a node id); with
        ``limit``, at least the ``limit`` best of them (fewer only when there are fewer)."""
        if not 1 <= length <= self.max_len:
            raise ValueError(f"length must be 1 to {self.max_len}, got {length}")
        a = (length + 1) // 2
        return _join(self._fwd[a], self._backward(item, length - a)[-1], limit)

    def top(self, item: int, n: int = 3) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """The ``n`` best paths to ``item``: (nodes, half-edges, score), best first (ties:
        shorter first)."""
        bwd = self._backward(item, self.max_len // 2)
        found: list[tuple[float, int, np.ndarray, np.ndarray]] = []
        for length in range(1, self.max_len + 1):
            a = (length + 1) // 2
            w = _join(self._fwd[a], bwd[length - a], n)
            if not len(w):
                continue
            idx = np.argpartition(-w.score, n - 1)[:n] if len(w) > n else np.arange(len(w))
            found += [(float(w.score[j]), length, w.nodes[j], w.half[j]) for j in idx]
        found.sort(key=lambda x: (-x[0], x[1]))
        return [(nodes, half, score) for score, _, nodes, half in found[:n]]


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------


@dataclass
class Hop:
    """One step of a path, ``src -> dst`` along the path (``forward``: the graph's relationship
    points the same way)."""

    src: int
    dst: int
    relation: str
    forward: bool
    rating: float
    edge: int


def _stars(r: float) -> str:
    v = f"{r:g}"
    return f"{v} star" if v == "1" else f"{v} stars"


class _Namer:
    """Names nodes in a sentence: a video's year is dropped once it has been mentioned."""

    def __init__(self, g: PathGraph, names: Mapping[str, Mapping[str, str]], user: int) -> None:
        self.g, self.names, self.user = g, names, user
        self.seen: set[int] = set()

    def __call__(self, node: int, subject: bool = False) -> str:
        if node == self.user:
            return "You" if subject else "you"
        label = self.g.label_of(node)
        name = display_name(label, str(self.g.keys[node]), self.names)
        if label == VIDEO and node in self.seen:
            name = _YEAR.sub("", name) or name
        self.seen.add(node)
        return name


def _interaction_phrase(hop: Hop, item: str) -> str:
    verb = _VERBS.get(hop.relation, hop.relation.lower().replace("_", " "))
    if hop.relation == "RATED" and not math.isnan(hop.rating):
        return f"{verb} {item} {_stars(hop.rating)}"
    return f"{verb} {item}"


def describe(g: PathGraph, hops: list[Hop], names: Mapping[str, Mapping[str, str]]) -> str:
    """A plain sentence for a path, e.g. ``You rated Heat (1995) 5 stars; Heat and Ronin (1998)
    share the genre Thriller``."""
    if not hops:
        return ""
    name = _Namer(g, names, hops[0].src)
    is_user = lambda n: g.label_of(n) == USER  # noqa: E731
    is_item = lambda n: g.label_of(n) == VIDEO  # noqa: E731
    clauses: list[str] = []
    k = 0
    while k < len(hops):
        h = hops[k]
        nxt = hops[k + 1] if k + 1 < len(hops) else None
        a, b = h.src, h.dst
        if h.relation.startswith("SIMILAR_"):
            kind = h.relation[len("SIMILAR_") :].lower()
            clauses.append(f"{name(a, True)} and {name(b)} have similar {kind} features")
            k += 1
        elif is_user(a) and is_item(b) or is_item(a) and is_user(b):
            user, item = (a, b) if is_user(a) else (b, a)
            if (
                nxt is not None
                and is_item(a)
                and is_user(b)
                and is_item(nxt.dst)
                and not nxt.relation.startswith("SIMILAR_")
            ):
                # item -> another user -> item: "user 42 rated Heat 4 stars and Ronin 5 stars"
                who = name(b, True)
                first = _interaction_phrase(h, name(a))
                second = _interaction_phrase(nxt, name(nxt.dst))
                if nxt.relation == h.relation and h.relation != "RATED":
                    second = second.split(" ", 1)[1] if " " in second else second
                clauses.append(f"{who} also {first} and {second}")
                k += 2
                continue
            clauses.append(f"{name(user, True)} {_interaction_phrase(h, name(item))}")
            k += 1
        elif nxt is not None and not is_user(b) and not is_item(b) and nxt.src == b:
            # through an attribute: "Heat and Ronin share the genre Thriller"
            noun = _NOUNS.get(g.label_of(b), g.label_of(b).lower())
            left, right = name(a, True), name(nxt.dst)
            clauses.append(f"{left} and {right} share the {noun} {name(b)}")
            k += 2
        else:
            noun = _NOUNS.get(g.label_of(b), g.label_of(b).lower())
            if not is_user(b) and not is_item(b):
                subj = name(a, True)
                verb = "have" if subj == "You" else "has"
                clauses.append(f"{subj} {verb} the {noun} {name(b)}")
            else:
                clauses.append(f"{name(a, True)} is linked to {name(b)} ({h.relation})")
            k += 1
    text = "; ".join(clauses)
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------
# Explanations of a trained model
# --------------------------------------------------------------------------------------------


class Explainer:
    """Top-N scored paths with sentences for (user, item) pairs of one trained model.

    Args:
        g: the search graph with the model's weights (:func:`build_path_graph` then
            :meth:`PathGraph.set_weights`).
        names: display names (:func:`load_names`); ids are shown where a name is missing.
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


def model_vectors(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """User and item vectors whose inner products are the model's scores.

    Known models are read directly (``propagate`` of the graph models, the embedding tables of
    BPR-MF, the counts of popularity); any other model falls back to its full score matrix
    against the identity (exact, ``[n_users, n_items]``).

    Shapes: ``([n_users, D], [n_items, D])``, float32.
    """
    n_users, n_items = int(model.n_users), int(model.n_items)
    with torch.no_grad():
        model.eval()
        name = getattr(model, "name", "")
        if name == "pop" and hasattr(model, "counts"):
            u = torch.ones(n_users, 1)
            v = model.counts.detach().float().reshape(-1, 1)
        elif name == "bprmf" and hasattr(model, "user") and hasattr(model, "item"):
            u, v = model.user.weight, model.item.weight
        elif name == "lightgcn" and hasattr(model, "scoring_vectors"):
            out = model.scoring_vectors()
            u, v = out[:n_users], out[n_users:]
        elif name == "kgat" and hasattr(model, "propagate") and hasattr(model, "user_offset"):
            out = model.propagate()
            u, v = out[model.user_offset : model.user_offset + n_users], out[:n_items]
        elif name == "mmkgat" and hasattr(model, "scoring_vectors"):
            u, v = model.scoring_vectors()
        else:
            model.prepare_scoring()
            u = model.score_all(torch.arange(n_users))
            v = torch.eye(n_items)
    return (
        np.ascontiguousarray(u.detach().cpu().float().numpy()),
        np.ascontiguousarray(v.detach().cpu().float().numpy()),
    )


def model_weights(
    g: PathGraph, model: Any, data: RecData, vectors: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, str]:
    """Half-edge weights for ``model`` and how they were made (``"attention"``,
    ``"embedding"`` or ``"uniform"``)."""
    att = attention_weights(g, model, data)
    if att is not None:
        return att, "attention"
    if getattr(model, "name", "") not in EMBEDDING_MODELS:
        return g.uniform_weights(), "uniform"
    u, v = vectors if vectors is not None else model_vectors(model)
    if u.shape[1] < 2:
        return g.uniform_weights(), "uniform"
    return embedding_weights(g, u, v), "embedding"
