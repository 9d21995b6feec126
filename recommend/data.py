"""Training data built from a :class:`kg_store.GraphExport` (filled in by the data module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kg_store.export import EdgeKey, GraphExport, savez
from kg_store.graph_data import GraphData
from kgrec.schema import USER, VIDEO


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
# Splits
# --------------------------------------------------------------------------------------------

SPLIT_NAMES = ("train", "valid", "test")
_SPLIT_CODE = {name: code for code, name in enumerate(SPLIT_NAMES)}


@dataclass
class Split:
    """Which (user, item) pairs are train, validation and test, in the export's contiguous ids.

    Saved in the run directory (:meth:`save`) so that evaluation and serving use exactly the
    pairs training used. The node keys are saved too, so loading against a different export
    fails instead of silently shifting ids.

    Attributes:
        train/valid/test: int64 ``[N, 2]`` (user, item) pairs, sorted, disjoint.
        source: how the split was made (``"random"``, ``"given"`` or ``"given+valid"``).
        seed: the seed of the random part (``None`` for a fully given split).
        user_keys/item_keys: node keys of the ``User`` / ``Video`` ids (optional).
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    source: str = "random"
    seed: int | None = None
    user_keys: np.ndarray | None = None
    item_keys: np.ndarray | None = None

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "train": self.train,
            "valid": self.valid,
            "test": self.test,
            "source": np.array(self.source),
            "seed": np.array(-1 if self.seed is None else self.seed, dtype=np.int64),
        }
        if self.user_keys is not None:
            arrays["user_keys"] = np.asarray(self.user_keys, dtype=str)
        if self.item_keys is not None:
            arrays["item_keys"] = np.asarray(self.item_keys, dtype=str)
        savez(Path(path), arrays, compress=True)

    @classmethod
    def load(cls, path: str | Path) -> Split:
        with np.load(Path(path), allow_pickle=False) as z:
            seed = int(z["seed"])
            return cls(
                train=z["train"].astype(np.int64).reshape(-1, 2),
                valid=z["valid"].astype(np.int64).reshape(-1, 2),
                test=z["test"].astype(np.int64).reshape(-1, 2),
                source=str(z["source"]),
                seed=None if seed < 0 else seed,
                user_keys=z.get("user_keys"),
                item_keys=z.get("item_keys"),
            )

    def check_keys(self, export: GraphExport) -> None:
        """Raise if the saved node keys differ from ``export``'s (ids would not line up)."""
        for saved, label in ((self.user_keys, USER), (self.item_keys, VIDEO)):
            if saved is None:
                continue
            current = np.asarray(export.ids.get(label, pd.Index([])), dtype=str)
            if len(saved) != len(current) or not np.array_equal(saved, current):
                raise ValueError(
                    f"the split was made on a different graph: {label} ids differ "
                    f"({len(saved)} saved, {len(current)} in the export)"
                )


def _sort_pairs(pairs: np.ndarray) -> np.ndarray:
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def _per_user_rank(users: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random rank of every pair within its user, and that user's pair count.

    Vectorised: one random key per pair, one lexsort by (user, key); no loop over users.

    Returns:
        (rank, count): int64 ``[N]`` each, ``0 <= rank < count``.
    """
    key = rng.random(len(users))
    order = np.lexsort((key, users))
    su = users[order]
    # start of each user's run in the sorted order
    starts = np.flatnonzero(np.r_[True, su[1:] != su[:-1]])
    run_len = np.diff(np.r_[starts, len(su)])
    rank_sorted = np.arange(len(su)) - np.repeat(starts, run_len)
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = rank_sorted
    count = np.empty(len(users), dtype=np.int64)
    count[order] = np.repeat(run_len, run_len)
    return rank, count


def split_random(
    pairs: np.ndarray, seed: int, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> Split:
    """Seeded random split of each user's interactions into train / valid / test.

    Per user with ``n`` pairs: ``round(n * ratios[2])`` test, ``round(n * ratios[1])``
    validation (half up), the rest train; every user keeps at least one training pair
    (a user with one interaction is train only), so no user is cold at test time.

    Args:
        pairs: int64 ``[N, 2]`` unique (user, item) pairs.
        seed: seed of the shuffle (the same seed gives the same split).
        ratios: train, valid, test fractions (default: ``(0.8, 0.1, 0.1)``); normalised.
    """
    pairs = _sort_pairs(pairs)
    r = np.asarray(ratios, dtype=np.float64)
    if r.shape != (3,) or np.any(r < 0) or r.sum() <= 0:
        raise ValueError(f"ratios must be three non-negative fractions, got {ratios}")
    r = r / r.sum()
    rank, count = _per_user_rank(pairs[:, 0], np.random.default_rng(seed))
    n_test = np.floor(count * r[2] + 0.5).astype(np.int64)
    n_valid = np.floor(count * r[1] + 0.5).astype(np.int64)
    # keep one training pair: take the excess from validation first, then from test
    excess = np.maximum(n_test + n_valid - (count - 1), 0)
    cut = np.minimum(excess, n_valid)
    n_valid -= cut
    n_test -= excess - cut
    is_test = rank < n_test
    is_valid = ~is_test & (rank < n_test + n_valid)
    is_train = ~(is_test | is_valid)
    return Split(
        train=pairs[is_train], valid=pairs[is_valid], test=pairs[is_test],
        source="random", seed=seed,
    )  # fmt: skip


def _carve_valid(train: np.ndarray, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Move ``round(n * fraction)`` of each user's training pairs to validation (keeping one)."""
    part = split_random(train, seed, (1.0 - fraction, fraction, 0.0))
    return part.train, part.valid


# --------------------------------------------------------------------------------------------
# Interactions in an export
# --------------------------------------------------------------------------------------------


def interaction_keys(export: GraphExport) -> list[EdgeKey]:
    """Every ``(User, type, Video)`` edge key: each type is one fine-grained interaction kind."""
    return [k for k in export.types() if k[0] == USER and k[2] == VIDEO]


def _interactions(
    export: GraphExport, rating_kinds: bool = False
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """All interaction relationships as ``(user, item, kind)`` plus their split codes.

    Returns:
        (kind_names, triples int64 ``[M, 3]``, split codes int8 ``[M]`` (-1 = not given) or
        ``None`` when no relationship carries a ``split`` property).
    """
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    any_split = False
    for key in interaction_keys(export):
        f = export.edges[key]
        src = f["src"].to_numpy(np.int64)
        dst = f["dst"].to_numpy(np.int64)
        codes = np.full(len(f), -1, dtype=np.int8)
        if "split" in f.columns:
            s = f["split"]
            mapped = s.map(_SPLIT_CODE)
            bad = s.notna() & mapped.isna()
            if bool(bad.any()):
                raise ValueError(
                    f"{'-'.join(key)}: unknown split value {s[bad].iloc[0]!r} "
                    f"(expected one of {', '.join(SPLIT_NAMES)})"
                )
            codes = mapped.fillna(-1).to_numpy().astype(np.int8)
            any_split = any_split or bool((codes >= 0).any())
        if rating_kinds and "rating" in f.columns:
            # one relation per rating value: "RATED_5" says more than "RATED" (paper 000's
            # composite relations); a rating given as 4.0 names the kind RATED_4
            ratings = f["rating"].to_numpy(np.float64)
            labels = np.array(
                [f"{key[1]}_{v:g}" if np.isfinite(v) else key[1] for v in ratings], dtype=object
            )
            for name in sorted(set(labels.tolist())):
                m = labels == name
                parts.append((name, src[m], dst[m], codes[m]))
        else:
            parts.append((key[1], src, dst, codes))
    kind_names = sorted({p[0] for p in parts})
    kind_of = {n: i for i, n in enumerate(kind_names)}
    triples = np.concatenate(
        [np.stack([s, d, np.full(len(s), kind_of[n], np.int64)], 1) for n, s, d, _ in parts]
        or [np.zeros((0, 3), np.int64)]
    )
    codes = np.concatenate([c for *_, c in parts] or [np.zeros(0, np.int8)])
    return kind_names, triples, (codes if any_split else None)


def _pair_keys(pairs: np.ndarray, n_items: int) -> np.ndarray:
    return pairs[:, 0].astype(np.int64) * max(n_items, 1) + pairs[:, 1].astype(np.int64)


def make_split(
    export: GraphExport,
    seed: int = 0,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> Split:
    """The split of an export's interactions.

    * Relationships with a ``split`` property (``train``/``valid``/``test``, e.g. KGAT's
      train/test files or amazon-book's train1/valid1/test): that split is kept. A pair with
      relationships in several splits goes to the latest (test > valid > train), so a test
      pair never leaks into training; a relationship without the property counts as train.
      With no validation pairs given, ``ratios[1] / (ratios[0] + ratios[1])`` of each user's
      training pairs become validation pairs, drawn with ``seed``.
    * Otherwise: :func:`split_random` with ``seed`` and ``ratios`` over the unique pairs.

    Args:
        export: the graph (``User`` -> ``Video`` relationships are the interactions).
        seed: seed of the random part (default: 0).
        ratios: train, valid, test fractions (default: ``(0.8, 0.1, 0.1)``).
    """
    n_items = export.num_nodes(VIDEO)
    _, triples, codes = _interactions(export)
    keys = dict(
        user_keys=np.asarray(export.ids.get(USER, pd.Index([])), dtype=str),
        item_keys=np.asarray(export.ids.get(VIDEO, pd.Index([])), dtype=str),
    )
    if codes is None:
        pairs = np.unique(triples[:, :2], axis=0) if len(triples) else np.zeros((0, 2), np.int64)
        split = split_random(pairs, seed, ratios)
        split.user_keys, split.item_keys = keys["user_keys"], keys["item_keys"]
        return split
    # latest split per pair: sort by (pair key, code) and keep the last row of each pair
    pk = _pair_keys(triples[:, :2], n_items)
    code = np.maximum(codes, 0)  # not given = train
    order = np.lexsort((code, pk))
    last = np.r_[pk[order][1:] != pk[order][:-1], True]
    sel = order[last]
    pairs, code = triples[sel, :2], code[sel]
    train, valid, test = (_sort_pairs(pairs[code == c]) for c in range(3))
    source = "given"
    if len(valid) == 0 and len(train):
        frac = ratios[1] / max(ratios[0] + ratios[1], 1e-12)
        train, valid = _carve_valid(train, seed, frac)
        source = "given+valid"
    return Split(train, valid, test, source=source, seed=seed if source != "given" else None,
                 **keys)  # fmt: skip


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
    kind_names, triples, _ = _interactions(export, rating_kinds)

    train = _sort_pairs(split.train)
    train_keys = _pair_keys(train, n_items)
    tk = _pair_keys(triples[:, :2], n_items)
    pos = np.searchsorted(train_keys, tk)
    in_train = (pos < len(train_keys)) & (train_keys[np.minimum(pos, len(train_keys) - 1)] == tk)
    if not len(train_keys):
        in_train[:] = False
    kinds_all = triples[in_train]
    kinds_all = kinds_all[np.lexsort((kinds_all[:, 2], kinds_all[:, 1], kinds_all[:, 0]))]
    # first kind of each training pair (kinds_all is sorted by pair, then kind)
    train_kind = np.full(len(train), -1, dtype=np.int64)
    kpos = np.searchsorted(train_keys, _pair_keys(kinds_all[:, :2], n_items))
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
        valid=_sort_pairs(split.valid),
        test=_sort_pairs(split.test),
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
