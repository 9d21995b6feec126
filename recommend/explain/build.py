"""The search graph of a run, built from its training data only (training interactions, the item
KG, the user KG, and item–item multimodal similarity), never from validation or test pairs.

Modality nodes (Visual/Acoustic/Textual hold one video's features each, so no path runs through
them) are replaced by ``SIMILAR_<MODALITY>`` edges joining each video to its ``sim_k`` nearest
videos by cosine similarity of the features. A pair with several interaction kinds (CLICKED,
FINISHED, LIKED) is one edge named after its strongest kind.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from kg_store.export import GraphExport
from kgrec.schema import MODALITIES, USER, VIDEO
from recommend.data import RecData
from recommend.explain.graph import PathGraph, entity_map

# strongest first: the kind a multi-kind interaction edge is named after
_KIND_ORDER = ("SHARED", "LIKED", "COMMENTED", "FOLLOWED", "FINISHED", "RATED", "CLICKED",
               "INTERACTED")  # fmt: skip
_RATED_KIND = re.compile(r"^(\w+?)_(\d+(?:\.\d+)?)$")


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
        emap = entity_map(kg, anchor, base, offsets)
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


def training_ratings(
    export: GraphExport, train: np.ndarray, n_items: int
) -> dict[tuple[int, int], float]:
    """``(user, item) -> rating`` of the training pairs whose interaction has a ``rating``
    (``RATED``, or a spec's weighted kind); the highest of a pair's ratings."""
    out: dict[tuple[int, int], float] = {}
    tkey = train[:, 0] * max(n_items, 1) + train[:, 1]
    for (src_label, _, dst_label), frame in export.edges.items():
        if (src_label, dst_label) != (USER, VIDEO) or "rating" not in frame.columns:
            continue
        src, dst = frame["src"].to_numpy(np.int64), frame["dst"].to_numpy(np.int64)
        keep = np.isin(src * max(n_items, 1) + dst, tkey)
        r = pd.to_numeric(frame["rating"], errors="coerce").to_numpy(np.float64)
        for u, i, v in zip(src[keep], dst[keep], r[keep], strict=True):
            if np.isfinite(v) and v > out.get((int(u), int(i)), -np.inf):
                out[(int(u), int(i))] = float(v)
    return out
