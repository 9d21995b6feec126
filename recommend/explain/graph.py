"""The graph the path search runs on: one id space for every node, CSR rows of half-edges, and a
weight per directed edge.

Nodes live in one id space: users, then videos, then the item-side attribute entities (Genre,
Decade, Tag, Person, ...), then the user-side ones (Occupation, AgeGroup, Gender); see
:func:`~recommend.explain.build.build_path_graph` for what the edges are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from recommend.data import KGTriples


class UnknownEntity(KeyError):
    """An id that the served run does not know (the API answers 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown entity"


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

    def restricted(self, keep: np.ndarray, weight: np.ndarray) -> PathGraph:
        """The same nodes and edges with CSR rows holding only the edges where ``keep``
        (``[M]`` bool) is true, weighted by ``weight`` (``[2M]``) and sorted by it: the graph
        a search runs on (edge ids, and so reasons, stay those of ``self``)."""
        src = np.repeat(np.arange(self.n_nodes), np.diff(self.indptr))
        mask = keep[self.half >> 1]
        counts = np.bincount(src[mask], minlength=self.n_nodes)
        out = replace(self, indptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
                      nbr=self.nbr[mask], half=self.half[mask])  # fmt: skip
        out.set_weights(weight)
        return out

    def uniform_weights(self) -> np.ndarray:
        """``1 / degree(from)`` for every half-edge."""
        frm, _ = self.half_ends(np.arange(2 * self.n_edges))
        return 1.0 / np.maximum(self.degree()[frm], 1)


def entity_map(kg: KGTriples, anchor: str, anchor_base: int, offsets: dict[str, int]) -> np.ndarray:
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
