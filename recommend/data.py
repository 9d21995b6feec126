"""Training data built from a :class:`kg_store.GraphExport` (filled in by the data module)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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
