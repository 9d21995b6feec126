"""Splits and the training set built from a graph export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_store.export import GraphExport
from recommend.data import build_recdata, load_export, save_export
from recommend.split import Split, make_split, split_random


def _keys(p: np.ndarray) -> set[tuple[int, int]]:
    return {(int(u), int(i)) for u, i in p}


def _pairs(counts: list[int], n_items: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = [np.stack([np.full(c, u), rng.choice(n_items, c, replace=False)], 1)
           for u, c in enumerate(counts)]  # fmt: skip
    return np.concatenate(out).astype(np.int64)


def test_split_random_disjoint_complete_and_per_user_ratios() -> None:
    counts = [10, 20, 1, 2, 5, 37]
    pairs = _pairs(counts)
    s = split_random(pairs, seed=3)
    tr, va, te = _keys(s.train), _keys(s.valid), _keys(s.test)
    assert not (tr & va or tr & te or va & te)
    assert tr | va | te == _keys(pairs)
    per_user = {
        u: (sum(p[0] == u for p in tr), sum(p[0] == u for p in va), sum(p[0] == u for p in te))
        for u in range(len(counts))
    }
    # round half up per user, and every user keeps a training pair
    assert per_user == {0: (8, 1, 1), 1: (16, 2, 2), 2: (1, 0, 0), 3: (2, 0, 0),
                        4: (3, 1, 1), 5: (29, 4, 4)}  # fmt: skip


def test_split_random_is_deterministic_per_seed() -> None:
    pairs = _pairs([30] * 20)
    a, b, c = split_random(pairs, 7), split_random(pairs[::-1], 7), split_random(pairs, 8)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.valid, b.valid)
    assert not np.array_equal(a.test, c.test)


def _export(with_split: bool = False) -> GraphExport:
    """3 users, 4 videos, 2 genres, 1 person, 4 visual nodes (3 linked), 1 occupation."""
    e = GraphExport()
    e.ids = {
        "User": pd.Index(["u0", "u1", "u2"]),
        "Video": pd.Index(["v0", "v1", "v2", "v3"]),
        "Genre": pd.Index(["g0", "g1"]),
        "Person": pd.Index(["p0"]),
        "Visual": pd.Index(["v0", "v1", "v2", "v3"]),
        "Occupation": pd.Index(["o0"]),
    }
    e.features = {"Visual": np.arange(12, dtype=np.float32).reshape(4, 3)}
    rated = pd.DataFrame({"src": [0, 0, 0, 1, 1, 2], "dst": [0, 1, 2, 0, 3, 1],
                          "rating": [5.0, 3.0, 4.0, 1.0, 2.0, 5.0]})  # fmt: skip
    liked = pd.DataFrame({"src": [0, 1], "dst": [0, 3]})
    if with_split:
        rated["split"] = ["train", "train", "test", "train", "train", "train"]
        liked["split"] = ["train", "test"]  # (1, 3) is train as RATED but test as LIKED
    e.edges = {
        ("User", "RATED", "Video"): rated,
        ("User", "LIKED", "Video"): liked,
        ("Video", "HAS_GENRE", "Genre"): pd.DataFrame({"src": [0, 1, 1, 3], "dst": [0, 0, 1, 1]}),
        ("Video", "CREATED_BY", "Person"): pd.DataFrame({"src": [2], "dst": [0]}),
        ("Video", "HAS_VISUAL", "Visual"): pd.DataFrame({"src": [0, 1, 3], "dst": [0, 1, 3]}),
        ("User", "HAS_OCCUPATION", "Occupation"): pd.DataFrame({"src": [0, 1, 2], "dst": [0] * 3}),
    }
    return e


def test_build_recdata_entities_relations_features() -> None:
    e = _export()
    split = Split(train=np.array([[0, 0], [0, 1], [1, 0], [1, 3], [2, 1]]),
                  valid=np.zeros((0, 2), np.int64), test=np.array([[0, 2]]))  # fmt: skip
    d = build_recdata(e, split)
    assert (d.n_users, d.n_items) == (3, 4)
    assert d.kind_names == ["LIKED", "RATED"]
    # items first, then Genre, Person, Visual in sorted order: 4 + 2 + 1 + 4
    kg = d.item_kg
    assert kg.n_entities == 11
    assert kg.offsets == {"Video": 0, "Genre": 4, "Person": 6, "Visual": 7}
    assert kg.relation_names == ["CREATED_BY", "HAS_GENRE", "HAS_VISUAL"]
    assert len(kg.heads) == 4 + 1 + 3
    triples = set(zip(kg.heads.tolist(), kg.relations.tolist(), kg.tails.tolist(), strict=True))
    assert (2, 0, 6) in triples and (3, 1, 5) in triples and (3, 2, 10) in triples
    ids, feats = kg.entity_features["Visual"]
    assert ids.tolist() == [7, 8, 9, 10] and feats.shape == (4, 3)
    vis = d.item_features["Visual"]
    assert vis.shape == (4, 3)
    assert vis[3].tolist() == [9.0, 10.0, 11.0] and vis[2].tolist() == [0.0, 0.0, 0.0]
    # users first, then Occupation
    assert d.user_kg.n_entities == 4 and d.user_kg.offsets == {"User": 0, "Occupation": 3}
    assert d.user_kg.tails.tolist() == [3, 3, 3]
    # kinds: (0, 0) and (1, 3) are RATED and LIKED; train_kind is the first (LIKED = 0)
    assert d.train.tolist() == [[0, 0], [0, 1], [1, 0], [1, 3], [2, 1]]
    assert d.train_kind.tolist() == [0, 1, 1, 0, 1]
    assert len(d.train_kinds_all) == 7
    # the test pair (0, 2) is nowhere in the training tensors
    assert (0, 2) not in _keys(d.train_kinds_all[:, :2]) and d.test.tolist() == [[0, 2]]
    r = build_recdata(e, split, rating_kinds=True)
    # kinds come from every interaction (the relation set does not depend on the split)
    assert r.kind_names == ["LIKED", "RATED_1", "RATED_2", "RATED_3", "RATED_4", "RATED_5"]


def test_given_split_latest_wins_and_valid_is_carved_from_train() -> None:
    e = _export(with_split=True)
    s = make_split(e, seed=0)
    assert s.source == "given+valid"
    assert _keys(s.test) == {(0, 2), (1, 3)}  # LIKED test beats RATED train
    assert _keys(s.train) | _keys(s.valid) == {(0, 0), (0, 1), (1, 0), (2, 1)}
    d = build_recdata(e, s)
    held_out = _keys(s.test) | _keys(s.valid)
    assert not held_out & _keys(d.train_kinds_all[:, :2])
    assert not held_out & _keys(d.train)
    # interactions are never KG triples: KG relations are item/user attribute relations only
    assert "LIKED" not in d.item_kg.relation_names + d.user_kg.relation_names
    assert "RATED" not in d.item_kg.relation_names + d.user_kg.relation_names


def test_random_split_on_export_and_no_leak() -> None:
    e = _export()
    pairs = _pairs([40] * 10, n_items=50)
    e.ids["User"] = pd.Index([f"u{i}" for i in range(10)])
    e.ids["Video"] = pd.Index([f"v{i}" for i in range(50)])
    e.edges[("User", "RATED", "Video")] = pd.DataFrame({"src": pairs[:, 0], "dst": pairs[:, 1]})
    e.edges[("User", "LIKED", "Video")] = pd.DataFrame({"src": pairs[::3, 0], "dst": pairs[::3, 1]})
    del e.edges[("User", "HAS_OCCUPATION", "Occupation")]
    s1, s2 = make_split(e, seed=5), make_split(e, seed=5)
    assert s1.source == "random" and np.array_equal(s1.test, s2.test)
    assert s1.sizes() == {"train": 320, "valid": 40, "test": 40}
    d = build_recdata(e, s1)
    held_out = _keys(s1.test) | _keys(s1.valid)
    assert not held_out & _keys(d.train) and not held_out & _keys(d.train_kinds_all[:, :2])
    assert len(d.train_kinds_all) == 320 + len(_keys(pairs[::3]) & _keys(s1.train))


def test_split_save_load_and_key_check(tmp_path: Path) -> None:
    e = _export(with_split=True)
    s = make_split(e, seed=1)
    s.save(tmp_path / "split.npz")
    t = Split.load(tmp_path / "split.npz")
    assert (t.source, t.seed) == (s.source, s.seed)
    for a, b in ((s.train, t.train), (s.valid, t.valid), (s.test, t.test)):
        assert np.array_equal(a, b)
    build_recdata(e, t)
    e.ids["Video"] = pd.Index(["v0", "v1", "v2", "vX"])
    with pytest.raises(ValueError, match="different graph"):
        build_recdata(e, t)


def test_export_cache_round_trip(tmp_path: Path) -> None:
    e = _export(with_split=True)
    e.edges[("User", "LIKED", "Video")]["split"] = ["train", None]
    save_export(e, tmp_path / "export")
    f = load_export(tmp_path / "export")
    assert f.summary() == e.summary()
    for key, frame in e.edges.items():
        pd.testing.assert_frame_equal(f.edges[key], frame, check_dtype=False)
    assert np.array_equal(f.features["Visual"], e.features["Visual"])
    assert list(f.ids["Video"]) == ["v0", "v1", "v2", "v3"]
