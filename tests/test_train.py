"""The trainer on a tiny synthetic graph: it learns; a resumed run equals an uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor, nn

from kg_store.export import GraphExport
from recommend.config import TrainConfig, configs_for
from recommend.data import RecData, build_recdata
from recommend.metrics import evaluate
from recommend.models.base import REGISTRY, ModelConfig, Recommender, register
from recommend.runs import find_run, list_runs
from recommend.sampling import BPRSampler, TripleSampler
from recommend.split import make_split
from recommend.train import Trainer, seed_everything, start_run, train_run


class TinyMF(Recommender):
    """Pure-embedding BPR model, with a TransR-free KG loss so the KG pass is exercised too."""

    name = "test_tiny_mf"
    kg: Tensor

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        self.user = nn.Embedding(self.n_users, config.dim)
        self.item = nn.Embedding(self.n_items, config.dim)
        self.ent = nn.Embedding(data.item_kg.n_entities, config.dim)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        nn.init.normal_(self.ent.weight, std=0.1)
        kg = data.item_kg
        self.register_buffer("kg", torch.as_tensor(np.stack([kg.heads, kg.relations, kg.tails])))
        self.refreshed = 0

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        u = nn.functional.dropout(self.user(users), 0.1, self.training)  # uses the torch RNG
        diff = (u * (self.item(pos) - self.item(neg))).sum(-1)
        return -nn.functional.logsigmoid(diff).mean()

    def kg_graphs(self) -> dict[str, Tensor]:
        return {"item": self.kg}

    def kg_loss(self, graph: str, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor) -> Tensor:
        e = self.ent.weight
        d = (e[h] * (e[t_pos] - e[t_neg])).sum(-1)
        return -nn.functional.logsigmoid(d).mean()

    def refresh(self) -> None:
        self.refreshed += 1

    def score_all(self, users: Tensor) -> Tensor:
        return self.user(users) @ self.item.weight.T


@pytest.fixture(autouse=True)
def _registered() -> Any:
    register(TinyMF)
    yield
    REGISTRY.pop(TinyMF.name, None)


def _export(n_users: int = 60, n_items: int = 40, seed: int = 0, groups: int = 2) -> GraphExport:
    """``groups`` taste groups: users of group g interact with 12 items of group g (items
    ``i % groups == g``) plus one random item; each item has its group as genre."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        g = u % groups
        own = [i for i in range(n_items) if i % groups == g]
        rows += [(u, i) for i in rng.choice(own, 12, replace=False)]
        rows += [(u, int(rng.integers(n_items)))]
    pairs = np.unique(np.array(rows), axis=0)
    e = GraphExport()
    e.ids = {
        "User": pd.Index([f"u{i:03d}" for i in range(n_users)]),
        "Video": pd.Index([f"v{i:03d}" for i in range(n_items)]),
        "Genre": pd.Index(["even", "odd"] if groups == 2 else [f"g{k}" for k in range(groups)]),
    }
    e.edges = {
        ("User", "CLICKED", "Video"): pd.DataFrame({"src": pairs[:, 0], "dst": pairs[:, 1]}),
        ("Video", "HAS_GENRE", "Genre"): pd.DataFrame(
            {"src": np.arange(n_items), "dst": np.arange(n_items) % groups}
        ),
    }
    return e


def test_samplers_never_return_positives() -> None:
    rng = np.random.default_rng(0)
    pairs = np.unique(np.stack([rng.integers(0, 20, 300), rng.integers(0, 15, 300)], 1), axis=0)
    s = BPRSampler(pairs, 15, torch.Generator().manual_seed(1))
    pos = {(int(u), int(i)) for u, i in pairs}
    seen = 0
    for users, p, neg in s.epoch(64, n_neg=3):
        assert neg.shape == (len(users), 3)
        assert all(
            (int(u), int(j)) not in pos for u, row in zip(users, neg, strict=True) for j in row
        )
        assert all((int(u), int(i)) in pos for u, i in zip(users, p, strict=True))
        seen += len(users)
    assert seen == len(pairs)
    g = torch.tensor([[0, 0, 1, 2], [0, 1, 0, 0], [1, 2, 3, 0]])
    ts = TripleSampler(g, n_entities=4, generator=torch.Generator().manual_seed(0))
    triples = {tuple(x) for x in g.T.tolist()}
    for _ in range(20):
        for h, r, _t, tn in ts.epoch(3):
            assert all(
                (a, b, c) not in triples
                for a, b, c in zip(h.tolist(), r.tolist(), tn.tolist(), strict=True)
            )


def test_trainer_learns_better_than_random() -> None:
    """Four taste groups of 20 items: knowing the group puts a user's unseen items in the top
    20 (random ranking: Recall@20 about 0.28) and gives an AUC of about 0.95. Measured over
    training seeds 0-9: Recall@20 0.93-1.0, Recall@10 5.0-5.8x random's, AUC 0.910-0.927
    (two groups of 20 and lr 0.05, as before, gave AUC 0.785-0.830 over seeds 0-4 against
    the bar of 0.8: ranking by group alone reaches only about 0.85 there)."""
    e = _export(n_items=80, groups=4)
    data = build_recdata(e, make_split(e, seed=0))
    seed_everything(0)
    model = TinyMF(data, ModelConfig(dim=16))
    res = Trainer(model, data, TrainConfig(epochs=30, batch_size=64, lr=0.02, device="cpu",
                                           patience=30)).fit()  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    rand = torch.rand(data.n_users, data.n_items, generator=gen)
    base = evaluate(lambda u: rand[u], data.n_users, data.n_items, data.train, data.test,
                    ks=(10, 20))  # fmt: skip
    seen = (res.test, base)
    assert res.test["recall@20"] > 0.8 > 2 * base["recall@20"], seen  # the groups are easy
    assert res.test["recall@10"] > 3 * base["recall@10"], seen
    assert res.test["auc"] > 0.85 > base["auc"] + 0.2, seen
    assert model.refreshed >= res.epochs
    assert res.best_epoch >= 1 and "kg_loss_item" in res.history[0]


class _Stop(Exception):
    pass


def test_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    e = _export()
    cfg = TrainConfig(epochs=6, batch_size=64, lr=0.02, device="cpu", seed=3)
    mcfg = ModelConfig(dim=8)
    full = start_run(e, TinyMF.name, "toy", tmp_path / "a", mcfg, cfg)
    res_full = train_run(full)

    part = start_run(e, TinyMF.name, "toy", tmp_path / "b", mcfg, cfg)

    def stop_after_3(record: dict[str, Any]) -> None:
        if record["epoch"] == 3:
            raise _Stop

    with pytest.raises(_Stop):
        train_run(part, on_epoch=stop_after_3)
    assert part.status == "interrupted" and len(part.history()) == 3
    res_resumed = train_run(part, resume=True)

    assert res_resumed.epochs == res_full.epochs == 6
    assert res_resumed.test == res_full.test
    strip = [{k: v for k, v in r.items() if not k.endswith("_s")} for r in res_full.history]
    strip2 = [{k: v for k, v in r.items() if not k.endswith("_s")} for r in part.history()]
    assert strip == strip2
    wa = full.load_model().state_dict()
    wb = part.load_model().state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    # the run directory is self-contained: the same split, data and a listing
    assert np.array_equal(full.data().test, part.data().test)
    assert full.result is not None and full.result["test"] == res_full.test
    assert (full.path / "metrics.csv").read_text().startswith("epoch,")
    assert [r.name for r in list_runs(tmp_path / "a")] == [full.name]
    assert find_run("latest", tmp_path / "b").path == part.path


def test_configs_for_layers_model_defaults_under_explicit_values(monkeypatch) -> None:
    cls = REGISTRY["bprmf"]
    monkeypatch.setattr(
        cls, "defaults", {"lr": 5e-3, "n_neg": 4, "l2": 1e-3, "extra": {"a": 1}}, raising=False
    )
    rs = configs_for("bprmf", lr=None, n_neg=2, seed=7, extra={"b": 2})
    assert rs.train.lr == 5e-3  # the model's default where nothing was given
    assert rs.train.n_neg == 2  # what the user gives wins
    assert rs.train.seed == 7 and rs.train.batch_size == TrainConfig().batch_size
    assert rs.model.l2 == 1e-3 and rs.model.extra == {"a": 1, "b": 2}
    assert rs.rating_kinds is False
    with pytest.raises(TypeError, match="not a model or training setting: bogus"):
        configs_for("bprmf", bogus=1)
    with pytest.raises(KeyError, match="unknown model"):
        configs_for("nope")
