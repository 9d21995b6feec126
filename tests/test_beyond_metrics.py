"""MRR, MAP and the beyond-accuracy measures against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recommend.data import KGTriples
from recommend.metrics import (
    Evaluation,
    Evaluator,
    Gini,
    IntraListDiversity,
    TopLists,
    item_attributes,
    split_evaluator,
    topk_metrics,
)

SQRT2 = math.sqrt(2)


def test_mrr_and_map_by_hand() -> None:
    hits = torch.tensor(
        [[False, True, False, True], [True, False, True, False], [False, False, False, False]]
    )
    out = topk_metrics(hits, torch.tensor([2, 3, 1]), ks=(2, 4))
    # user 0, 2 targets, hits at ranks 2 and 4: MRR = 1/2 at both K;
    #   AP@4 = (P@2 + P@4) / min(2, 4) = (1/2 + 2/4) / 2 = 1/2; AP@2 = P@2 / min(2, 2) = 1/4
    # user 1, 3 targets, hits at ranks 1 and 3: MRR = 1;
    #   AP@4 = (P@1 + P@3) / min(3, 4) = (1 + 2/3) / 3 = 5/9; AP@2 = P@1 / min(3, 2) = 1/2
    # user 2, no hit: 0
    assert out["mrr@4"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert out["mrr@2"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert out["map@4"].tolist() == pytest.approx([0.5, 5 / 9, 0.0])
    assert out["map@2"].tolist() == pytest.approx([0.25, 0.5, 0.0])


# 4 users, 4 items. Training pairs give the popularity pop = [3, 2, 1, 0]; every user scores
# the items 3 > 2 > 1 > 0. Only users 0 and 3 have test targets (items 3 and 1), so
#   user 0 (trained on item 0): top-2 list [3, 2], its target at rank 1;
#   user 3 (trained on item 2): top-2 list [3, 1], its target at rank 2.
TRAIN = np.array([[0, 0], [1, 0], [2, 0], [1, 1], [2, 1], [3, 2]])
TEST = np.array([[0, 3], [3, 1]])
SCORES = torch.tensor([0.0, 1.0, 2.0, 3.0])


def _score(users: torch.Tensor) -> torch.Tensor:
    return SCORES.expand(len(users), 4)


def test_novelty_popularity_coverage_gini_by_hand() -> None:
    m = Evaluator(4, 4, TRAIN, TEST, ks=(1, 2))(_score)
    # self-information -log2(max(pop, 1) / 4): item 1 -> 1, item 2 -> 2, item 3 (pop 0,
    # counted as 1) -> 2. novelty@2: user 0 (2 + 2) / 2 = 2, user 3 (2 + 1) / 2 = 1.5
    assert m["novelty@2"] == pytest.approx((2.0 + 1.5) / 2)
    assert m["novelty@1"] == pytest.approx(2.0)  # both lists are [3]
    # ARP@2: user 0 (0 + 1) / 2, user 3 (0 + 2) / 2
    assert m["arp@2"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["arp@1"] == 0.0
    # coverage@2: items {3, 2, 1} of 4; coverage@1: {3}
    assert m["coverage@2"] == pytest.approx(3 / 4)
    assert m["coverage@1"] == pytest.approx(1 / 4)
    # gini@2: counts sorted [0, 1, 1, 2] (item 0, 1, 2, 3), n = 4, total 4:
    #   ((2-5)*0 + (4-5)*1 + (6-5)*1 + (8-5)*2) / (4 * 4) = 6 / 16
    assert m["gini@2"] == pytest.approx(6 / 16)
    # gini@1: one item takes every slot, the maximum (n - 1) / n
    assert m["gini@1"] == pytest.approx(3 / 4)
    # MRR@2 and MAP@2 (one target each): user 0 hit at rank 1 (1), user 3 at rank 2 (1/2)
    assert m["mrr@2"] == pytest.approx(0.75) and m["map@2"] == pytest.approx(0.75)
    assert m["users"] == 2
    assert "ild@2" not in m  # no attributes given: no ILD


def test_gini_equal_counts_is_zero() -> None:
    assert Gini()(torch.tensor([2, 2, 2])) == pytest.approx(0.0)
    assert math.isnan(Gini()(torch.zeros(3, dtype=torch.int64)))


def test_item_attributes_from_the_item_kg() -> None:
    # 4 items (0..3), Genre entities 4, 5, 6, a modality entity 7
    kg = KGTriples(
        n_entities=8,
        relation_names=["HAS_GENRE", "IN", "HAS_VISUAL", "SIMILAR", "SUB"],
        heads=np.array([0, 0, 1, 6, 0, 0, 4]),
        relations=np.array([0, 0, 0, 1, 2, 3, 4]),
        tails=np.array([4, 5, 4, 2, 7, 1, 5]),
        entity_features={"Visual": (np.array([7]), np.zeros((1, 2), np.float32))},
    )
    # kept: 0-4, 0-5, 1-4 and 6->2 (an attribute at the head); not the modality 0-7, the
    # item-item 0-1 or the entity-entity 4-5
    assert item_attributes(kg, 4).tolist() == [[0, 4], [0, 5], [1, 4], [2, 6]]


# attributes: item 0 {10, 11}, item 1 {10}, item 2 {12}, item 3 none
ATTRS = np.array([[0, 10], [0, 11], [1, 10], [2, 12]])


@pytest.mark.parametrize("dense_cells", [1 << 24, 0], ids=["dense", "sparse"])
def test_ild_by_hand(dense_cells: int) -> None:
    ild = IntraListDiversity(ATTRS, 4, dense_cells=dense_cells)
    lists = TopLists(
        items=torch.tensor([[0, 1, 2], [0, 3, 1], [0, 3, 2], [3, 0, 2]]),
        valid=torch.tensor([[True] * 3, [True] * 3, [True] * 3, [True, True, False]]),
    )
    # cos(0, 1) = |{10}| / sqrt(2 * 1) = 1/sqrt2; cos(0, 2) = cos(1, 2) = 0
    # [0, 1, 2]: distances 1 - 1/sqrt2, 1, 1 over 3 pairs
    # [0, 3, 1]: item 3 has no attributes, one pair (0, 1): 1 - 1/sqrt2
    # [0, 3, 2]: one pair (0, 2): 1
    # [3, 0, (2 not a candidate)]: one item with attributes, no pair: no value
    got = ild(lists).tolist()
    assert got[:3] == pytest.approx([(3 - 1 / SQRT2) / 3, 1 - 1 / SQRT2, 1.0])
    assert math.isnan(got[3])
    # identical sets: distance 0 (up to rounding, never below it)
    same = IntraListDiversity(np.array([[0, 5], [0, 6], [1, 5], [1, 6]]), 2, dense_cells)
    d = same(TopLists(torch.tensor([[0, 1]]), torch.tensor([[True, True]]))).item()
    assert 0.0 <= d < 1e-12


def test_ild_in_the_evaluator_and_users_without_a_value() -> None:
    # the TRAIN/TEST lists at K=2: user 0 [3, 2] (item 3 has no attributes: no value),
    # user 3 [3, 1] (no value either); at K=3 user 0 [3, 2, 1] -> pair (2, 1): 1, and
    # user 3 [3, 1, 0] -> pair (1, 0): 1 - 1/sqrt2
    ev = Evaluator(4, 4, TRAIN, TEST, ks=(2, 3), attributes=ATTRS)
    m = ev(_score)
    assert "ild@2" not in m  # no user has a value
    assert m["ild@3"] == pytest.approx((1 + 1 - 1 / SQRT2) / 2)
    assert ev.last is not None
    assert ev.last.users.tolist() == [0, 3]
    assert np.isnan(ev.last.per_user["ild@2"]).all()


def _brute_force(scores: torch.Tensor, train: np.ndarray, test: np.ndarray, k: int,
                 attrs: np.ndarray, n_users: int) -> dict[str, float]:  # fmt: skip
    n_items = scores.shape[1]
    pop = np.bincount(train[:, 1], minlength=n_items)
    sets = {i: set(attrs[attrs[:, 0] == i, 1].tolist()) for i in range(n_items)}
    nov, arp, ild, mrr, counts = [], [], [], [], np.zeros(n_items)
    for u in np.unique(test[:, 0]):
        s = scores[u].clone()
        s[torch.as_tensor(train[train[:, 0] == u, 1])] = -float("inf")
        top = [i for i in torch.topk(s, k).indices.tolist() if s[i] > -float("inf")]
        counts[top] += 1
        nov.append(np.mean([-math.log2(max(pop[i], 1) / n_users) for i in top]))
        arp.append(np.mean([pop[i] for i in top]))
        tgt = set(test[test[:, 0] == u, 1].tolist())
        mrr.append(next((1 / (r + 1) for r, i in enumerate(top) if i in tgt), 0.0))
        withattr = [i for i in top if sets[i]]
        d = [1 - len(sets[i] & sets[j]) / math.sqrt(len(sets[i]) * len(sets[j]))
             for a, i in enumerate(withattr) for j in withattr[a + 1 :]]  # fmt: skip
        if d:
            ild.append(np.mean(d))
    c = np.sort(counts)
    r = np.arange(1, n_items + 1)
    gini = float(((2 * r - n_items - 1) * c).sum() / (n_items * c.sum()))
    return {f"novelty@{k}": float(np.mean(nov)), f"arp@{k}": float(np.mean(arp)),
            f"ild@{k}": float(np.mean(ild)), f"mrr@{k}": float(np.mean(mrr)),
            f"coverage@{k}": float((counts > 0).mean()), f"gini@{k}": gini}  # fmt: skip


def test_batched_equals_brute_force() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(40, 25, generator=gen)
    rng = np.random.default_rng(0)
    pairs = np.unique(np.stack([rng.integers(0, 35, 300), rng.integers(0, 25, 300)], 1), axis=0)
    train, test = pairs[::2], pairs[1::2]
    attrs = np.unique(np.stack([rng.integers(0, 25, 60), rng.integers(25, 35, 60)], 1), axis=0)
    runs = [
        Evaluator(40, 25, train, test, ks=(5, 10), attributes=attrs, batch_users=b)(
            lambda u: scores[u]
        )
        for b in (1000, 3)
    ]  # fmt: skip
    assert runs[0] == pytest.approx(runs[1])
    for k in (5, 10):
        for name, want in _brute_force(scores, train, test, k, attrs, 40).items():
            assert runs[0][name] == pytest.approx(want), name


def test_evaluation_round_trip_and_means() -> None:
    ev = Evaluation(
        users=np.array([2, 5]),
        per_user={"recall@2": np.array([0.5, 1.0]), "ild@2": np.array([np.nan, 0.25])},
        catalogue={"coverage@2": 0.5},
    )
    # ILD over the one user with a value
    assert ev.means() == {"recall@2": 0.75, "ild@2": 0.25, "coverage@2": 0.5, "users": 2.0}
    back = Evaluation.from_arrays(ev.arrays())
    assert back.users.tolist() == [2, 5] and back.catalogue == {"coverage@2": 0.5}
    assert np.array_equal(back.per_user["ild@2"], ev.per_user["ild@2"], equal_nan=True)
    with pytest.raises(ValueError, match="recall"):
        Evaluation.from_arrays({"users": np.array([1, 2]), "recall@2": np.array([1.0])})


def test_split_evaluator_reads_the_item_kg() -> None:
    from types import SimpleNamespace

    kg = KGTriples(n_entities=6, relation_names=["G"], heads=np.array([0, 1, 2]),
                   relations=np.zeros(3, np.int64), tails=np.array([4, 4, 5]))  # fmt: skip
    data = SimpleNamespace(n_users=1, n_items=4, train=np.array([[0, 3]]),
                           valid=np.zeros((0, 2), np.int64), test=np.array([[0, 0]]),
                           item_kg=kg)  # fmt: skip
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    m = split_evaluator(data, "test", ks=(2, 3))(lambda u: scores[u])
    # list [0, 1]: the same genre, distance 0; list [0, 1, 2]: distances 0, 1, 1
    assert m["ild@2"] == pytest.approx(0.0)
    assert m["ild@3"] == pytest.approx(2 / 3)
