"""Splits of an export's interactions into train / validation / test pairs.

:func:`make_split` keeps a split the relationships carry (a ``split`` property) or draws a
seeded random one per user (:func:`split_random`); the :class:`Split` is saved in the run
directory so that evaluation and serving use exactly the pairs training used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kg_store.export import EdgeKey, GraphExport, savez
from kgrec.schema import USER, VIDEO

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


def sort_pairs(pairs: np.ndarray) -> np.ndarray:
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
    pairs = sort_pairs(pairs)
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


def interactions(
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


def pair_keys(pairs: np.ndarray, n_items: int) -> np.ndarray:
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
    _, triples, codes = interactions(export)
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
    pk = pair_keys(triples[:, :2], n_items)
    code = np.maximum(codes, 0)  # not given = train
    order = np.lexsort((code, pk))
    last = np.r_[pk[order][1:] != pk[order][:-1], True]
    sel = order[last]
    pairs, code = triples[sel, :2], code[sel]
    train, valid, test = (sort_pairs(pairs[code == c]) for c in range(3))
    source = "given"
    if len(valid) == 0 and len(train):
        frac = ratios[1] / max(ratios[0] + ratios[1], 1e-12)
        train, valid = _carve_valid(train, seed, frac)
        source = "given+valid"
    return Split(train, valid, test, source=source, seed=seed if source != "given" else None,
                 **keys)  # fmt: skip
