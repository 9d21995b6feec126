"""Training exports: contiguous integer ids, edge lists per relationship type, feature matrices.

No model code here: plain numpy/pandas that ``recommend`` and ``embed`` turn into tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

EdgeKey = tuple[str, str, str]  # (src_label, type, dst_label)


@dataclass
class GraphExport:
    """A graph as arrays.

    Attributes:
        ids: per label, the node keys; position ``i`` is the contiguous id ``i`` of that label.
        edges: per ``(src_label, type, dst_label)``, a frame with int64 ``src`` and ``dst``
            (contiguous ids of their labels) and one column per relationship property.
        features: per label holding ``vector`` properties, a float32 matrix ``[len(ids), dim]``.
    """

    ids: dict[str, pd.Index] = field(default_factory=dict)
    edges: dict[EdgeKey, pd.DataFrame] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def num_nodes(self, label: str) -> int:
        return len(self.ids.get(label, ()))

    def edge_index(self, key: EdgeKey) -> np.ndarray:
        """``[2, E]`` int64 array of one relationship type."""
        f = self.edges[key]
        return np.stack([f["src"].to_numpy(np.int64), f["dst"].to_numpy(np.int64)])

    def types(self) -> list[EdgeKey]:
        return sorted(self.edges)

    def summary(self) -> dict[str, object]:
        return {
            "nodes": {k: len(v) for k, v in sorted(self.ids.items())},
            "edges": {"-".join(k): len(v) for k, v in sorted(self.edges.items())},
            "features": {k: list(v.shape) for k, v in sorted(self.features.items())},
        }


def id_array(values: list[Any]) -> np.ndarray:
    """Node ids as the backend returned them: int64 for internal integer ids (FalkorDB), else an
    object array of strings (Neo4j exports name nodes by their key)."""
    if not values or isinstance(values[0], int | np.integer):
        return np.fromiter(values, dtype=np.int64, count=len(values))
    return np.asarray([str(v) for v in values], dtype=object)


def remap(internal: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Map backend node ids to contiguous positions.

    Args:
        internal: ids to translate, shape ``[E]``: integers or strings, as ``order``.
        order: ids of a label's nodes, position = contiguous id, shape ``[N]``; unique.
    """
    if len(internal) == 0:
        return np.zeros(0, dtype=np.int64)
    if order.dtype.kind not in "iu" or internal.dtype.kind not in "iu":
        index = pd.Index(order)
        if not index.is_unique:
            raise ValueError("node ids repeat among the exported nodes of a label")
        found = index.get_indexer(internal)
        if bool((found < 0).any()):
            raise ValueError("edge endpoint not among the exported nodes of its label")
        return found.astype(np.int64)
    sorter = np.argsort(order, kind="stable")
    pos = np.searchsorted(order, internal, sorter=sorter)
    pos = np.clip(pos, 0, len(order) - 1)
    found = order[sorter[pos]] == internal
    if not bool(np.all(found)):
        raise ValueError("edge endpoint not among the exported nodes of its label")
    return sorter[pos].astype(np.int64)
