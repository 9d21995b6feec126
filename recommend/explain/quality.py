"""Path-quality measures of explanations, as the literature defines them.

LIR, SEP and ETD follow Balloccu, Boratto, Fenu and Marras, "Post Processing Recommender Systems
with Knowledge Graphs for Recency, Popularity, and Diversity of Explanations" (SIGIR 2022):

* **LIR**, linking-interaction recency: a user's training interactions sorted by time, their
  timestamps min-max normalised per user, smoothed by an exponentially weighted moving average
  (``lir_1 = t_1``, ``lir_j = (1 - beta) lir_{j-1} + beta t_j``, ``beta = 0.3``); a path's LIR
  is that of its linking interaction (the user's own interaction it starts with; 0 for a path
  that starts at a demographic entity: no interaction of the user's links it).
* **SEP**, shared-entity popularity: per entity type, entities sorted by degree, the degree
  min-max normalised within the type and smoothed the same way (``beta = 0.3``); a path's SEP is
  that of its shared entity, the node just before the recommended item.
* **ETD**, explanation-type diversity: distinct explanation types among a user's top
  explanations over ``min(k, number of possible types)``; a type is the path's sequence of node
  labels and relationship types, the possible ones those the graph's schema allows
  (:func:`possible_types`).

Also here: which reasons go only through demographic entities (:func:`demographic_only`) and
the interactions a reason cites (:func:`cited_interactions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from kgrec.schema import USER, VIDEO
from recommend.explain.graph import PathGraph

BETA = 0.3
"""Smoothing of the moving averages of LIR and SEP (Balloccu et al. use 0.3)."""


def ewma(values: np.ndarray, beta: float = BETA) -> np.ndarray:
    """The exponentially weighted moving average of ``values`` in order, ``[n]``."""
    out = np.empty(len(values))
    acc = 0.0
    for j, v in enumerate(np.asarray(values, dtype=np.float64)):
        acc = v if j == 0 else (1 - beta) * acc + beta * v
        out[j] = acc
    return out


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(x)), float(np.max(x))
    return np.zeros(len(x)) if hi <= lo else (x - lo) / (hi - lo)


def lir_table(
    users: np.ndarray, items: np.ndarray, ts: np.ndarray, beta: float = BETA
) -> dict[tuple[int, int], float]:
    """``(user, item) -> LIR`` of every interaction with a timestamp (contiguous ids)."""
    out: dict[tuple[int, int], float] = {}
    order = np.lexsort((ts, users))
    u, i, t = users[order], items[order], np.asarray(ts, dtype=np.float64)[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if len(u) else np.zeros(0, int)
    for a, b in zip(starts, np.r_[starts[1:], len(u)], strict=True):
        values = ewma(_minmax(t[a:b]), beta)
        out.update({(int(u[a]), int(x)): float(v) for x, v in zip(i[a:b], values, strict=True)})
    return out


def sep_table(g: PathGraph, beta: float = BETA) -> np.ndarray:
    """The SEP of every node of ``g``, per label (module docstring), ``[N]``."""
    deg = g.degree().astype(np.float64)
    out = np.zeros(g.n_nodes)
    for j in range(len(g.labels)):
        nodes = np.flatnonzero(g.label_idx == j)
        if not len(nodes):
            continue
        order = nodes[np.argsort(deg[nodes], kind="stable")]
        out[order] = ewma(_minmax(deg[order]), beta)
    return out


def path_type(reason: Mapping[str, object]) -> tuple[str, ...]:
    """An explanation's type: its node labels and relationship types, in path order."""
    labels = [str(n["label"]) for n in reason["path"]]  # type: ignore[attr-defined]
    rels = [str(r) for r in reason["relations"]]  # type: ignore[attr-defined]
    out = [labels[0]]
    for rel, lab in zip(rels, labels[1:], strict=True):
        out += [rel, lab]
    return tuple(out)


def possible_types(g: PathGraph, max_len: int) -> set[tuple[str, ...]]:
    """Every explanation type the graph's schema allows: label and relationship sequences from
    a user to a video of 1..``max_len`` relationships, walked on ``g``'s (label, type, label)
    triples in either direction."""
    head_l = g.label_idx[g.head]
    tail_l = g.label_idx[g.tail]
    triples = set(zip(head_l.tolist(), g.rel.tolist(), tail_l.tolist(), strict=True))
    step: dict[str, set[tuple[str, str]]] = {}
    for h, r, t in triples:
        a, rel, b = g.labels[h], g.rel_names[r], g.labels[t]
        step.setdefault(a, set()).add((rel, b))
        step.setdefault(b, set()).add((rel, a))
    out: set[tuple[str, ...]] = set()
    frontier: list[tuple[str, ...]] = [(USER,)]
    for _ in range(max_len):
        frontier = [seq + (rel, b) for seq in frontier for rel, b in step.get(seq[-1], ())]
        out |= {seq for seq in frontier if seq[-1] == VIDEO}
    return out


def etd(types: Sequence[tuple[str, ...]], k: int, n_types: int) -> float:
    """Distinct types among one user's top explanations over ``min(k, n_types)``."""
    if not types or n_types <= 0:
        return 0.0
    return len(set(types)) / min(k, n_types)


def demographic_only(labels: Sequence[str], user_side: Iterable[str]) -> bool:
    """Whether a path (its node labels, user first) goes only through demographic entities:
    its inner nodes hold a user-side attribute (``user_side``: Gender, Occupation, ...) and no
    video or item-side entity, as in "you and user 153 share the gender M; user 153 liked X"."""
    inner = list(labels[1:-1])
    side = set(user_side)
    return any(lab in side for lab in inner) and all(lab == USER or lab in side for lab in inner)


def cited_interactions(g: PathGraph, nodes: Sequence[int]) -> list[tuple[int, int]]:
    """The (user node, video node) interactions a path cites, in path order."""
    out = []
    for a, b in zip(list(nodes)[:-1], list(nodes)[1:], strict=True):
        la, lb = g.label_of(a), g.label_of(b)
        if {la, lb} == {USER, VIDEO}:
            out.append((a, b) if la == USER else (b, a))
    return out
