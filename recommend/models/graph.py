"""Collaborative-KG assembly: triples of several parts over one entity space, with the
inverse relations propagation needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

Triples = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(heads, relations, tails), int64 ``[T]`` each."""


@dataclass
class CollabGraph:
    """A collaborative knowledge graph over one contiguous entity space.

    Attributes:
        n_entities: number of entities.
        n_relations: number of relations, inverses included.
        triples: int64 ``[3, T]`` (head, relation, tail) without inverses: what TransR trains on.
        edges: int64 ``[3, E]`` (head, relation, tail) with inverses: what propagation uses.
    """

    n_entities: int
    n_relations: int
    triples: Tensor
    edges: Tensor


def collab_graph(parts: list[Triples], n_entities: int, n_relations: int) -> CollabGraph:
    """Stack ``(heads, relations, tails)`` parts and add an inverse relation for each relation.

    The inverse of relation ``r`` is ``r + n_relations``, so a head's neighbourhood holds both
    directions (KGAT, Sec. 2.1: "we consider the inverse direction of each triple").

    Args:
        parts: triples over the joint entity space, relations in ``[0, n_relations)``.
        n_entities: size of the entity space.
        n_relations: number of forward relations.
    """
    h = torch.from_numpy(np.concatenate([p[0] for p in parts]).astype(np.int64))
    r = torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.int64))
    t = torch.from_numpy(np.concatenate([p[2] for p in parts]).astype(np.int64))
    triples = torch.stack([h, r, t])
    edges = torch.stack([torch.cat([h, t]), torch.cat([r, r + n_relations]), torch.cat([t, h])])
    return CollabGraph(n_entities, 2 * n_relations, triples, edges)
