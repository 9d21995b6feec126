"""GCFA (paper 003): importance-based neighbours, pooling aggregation, one forward step checked
by hand, the cross-entropy loss, the paper's metrics and learning on the synthetic graph."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor

from recommend.data import KGTriples, RecData
from recommend.metrics import paper_metrics
from recommend.models import ModelConfig, Recommender, build
from recommend.models.gcfa import GCFA, importance_neighbours

S2 = 1 / np.sqrt(2)
INF = float("inf")


def tiny_data() -> RecData:
    """3 users, 3 items, two rating levels.

    Train: u0 -> i0 (level 1), i1 (level 0); u1 -> i1 (1), i2 (0); u2 -> i2 (1).
    """
    train = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 2]], np.int64)
    kinds = np.array([1, 0, 1, 0, 1], np.int64)
    empty = KGTriples(0, [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    return RecData(
        n_users=3,
        n_items=3,
        user_ids=pd.Index(["u0", "u1", "u2"]),
        item_ids=pd.Index(["i0", "i1", "i2"]),
        train=train,
        valid=np.zeros((0, 2), np.int64),
        test=np.array([[0, 2], [2, 0]], np.int64),
        kind_names=["RATED_1", "RATED_5"],
        train_kind=kinds,
        train_kinds_all=np.column_stack([train, kinds]),
        item_kg=empty,
        user_kg=empty,
    )


def test_importance_neighbours_by_hand() -> None:
    data = tiny_data()
    ids, tight = importance_neighbours(data.train, 3, 3, size=2, block=2)
    # users: co(u0,u1) = 1 -> 1/sqrt(2*2) = 0.5; co(u1,u2) = 1 -> 1/sqrt(2*1); u0, u2 share none
    assert ids.tolist() == [[1, 0], [2, 0], [1, 0]]
    torch.testing.assert_close(
        tight, torch.tensor([[0.5, -INF], [S2, 0.5], [S2, -INF]], dtype=torch.float32)
    )
    ids, tight = importance_neighbours(data.train[:, ::-1], 3, 3, size=1)
    # items: i0 {u0}, i1 {u0, u1}, i2 {u1, u2}; size 1 keeps the tightest
    assert ids.tolist() == [[1], [0], [1]]
    torch.testing.assert_close(tight, torch.tensor([[S2], [S2], [0.5]], dtype=torch.float32))


def _np(t: Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _lin(mod: Any, x: np.ndarray) -> np.ndarray:
    w = _np(mod.weight)
    b = mod.bias
    return x @ w.T + (_np(b) if b is not None else 0.0)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def test_forward_step_by_hand() -> None:
    data = tiny_data()
    torch.manual_seed(0)
    cfg = ModelConfig(dim=3, dropout=0.0, extra={"neighbours": 2, "tau": 0.5})
    model = build("gcfa", data, cfg)
    assert isinstance(model, GCFA)
    U, V, R = (_np(e.weight) for e in (model.user_emb, model.item_emb, model.level_emb))

    def agg(mod: Any, ego: np.ndarray, nbrs: list[list[tuple[int, float]]]) -> np.ndarray:
        msg = _relu(_lin(mod.fc, ego))
        out = []
        for n, row in enumerate(nbrs):
            side = np.zeros(ego.shape[1])
            if row:
                g = _softmax(np.array([t for _, t in row]) / 0.5)  # eq 3
                side = sum(w * msg[j] for w, (j, _) in zip(g, row, strict=True))  # eq 2
            out.append(_relu(_lin(mod.combine, ego[n] + side)))  # eq 4
        return np.stack(out)

    agg_u = agg(model.user_agg, U, [[(1, 0.5)], [(2, S2), (0, 0.5)], [(1, S2)]])
    agg_i = agg(model.item_agg, V, [[(1, S2)], [(0, S2), (2, 0.5)], [(1, 0.5)]])

    def side(mod: Any, anchor: np.ndarray, other: np.ndarray, inter: list) -> np.ndarray:
        g1, g2 = mod.g[0], mod.g[2]
        out = []
        for a in range(anchor.shape[0]):
            mine = [(o, r) for aa, o, r in inter if aa == a]
            xs = np.stack([_lin(g2, _relu(_lin(g1, np.r_[other[o], R[r]]))) for o, r in mine])
            logits = [  # eq 9: w2ᵀ ReLU(W1 [x ⊕ e_a] + b1) + b2
                _lin(mod.att_out, _relu(_lin(mod.att_x, x) + _lin(mod.att_a, anchor[a])))[0]
                for x in xs
            ]
            beta = _softmax(np.array(logits))  # eq 10
            h = _relu(_lin(mod.h, (beta[:, None] * xs).sum(0)))  # eq 8
            o1, o2 = mod.out[1], mod.out[3]
            out.append(_lin(o2, _relu(_lin(o1, np.r_[h, anchor[a]]))))
        return np.stack(out)

    inter = [(0, 0, 1), (0, 1, 0), (1, 1, 1), (1, 2, 0), (2, 2, 1)]
    z_u = side(model.user_side, agg_u, V, inter)
    z_i = side(model.item_side, agg_i, U, [(i, u, r) for u, i, r in inter])
    users, items = model.propagate()
    np.testing.assert_allclose(_np(users), z_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(items), z_i, rtol=1e-5, atol=1e-6)

    # eq 13: cross-entropy of (u0, i0) observed and (u0, i2) sampled, plus L2
    loss = model.cf_loss(torch.tensor([0]), torch.tensor([0]), torch.tensor([2]))
    s_pos, s_neg = z_u[0] @ z_i[0], z_u[0] @ z_i[2]
    ce = -np.log(1 / (1 + np.exp(-s_pos))) - np.log(1 - 1 / (1 + np.exp(-s_neg)))
    reg = (U[0] @ U[0] + V[0] @ V[0] + V[2] @ V[2]) / 2
    assert float(loss.detach()) == pytest.approx(ce + cfg.l2 * reg, rel=1e-5)


def test_attention_sums_to_one_per_user() -> None:
    data = tiny_data()
    model: Any = build("gcfa", data, ModelConfig(dim=4))
    side = model.user_side
    agg_u, _ = model.aggregated()
    x = side.interactions(model.item_emb.weight, model.level_emb.weight,
                          model.u_c_other, model.u_c_level)  # fmt: skip
    beta = side.attention(x, agg_u, model.u_combo, model.u_anchor)
    sums = torch.zeros(3).index_add_(0, model.u_anchor, beta)
    torch.testing.assert_close(sums, torch.ones(3))
    # 5 interactions, 5 distinct (item, level) pairs: i2 is level 0 for u1 and 1 for u2
    assert x.shape == (5, 4) and model.u_combo.tolist() == [0, 1, 2, 3, 4]


def test_interaction_net_runs_once_per_distinct_pair() -> None:
    data = tiny_data()
    data.train_kinds_all = np.array([[0, 0, 1], [1, 0, 1], [2, 0, 1], [2, 1, 0]], np.int64)
    data.train = data.train_kinds_all[:, :2].copy()
    model: Any = build("gcfa", data, ModelConfig(dim=4))
    # three users rated i0 at level 1: one distinct (item, level) pair, plus (i1, 0)
    assert model.u_c_other.tolist() == [0, 1] and model.u_c_level.tolist() == [1, 0]
    assert model.u_combo.tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("pool", ["weighted", "max"])
def test_shapes(pool: str) -> None:
    data = tiny_data()
    model: Any = build("gcfa", data, ModelConfig(dim=8, extra={"pool": pool, "neighbours": 5}))
    users, items = model.propagate()
    assert users.shape == (3, 8) and items.shape == (3, 8)
    assert model.user_nbr.shape == (3, 2)  # n - 1 at most
    loss = model.cf_loss(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([[2, 0]] * 2))
    assert loss.dim() == 0 and torch.isfinite(loss)
    model.prepare_scoring()
    assert model.score_all(torch.tensor([2])).shape == (1, 3)


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="gcfa has no option 'neighbors'; its options: neigh"):
        build("gcfa", tiny_data(), ModelConfig(extra={"neighbors": 3}))
    with pytest.raises(ValueError, match="gcfa: pool must be one of 'weighted', 'max'"):
        build("gcfa", tiny_data(), ModelConfig(extra={"pool": "sum"}))


# -- the paper's metrics -------------------------------------------------------------------------


class FixedScores(Recommender):
    name = "fixed-test"

    def __init__(self, data: RecData, scores: Tensor) -> None:
        super().__init__(data, ModelConfig())
        self.scores = scores

    def score_all(self, users: Tensor) -> Tensor:
        return self.scores[users]


def test_paper_metrics_by_hand() -> None:
    data = tiny_data()
    data.test = np.array([[0, 2], [2, 0], [2, 1]], np.int64)
    # u0: candidates i2 only (i0, i1 are train) -> ranks first. u2: candidates i0, i1 (both
    # targets), i0 scored above i1
    scores = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.9, 0.1, 0.5]])
    m = paper_metrics(FixedScores(data, scores), data)
    assert m["ndcg@1"] == pytest.approx(1.0) and m["ndcg@2"] == pytest.approx(1.0)
    scores[2] = torch.tensor([0.1, 0.9, 0.5])  # u2: i1 first, so NDCG@1 = 1, NDCG@2 = 1
    assert paper_metrics(FixedScores(data, scores), data)["ndcg@2"] == pytest.approx(1.0)
    scores[0] = torch.tensor([0.0, 0.0, -1.0])  # u0's one candidate is still first
    assert paper_metrics(FixedScores(data, scores), data)["ndcg@1"] == pytest.approx(1.0)


def test_pair_metrics_of_perfect_and_reversed_scores() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 20, 50
    pairs = np.array([(u, i) for u in range(n_users) for i in rng.choice(n_items, 6, False)])
    train, test = pairs[::2], pairs[1::2]
    empty = KGTriples(0, [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    data = RecData(n_users, n_items, pd.Index(range(n_users)), pd.Index(range(n_items)),
                   train, np.zeros((0, 2), np.int64), test, ["C"],
                   np.zeros(len(train), np.int64), np.column_stack([train, 0 * train[:, 0]]),
                   empty, empty)  # fmt: skip
    good = torch.zeros(n_users, n_items)
    good[test[:, 0], test[:, 1]] = 1.0
    m = paper_metrics(FixedScores(data, good), data)
    assert m["pair_auc"] == 1.0 and m["pair_ndcg@1"] == 1.0 and m["pair_ndcg@2"] == 1.0
    assert m["auc"] == pytest.approx(1.0) and m["ndcg@1"] == 1.0
    m = paper_metrics(FixedScores(data, -good), data)
    assert m["pair_auc"] == 0.0
    assert m["pair_ndcg@2"] == pytest.approx(1 / np.log2(3))
    assert m["ndcg@1"] == 0.0


# -- learning on the synthetic graph -------------------------------------------------------------


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Small models train faster on one thread than on two shared, busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("one_thread")
def test_learns_on_synthetic_graph_beats_pop() -> None:
    """40 epochs on the synthetic micro-video KG (four interaction kinds as levels): GCFA's
    test Recall@20 and AUC beat popularity's.

    16 negatives per positive in batches of 2048: the same number of steps (each recomputes
    every user and item) learns far more than 1 negative in batches of 1024, whose Recall@20
    ranged 1.02-1.17x pop's over training seeds 0-4 (0.467 vs 0.439 on another machine). With
    these settings, training seeds 0-9 gave 1.25-1.37x pop's Recall@20 (0.549-0.600 vs 0.439)
    and AUC 0.77-0.81 vs pop's 0.706."""
    from kg_ingest.synthetic import generate
    from recommend.data import export_from_graph_data
    from recommend.train import TrainConfig, Trainer, recdata_from_export, seed_everything

    data = recdata_from_export(export_from_graph_data(generate(200, 150, seed=0)))
    res = {}
    for name, epochs in (("pop", 1), ("gcfa", 40)):
        seed_everything(0)
        model = build(name, data, ModelConfig(dim=32))
        cfg = TrainConfig(epochs=epochs, lr=1e-2, batch_size=2048, n_neg=16, eval_every=20,
                          patience=100, device="cpu", seed=0)  # fmt: skip
        res[name] = Trainer(model, data, cfg).fit().test
    assert res["gcfa"]["recall@20"] > 1.1 * res["pop"]["recall@20"], res
    assert res["gcfa"]["auc"] > res["pop"]["auc"], res
