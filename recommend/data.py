"""Training data built from a :class:`kg_store.GraphExport` and a split.

The split itself is :mod:`recommend.split` (``Split`` and ``make_split`` import from here too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kg_store.export import EdgeKey, GraphExport
from kg_store.graph_data import GraphData
from kgrec.schema import USER, VIDEO
from recommend.split import Split as Split
from recommend.split import interactions, pair_keys, sort_pairs
from recommend.split import make_split as make_split


@dataclass
class KGTriples:
    """One knowledge graph over a contiguous entity space.

    Entities ``[0, n_anchor)`` are the anchors (items for the item-side graph, users for the
    user-side graph); the others are attribute / modality entities, grouped by label
    (``offsets[label]`` is the first id of that label). Triples hold no inverse edges: models
    add the inverses they need.
    """

    n_entities: int
    relation_names: list[str]
    heads: np.ndarray  # int64 [T]
    relations: np.ndarray  # int64 [T]
    tails: np.ndarray  # int64 [T]
    offsets: dict[str, int] = field(default_factory=dict)
    # per modality label: (entity ids [n], feature matrix [n, d]); multimodal entities whose
    # initial embedding is a learned projection of these features
    entity_features: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def n_relations(self) -> int:
        return len(self.relation_names)


@dataclass
class RecData:
    """Everything a model needs; test and validation pairs never enter ``train`` or the KGs.

    Attributes:
        train/valid/test: int64 ``[N, 2]`` (user, item) pairs, unique per split.
        train_kind: int64 ``[N_train]`` index into ``kind_names`` (the fine-grained relation of
            each training interaction: RATED, CLICKED, LIKED, ...). A pair seen with several
            kinds appears once in ``train`` with its first kind; all kinds are in
            ``train_kinds_all``.
        train_kinds_all: int64 ``[M, 3]`` (user, item, kind) for every training interaction
            relationship.
        item_kg: item-side graph, anchors are items.
        user_kg: user-side graph, anchors are users.
        item_features: per modality label, a float32 ``[n_items, d]`` matrix (rows of items
            without that modality are zero).
    """

    n_users: int
    n_items: int
    user_ids: pd.Index
    item_ids: pd.Index
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    kind_names: list[str]
    train_kind: np.ndarray
    train_kinds_all: np.ndarray
    item_kg: KGTriples
    user_kg: KGTriples
    item_features: dict[str, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Knowledge graphs
# --------------------------------------------------------------------------------------------


def _build_kg(export: GraphExport, anchor: str, keys: list[EdgeKey], modal: bool) -> KGTriples:
    """One KG over ``keys``: ``anchor`` nodes first, then the other labels in sorted order.

    Relations are named by relationship type (a type between several label pairs, such as a
    KGAT relation from items and from other entities, is one relation).
    """
    labels = {lab for k in keys for lab in (k[0], k[2])} - {anchor}
    offsets = {anchor: 0}
    n = export.num_nodes(anchor)
    for label in sorted(labels):
        offsets[label] = n
        n += export.num_nodes(label)
    rel_names = sorted({k[1] for k in keys})
    rel_of = {r: i for i, r in enumerate(rel_names)}
    heads, rels, tails = [], [], []
    for k in keys:
        f = export.edges[k]
        heads.append(f["src"].to_numpy(np.int64) + offsets[k[0]])
        tails.append(f["dst"].to_numpy(np.int64) + offsets[k[2]])
        rels.append(np.full(len(f), rel_of[k[1]], np.int64))
    ent_feats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if modal:
        for label in sorted(labels):
            if label in export.features and label != anchor:
                feats = np.asarray(export.features[label], dtype=np.float32)
                ids = offsets[label] + np.arange(len(feats), dtype=np.int64)
                ent_feats[label] = (ids, feats)
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
    return KGTriples(
        n_entities=n, relation_names=rel_names, heads=cat(heads), relations=cat(rels),
        tails=cat(tails), offsets=offsets, entity_features=ent_feats,
    )  # fmt: skip


def build_recdata(export: GraphExport, split: Split, *, rating_kinds: bool = False) -> RecData:
    """Turn a graph export and a split into the tensors the models train on.

    * Interactions: every ``(User)-[type]->(Video)`` relationship; ``type`` is its kind (with
      ``rating_kinds``, ``RATED`` becomes ``RATED_<rating>``). Only pairs in ``split.train``
      reach ``train``, ``train_kind`` and ``train_kinds_all``.
    * Item KG: every relationship with no ``User`` endpoint (``Video -> Genre/Tag/Decade/
      Person/Entity/Visual/...``, KGAT's ``Entity -> Entity``); entities are the items first,
      then the other labels in sorted order. Labels holding feature vectors (the modality
      nodes) become entities with ``entity_features``, and ``item_features[label]`` holds each
      item's vector (zero rows for items without one).
    * User KG: every relationship from ``User`` to a label other than ``Video`` (occupation,
      age group, gender); users first.

    Interactions are never KG triples here: models add the training interactions they
    propagate over themselves, from ``train``/``train_kinds_all``.

    Args:
        export: the exported graph.
        split: from :func:`make_split` / :meth:`Split.load` (checked against the export's keys).
        rating_kinds: one relation per rating value (default: False).
    """
    split.check_keys(export)
    n_users, n_items = export.num_nodes(USER), export.num_nodes(VIDEO)
    for name, pairs in (("train", split.train), ("valid", split.valid), ("test", split.test)):
        if len(pairs) and (pairs[:, 0].max() >= n_users or pairs[:, 1].max() >= n_items):
            raise ValueError(f"split {name}: ids beyond {n_users} users / {n_items} items")
    kind_names, triples, _ = interactions(export, rating_kinds)

    train = sort_pairs(split.train)
    train_keys = pair_keys(train, n_items)
    tk = pair_keys(triples[:, :2], n_items)
    pos = np.searchsorted(train_keys, tk)
    in_train = (pos < len(train_keys)) & (train_keys[np.minimum(pos, len(train_keys) - 1)] == tk)
    if not len(train_keys):
        in_train[:] = False
    kinds_all = triples[in_train]
    kinds_all = kinds_all[np.lexsort((kinds_all[:, 2], kinds_all[:, 1], kinds_all[:, 0]))]
    # first kind of each training pair (kinds_all is sorted by pair, then kind)
    train_kind = np.full(len(train), -1, dtype=np.int64)
    kpos = np.searchsorted(train_keys, pair_keys(kinds_all[:, :2], n_items))
    first = np.r_[True, kpos[1:] != kpos[:-1]] if len(kpos) else np.zeros(0, bool)
    train_kind[kpos[first]] = kinds_all[first, 2]
    if bool((train_kind < 0).any()):
        raise ValueError("split.train holds pairs with no interaction in the export")

    item_keys = [k for k in export.types() if USER not in (k[0], k[2])]
    user_keys = [k for k in export.types() if k[0] == USER and k[2] != VIDEO]
    item_kg = _build_kg(export, VIDEO, item_keys, modal=True)
    user_kg = _build_kg(export, USER, user_keys, modal=False)

    item_features: dict[str, np.ndarray] = {}
    for (src, _, dst), f in export.edges.items():
        if src == VIDEO and dst in item_kg.entity_features:
            feats = export.features[dst]
            mat = item_features.setdefault(dst, np.zeros((n_items, feats.shape[1]), np.float32))
            mat[f["src"].to_numpy(np.int64)] = feats[f["dst"].to_numpy(np.int64)]

    return RecData(
        n_users=n_users,
        n_items=n_items,
        user_ids=export.ids.get(USER, pd.Index([], name=USER)),
        item_ids=export.ids.get(VIDEO, pd.Index([], name=VIDEO)),
        train=train,
        valid=sort_pairs(split.valid),
        test=sort_pairs(split.test),
        kind_names=kind_names,
        train_kind=train_kind,
        train_kinds_all=kinds_all,
        item_kg=item_kg,
        user_kg=user_kg,
        item_features=item_features,
    )


# --------------------------------------------------------------------------------------------
# Export cache (so training and evaluation never need the DB)
# --------------------------------------------------------------------------------------------


def save_export(export: GraphExport, directory: str | Path) -> Path:
    """Write ``export`` under ``directory``: :meth:`GraphExport.save`."""
    return export.save(directory)


def load_export(directory: str | Path) -> GraphExport:
    """Read an export written by :func:`save_export`: :meth:`GraphExport.load`."""
    return GraphExport.load(directory)


def load_recdata(run_dir: str | Path, *, rating_kinds: bool = False) -> RecData:
    """:class:`RecData` of a run from its cached export and its saved split (no DB access)."""
    d = Path(run_dir)
    return build_recdata(
        load_export(d / "export"), Split.load(d / "split.npz"), rating_kinds=rating_kinds
    )


def export_from_graph_data(graph: GraphData) -> GraphExport:
    """The export a store would give after loading ``graph``, built without a store:
    :meth:`GraphExport.from_graph_data`."""
    return GraphExport.from_graph_data(graph)
