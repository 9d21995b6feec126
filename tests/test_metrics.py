"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recommend.metrics import Evaluator, csr, evaluate, gather_rows, ideal_dcg, topk_metrics

L2, L3, L5 = math.log2(2), math.log2(3), math.log2(5)

# user 0 ranks items by descending score, user 1 by ascending score
SCORES = torch.tensor(
    [[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]], dtype=torch.float32
)
TRAIN = np.array([[0, 0], [1, 4], [1, 5]])
TEST = np.array([[0, 2], [0, 5], [1, 0]])


def score_fn(users: torch.Tensor) -> torch.Tensor:
    return SCORES[users]


def test_hand_computed_full_ranking() -> None:
    # user 0: item 0 (best score) is a training item, so the list is 1, 2, 3, 4, 5;
    # targets 2 and 5: top-2 = [1, 2] -> one hit at rank 1.
    # user 1: items 5, 4 are training items, so the list is 3, 2, 1, 0; target 0 at rank 3.
    m = evaluate(score_fn, 2, 6, TRAIN, TEST, ks=(2, 4))
    idcg2 = 1 / L2 + 1 / L3
    u0 = {
        "precision@2": 0.5,
        "recall@2": 0.5,
        "ndcg@2": (1 / L3) / idcg2,
        "hit@2": 1.0,
        "precision@4": 0.25,
        "recall@4": 0.5,
        "ndcg@4": (1 / L3) / idcg2,
        "hit@4": 1.0,
    }
    u1 = {
        "precision@2": 0.0,
        "recall@2": 0.0,
        "ndcg@2": 0.0,
        "hit@2": 0.0,
        "precision@4": 0.25,
        "recall@4": 1.0,
        "ndcg@4": (1 / L5) / 1.0,
        "hit@4": 1.0,
    }
    for name in u0:
        assert m[name] == pytest.approx((u0[name] + u1[name]) / 2), name
    # AUC, user 0: candidates 1..5, targets 2 (beats 3, 4) and 5 (beats none): 2 / (2 * 3);
    # user 1: its target has the lowest score: 0
    assert m["auc"] == pytest.approx((2 / 6 + 0.0) / 2)
    assert m["users"] == 2


def test_training_items_never_ranked() -> None:
    ev = Evaluator(2, 6, TRAIN, TEST, ks=(1,))
    # the only target of user 0 would be item 0 if it were not excluded
    m = ev(score_fn)
    assert m["hit@1"] == 0.0
    m2 = evaluate(score_fn, 2, 6, np.zeros((0, 2), np.int64), np.array([[0, 0]]), ks=(1,))
    assert m2["hit@1"] == 1.0 and m2["ndcg@1"] == 1.0


def test_ndcg_ideal_over_min_of_targets_and_k() -> None:
    # three targets, K = 2, both top-2 items hit: the ideal is 2 hits, so NDCG@2 = 1
    # (KGAT's published NDCG would also say 1 here, but differs once a hit is missing:
    # see the next assertion, where hits at ranks 0 and 2 of K = 3 give (1 + 1/2) / idcg(3))
    hits = torch.tensor([[True, True, False], [True, False, True]])
    n = torch.tensor([3, 3])
    out = topk_metrics(hits, n, ks=(2, 3))
    assert out["ndcg@2"][0].item() == pytest.approx(1.0)
    assert out["ndcg@3"][1].item() == pytest.approx((1 + 1 / 2) / (1 + 1 / L3 + 1 / 2))
    assert out["recall@3"][1].item() == pytest.approx(2 / 3)
    assert out["precision@3"][1].item() == pytest.approx(2 / 3)
    # one target: the ideal is one hit at rank 0, whatever K
    one = topk_metrics(torch.tensor([[False, True, False]]), torch.tensor([1]), ks=(3,))
    assert one["ndcg@3"].item() == pytest.approx(1 / L3)
    assert ideal_dcg(3).tolist() == pytest.approx([0.0, 1.0, 1 + 1 / L3, 1 + 1 / L3 + 0.5])


def test_auc_ties_count_half() -> None:
    scores = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    # target item 0 ties with candidates 1 and 2, beats 3: (0.5 + 0.5 + 1) / 3
    m = evaluate(lambda u: scores[u], 1, 4, np.zeros((0, 2)), np.array([[0, 0]]), ks=(1,))
    assert m["auc"] == pytest.approx(2 / 3)


def test_batches_and_users_without_targets() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(50, 30, generator=gen)
    rng = np.random.default_rng(0)
    pairs = np.unique(np.stack([rng.integers(0, 40, 400), rng.integers(0, 30, 400)], 1), axis=0)
    train, test = pairs[::2], pairs[1::2]
    full = Evaluator(50, 30, train, test, ks=(5, 10), auc=True, batch_users=1000)(
        lambda u: scores[u]
    )
    small = Evaluator(50, 30, train, test, ks=(5, 10), auc=True, batch_users=7)(lambda u: scores[u])
    assert full == pytest.approx(small)
    # users 40..49 have no targets and are not averaged over
    assert full["users"] == len(np.unique(test[:, 0]))
    # brute force per user
    rec, auc = [], []
    for u in np.unique(test[:, 0]):
        s = scores[u].clone()
        s[torch.as_tensor(train[train[:, 0] == u, 1])] = -float("inf")
        tgt = set(test[test[:, 0] == u, 1].tolist())
        top = torch.topk(s, 10).indices.tolist()
        rec.append(len(tgt & set(top)) / len(tgt))
        cand = [i for i in range(30) if s[i] > -float("inf")]
        pos = [i for i in cand if i in tgt]
        neg = [i for i in cand if i not in tgt]
        wins = sum((s[p] > s[n]).item() + 0.5 * (s[p] == s[n]).item() for p in pos for n in neg)
        auc.append(wins / (len(pos) * len(neg)))
    assert full["recall@10"] == pytest.approx(np.mean(rec))
    assert full["auc"] == pytest.approx(np.mean(auc))


def test_csr_gather_rows() -> None:
    ptr, idx = csr(np.array([[2, 1], [0, 3], [2, 0], [0, 1]]), 3)
    assert ptr.tolist() == [0, 2, 2, 4]
    assert idx.tolist() == [1, 3, 0, 1]
    local, cols = gather_rows(ptr, idx, torch.tensor([2, 1, 0]))
    assert local.tolist() == [0, 0, 2, 2]
    assert cols.tolist() == [0, 1, 1, 3]


def test_popularity_view_scores_are_not_written_through() -> None:
    base = torch.arange(6, dtype=torch.float32)
    m = evaluate(lambda u: base.expand(len(u), 6), 2, 6, TRAIN, TEST, ks=(2,))
    assert base.tolist() == [0, 1, 2, 3, 4, 5]
    assert 0 <= m["recall@2"] <= 1


def test_test_protocol_excludes_train_and_valid_items() -> None:
    """Valid ranks all but train items; test ranks all but train and valid items."""
    from types import SimpleNamespace

    from recommend.metrics import split_evaluator

    # one user, 4 items: train {0}, valid {1}, test {2}; scores rank 1 > 2 > 3 > 0
    data = SimpleNamespace(
        n_users=1,
        n_items=4,
        train=np.array([[0, 0]]),
        valid=np.array([[0, 1]]),
        test=np.array([[0, 2]]),
    )
    scores = torch.tensor([[0.0, 3.0, 2.0, 1.0]])
    test = split_evaluator(data, "test", ks=(1,))(lambda u: scores[u])
    assert test["recall@1"] == 1.0  # item 1 (valid) is not a candidate, so 2 is first
    valid = split_evaluator(data, "valid", ks=(1,))(lambda u: scores[u])
    assert valid["recall@1"] == 1.0
    with pytest.raises(ValueError, match="split"):
        split_evaluator(data, "train")
