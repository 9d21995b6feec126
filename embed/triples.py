"""Knowledge-graph triples over one entity space, built from a :class:`GraphExport`.

Every node of every label that a chosen relationship type touches is an entity; entity ids are
contiguous, label by label in sorted order (``offsets[label]`` is the first id of a label, and
the node with key ``keys[label][i]`` is entity ``offsets[label] + i``). A relation is a
relationship type: a type joining several label pairs is one relation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kg_store.export import GraphExport


@dataclass
class TripleSet:
    """Integer triples ``(head, relation, tail)`` and the names behind the ids.

    Attributes:
        triples: int64 ``[N, 3]``.
        relation_names: relation id -> relationship type.
        keys: per label, the node keys; position ``i`` is entity ``offsets[label] + i``.
        offsets: per label, its first entity id (labels in sorted order).
    """

    triples: np.ndarray
    relation_names: list[str]
    keys: dict[str, pd.Index] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)

    @property
    def n_entities(self) -> int:
        return sum(len(k) for k in self.keys.values())

    @property
    def n_relations(self) -> int:
        return len(self.relation_names)

    def __len__(self) -> int:
        return len(self.triples)

    def entity_labels(self) -> np.ndarray:
        """Label of every entity id, ``[n_entities]`` (object array)."""
        out = np.empty(self.n_entities, dtype=object)
        for label, keys in self.keys.items():
            out[self.offsets[label] : self.offsets[label] + len(keys)] = label
        return out

    def entity_ids(self, label: str, keys: Iterable[str]) -> np.ndarray:
        """Entity ids of nodes of ``label`` by key; raises naming the first unknown key."""
        index = self.keys.get(label)
        if index is None:
            raise KeyError(f"no entities of label {label!r}; labels: {sorted(self.keys)}")
        keys = list(keys)
        pos = index.get_indexer(pd.Index(keys))
        if bool((pos < 0).any()):
            missing = keys[int(np.flatnonzero(pos < 0)[0])]
            raise KeyError(f"no :{label} entity with id {missing!r}")
        return pos.astype(np.int64) + self.offsets[label]

    def summary(self) -> dict[str, object]:
        return {
            "triples": len(self),
            "entities": self.n_entities,
            "relations": self.n_relations,
            "labels": {k: len(v) for k, v in self.keys.items()},
        }

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """``triples.npz`` (the array) and ``entities.json`` (names) in folder ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / "triples.npz", triples=self.triples)
        names = {
            "relations": self.relation_names,
            "labels": {k: [str(x) for x in v] for k, v in self.keys.items()},
        }
        (path / "entities.json").write_text(json.dumps(names))

    @classmethod
    def load(cls, path: str | Path) -> TripleSet:
        path = Path(path)
        with np.load(path / "triples.npz") as z:
            triples = z["triples"].astype(np.int64)
        names = json.loads((path / "entities.json").read_text())
        keys = {k: pd.Index(v, name=k) for k, v in names["labels"].items()}
        return cls(triples, list(names["relations"]), keys, _offsets(keys))


def _offsets(keys: dict[str, pd.Index]) -> dict[str, int]:
    out, n = {}, 0
    for label in keys:
        out[label] = n
        n += len(keys[label])
    return out


def from_export(export: GraphExport, relations: Iterable[str] | None = None) -> TripleSet:
    """The triples of ``export``, only of relationship types in ``relations`` (None: all).

    Raises:
        ValueError: a type in ``relations`` is not in the export (the message lists those that
            are), or nothing is left to train on.
    """
    present = sorted({k[1] for k in export.edges})
    chosen = present if relations is None else sorted(set(relations))
    unknown = [r for r in chosen if r not in present]
    if unknown:
        have = ", ".join(present) or "none"
        raise ValueError(f"relationship type(s) {unknown} not in the graph; it has {have}")
    edge_keys = [k for k in export.types() if k[1] in chosen]
    labels = sorted({lab for k in edge_keys for lab in (k[0], k[2])})
    keys = {lab: export.ids[lab] for lab in labels}
    offsets = _offsets(keys)
    rel_of = {r: i for i, r in enumerate(chosen)}
    parts = []
    for src, rel, dst in edge_keys:
        f = export.edges[(src, rel, dst)]
        h = f["src"].to_numpy(np.int64) + offsets[src]
        t = f["dst"].to_numpy(np.int64) + offsets[dst]
        parts.append(np.stack([h, np.full(len(h), rel_of[rel], np.int64), t], axis=1))
    triples = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
    if not len(triples):
        raise ValueError("no triples to train on: the graph has no relationships of those types")
    # one triple per (h, r, t): a relationship type may repeat between the same two nodes
    triples = np.unique(triples, axis=0)
    return TripleSet(triples, chosen, keys, offsets)


def from_labeled(triples: np.ndarray, entity_names: list[str], relation_names: list[str],
                 label: str = "Entity") -> TripleSet:  # fmt: skip
    """Triples over one label (benchmark datasets such as Nations)."""
    keys = {label: pd.Index([str(e) for e in entity_names], name=label)}
    return TripleSet(np.asarray(triples, np.int64), list(relation_names), keys, {label: 0})


def split_triples(
    triples: np.ndarray, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random train / validation / test triples; held-out triples whose head, tail or relation
    would not occur in training move to training, so every evaluated id has an embedding that
    was trained.

    Returns:
        three int64 ``[*, 3]`` arrays.
    """
    if not np.isclose(sum(ratios), 1.0) or min(ratios) < 0:
        raise ValueError(f"split ratios {ratios} must be non-negative and sum to 1")
    n = len(triples)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_train = int(round(ratios[0] * n))
    n_valid = int(round(ratios[1] * n))
    part = np.full(n, 2, np.int8)
    part[order[:n_train]] = 0
    part[order[n_train : n_train + n_valid]] = 1
    n_ent = int(triples[:, [0, 2]].max()) + 1 if n else 0
    n_rel = int(triples[:, 1].max()) + 1 if n else 0
    train = part == 0
    ent_seen = np.bincount(triples[train][:, [0, 2]].ravel(), minlength=n_ent) > 0
    rel_seen = np.bincount(triples[train][:, 1], minlength=n_rel) > 0
    unseen = ~(ent_seen[triples[:, 0]] & ent_seen[triples[:, 2]] & rel_seen[triples[:, 1]])
    part[unseen] = 0  # one pass suffices: moving triples to train only adds seen ids
    return triples[part == 0], triples[part == 1], triples[part == 2]
