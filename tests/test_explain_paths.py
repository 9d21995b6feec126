"""Explanations a person would accept: only positive evidence, specific before generic, the graph's
own labels, the Cypher that shows each path (run on a real FalkorDB, same nodes back), the
counterfactual per path (API and CLI), and the path-quality measures (LIR, SEP, ETD)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from kg_store import embedded
from kg_store.export import GraphExport
from kg_store.falkordb_store import FalkorDBStore
from recommend.data import build_recdata, make_split
from recommend.explain import (
    PRESETS,
    EvidenceRule,
    Explainer,
    Masker,
    NotMaskable,
    PathRanking,
    build_path_graph,
    path_cypher,
)
from recommend.explain.quality import (
    demographic_only,
    etd,
    ewma,
    lir_table,
    path_type,
    possible_types,
    sep_table,
)
from recommend.serving import MAX_MASKED, RecommenderService
from tests.serving_run import GRAPH, ServedRun, served_run, stop_all

KGREC = str(Path(sys.executable).with_name("kgrec"))


def _export() -> GraphExport:
    """u0 rated v0 5, v1 3 and v3 5; u1 rated v1 4 and v2 2, liked v3; u2 rated v2 5; v0 and v2
    are Film-Noir (2 videos), every video a Drama (4); all three users are M."""
    e = GraphExport()
    e.ids = {
        "User": pd.Index(["u0", "u1", "u2"]),
        "Video": pd.Index(["v0", "v1", "v2", "v3"]),
        "Genre": pd.Index(["Drama", "Film-Noir"]),
        "Gender": pd.Index(["M"]),
    }
    e.edges = {
        ("User", "RATED", "Video"): pd.DataFrame(
            {
                "src": [0, 0, 0, 1, 1, 2],
                "dst": [0, 1, 3, 1, 2, 2],
                "rating": [5.0, 3.0, 5.0, 4.0, 2.0, 5.0],
            }
        ),  # fmt: skip
        ("User", "LIKED", "Video"): pd.DataFrame({"src": [1], "dst": [3]}),
        ("Video", "HAS_GENRE", "Genre"): pd.DataFrame(
            {"src": [0, 1, 2, 3, 0, 2], "dst": [0, 0, 0, 0, 1, 1]}
        ),
        ("User", "HAS_GENDER", "Gender"): pd.DataFrame({"src": [0, 1, 2], "dst": [0, 0, 0]}),
    }
    return e


@pytest.fixture
def small() -> tuple[object, object]:
    e = _export()
    split = make_split(e, seed=0, ratios=(1.0, 0.0, 0.0))
    data = build_recdata(e, split)
    ratings = {(int(s), int(d)): float(r) for s, d, r in
               e.edges[("User", "RATED", "Video")].itertuples(index=False)}  # fmt: skip
    return data, build_path_graph(data, e.ids, ratings, sim_k=0)


def _edge(g: object, user: str, video: str) -> int:
    u, v = g.node("User", user), g.node("Video", video)  # type: ignore[attr-defined]
    return next(e for e in g.kinds if g.head[e] == u and g.tail[e] == v)  # type: ignore[attr-defined]


# -- evidence ---------------------------------------------------------------------------------
def test_evidence_rule_marks_low_ratings_and_respects_the_users_mean(small: tuple) -> None:
    _, g = small
    rule = EvidenceRule()
    thr = rule.thresholds(g)
    assert thr[g.node("User", "u0")] == pytest.approx(13 / 3)  # mean 4.33 > 4
    assert thr[g.node("User", "u1")] == 4.0  # mean 3 < 4: the default threshold
    ok = rule.positive(g)
    assert ok[_edge(g, "u0", "v0")] and not ok[_edge(g, "u0", "v1")]  # 5 yes, 3 no
    assert ok[_edge(g, "u1", "v1")] and not ok[_edge(g, "u1", "v2")]  # 4 yes, 2 no
    assert ok[_edge(g, "u1", "v3")]  # LIKED: positive by its kind
    assert ok[g.n_edges - 1]  # a non-interaction edge is always usable
    # configurable: every rating counts
    assert EvidenceRule(rating_threshold=0, user_mean=False).positive(g).all()
    assert not EvidenceRule(positive_kinds=frozenset()).is_positive(("CLICKED",), np.nan, 4.0)
    with pytest.raises(ValueError, match="both always positive and rated"):
        EvidenceRule(positive_kinds=frozenset({"RATED"}))


def test_reasons_cite_only_positive_evidence(small: tuple) -> None:
    _, g = small
    ex = Explainer(g)  # type: ignore[arg-type]
    u0 = g.node("User", "u0")
    for video in ("v2",):
        s = ex.search(u0)
        reasons = ex.explain(u0, g.node("Video", video), 10, s)
        assert reasons, "a path over positive evidence exists"
        for r in reasons:
            assert "3 stars" not in r["text"] and "2 stars" not in r["text"], r["text"]
    loose = Explainer(g, evidence=EvidenceRule(rating_threshold=0, user_mean=False))  # type: ignore[arg-type]
    texts = [r["text"] for r in loose.explain(u0, g.node("Video", "v2"), 20)]
    assert any("2 stars" in t for t in texts)  # the same search cites them when allowed


# -- ranking ----------------------------------------------------------------------------------
def test_specific_entities_and_own_history_rank_first(small: tuple) -> None:
    _, g = small
    u0, v2 = g.node("User", "u0"), g.node("Video", "v2")
    model = Explainer(g, ranking="model")  # type: ignore[arg-type]
    balanced = Explainer(g)  # type: ignore[arg-type]
    # uniform model weights: the path through gender M (3 users) weighs as much as the one
    # through Film-Noir (2 videos); balanced ranks the specific genre and the own history first
    top = balanced.explain(u0, v2, 1)[0]
    assert [n["id"] for n in top["path"]] == ["u0", "v0", "Film-Noir", "v2"], top["text"]
    assert top["text"] == "You rated v0 5 stars; v0 and v2 share the genre Film-Noir"
    by_model = {tuple(n["id"] for n in r["path"]): r for r in model.explain(u0, v2, 10)}
    hub = by_model[("u0", "M", "u2", "v2")]
    assert hub["score"] == pytest.approx(by_model[("u0", "v0", "Film-Noir", "v2")]["score"])
    assert all(r["rank_score"] == pytest.approx(r["score"]) for r in by_model.values())
    # the reason's score is the model's path weight; rank_score adds the specificity factors
    assert top["score"] == pytest.approx(float(np.prod([g.weight[h] for h in _halves(g, top)])))
    deg = g.degree()
    noir, v0 = deg[g.node("Genre", "Film-Noir")], deg[g.node("Video", "v0")]
    r = PathRanking("custom", specificity=1.0, other_users=0.01, item_popularity=0.5)
    top = Explainer(g, ranking=r).explain(u0, v2, 1)[0]  # type: ignore[arg-type]
    # (entering the item itself adds a factor shared by every path to it)
    item = deg[v2] ** r.item_popularity
    expected = top["score"] * noir**-r.specificity * v0**r.item_popularity * item
    assert top["rank_score"] == pytest.approx(expected)
    ranked = {tuple(n["id"] for n in r["path"]): r for r in balanced.explain(u0, v2, 10)}
    assert ranked[("u0", "M", "u2", "v2")]["rank_score"] < top["rank_score"] / 10
    with pytest.raises(ValueError, match="unknown path ranking 'loud'"):
        PathRanking.named("loud")
    with pytest.raises(ValueError, match="other_users"):
        PathRanking("custom", 1.0, 0.0)
    with pytest.raises(ValueError, match="item_popularity"):
        PathRanking("custom", 1.0, 0.5, -1.0)


def _halves(g: object, reason: dict) -> list[int]:
    """The half-edges of a reason's path (one edge of its type between each pair)."""
    nodes = [g.node(n["label"], n["id"]) for n in reason["path"]]  # type: ignore[attr-defined]
    out = []
    for a, b in zip(nodes[:-1], nodes[1:], strict=True):
        row = slice(g.indptr[a], g.indptr[a + 1])  # type: ignore[attr-defined]
        j = int(np.flatnonzero(g.nbr[row] == b)[0])  # type: ignore[attr-defined]
        out.append(int(g.half[row][j]))  # type: ignore[attr-defined]
    return out


def test_graph_labels_name_users_and_enter_the_cypher(small: tuple) -> None:
    _, g = small
    ex = Explainer(g, ranking="model", source_labels={"User": "Customer", "Video": "Movie"})  # type: ignore[arg-type]
    reasons = ex.explain(g.node("User", "u0"), g.node("Video", "v2"), 10)
    via_user = [r for r in reasons if len(r["path"]) > 2 and r["path"][2]["label"] == "Customer"]
    assert via_user, [r["text"] for r in reasons]
    r = via_user[0]
    assert r["path"][0]["label"] == "Customer" and r["path"][-1]["label"] == "Movie"
    assert f"customer {r['path'][2]['id']}" in r["text"] and "user " not in r["text"]
    assert "(n0:`Customer` {`id`: $k0})" in r["cypher"]["statement"]
    assert ex.node_of(r["path"][2]) == g.node("User", r["path"][2]["id"])


def test_path_cypher_checks_identifiers_and_lengths() -> None:
    cy = path_cypher(["User", "Video"], ["1", "2"], ["RATED"], [True])
    assert cy["params"] == {"k0": "1", "k1": "2", "forward": [True]}
    assert "-[r1:`RATED`]-" in cy["statement"] and "$forward[k]" in cy["statement"]
    with pytest.raises(ValueError):
        path_cypher(["User", "Video`) DETACH DELETE (x"], ["1", "2"], ["RATED"], [True])
    with pytest.raises(ValueError, match="needs 2 labels"):
        path_cypher(["User"], ["1"], ["RATED"], [True])


# -- measures ---------------------------------------------------------------------------------
def test_quality_measures(small: tuple) -> None:
    _, g = small
    assert ewma(np.array([0.0, 1.0, 1.0]), 0.5).tolist() == [0.0, 0.5, 0.75]
    lir = lir_table(np.array([0, 0, 0, 1]), np.array([5, 6, 7, 5]), np.array([30, 10, 20, 7]))
    assert lir[(0, 6)] == 0.0 and lir[(0, 7)] == pytest.approx(0.15)
    assert lir[(0, 5)] == pytest.approx(0.7 * 0.15 + 0.3) and lir[(1, 5)] == 0.0
    sep = sep_table(g)
    drama, noir = g.node("Genre", "Drama"), g.node("Genre", "Film-Noir")
    assert sep[drama] > sep[noir]  # the popular genre's SEP is the higher
    assert demographic_only(["User", "Gender", "User", "Video"], {"Gender"})
    assert not demographic_only(["User", "Video", "User", "Video"], {"Gender"})
    assert not demographic_only(["User", "Video", "Genre", "Video"], {"Gender"})
    reason = {"path": [{"label": "User"}, {"label": "Video"}], "relations": ["RATED"]}
    assert path_type(reason) == ("User", "RATED", "Video")
    assert etd([("a",), ("a",), ("b",)], k=3, n_types=10) == pytest.approx(2 / 3)
    types = possible_types(g, 3)
    assert ("User", "RATED", "Video", "HAS_GENRE", "Genre", "HAS_GENRE", "Video") in types
    assert ("User", "HAS_GENDER", "Gender", "HAS_GENDER", "User", "RATED", "Video") in types
    assert all(t[0] == "User" and t[-1] == "Video" and len(t) <= 7 for t in types)


# -- on a trained run: Cypher in a real store, counterfactuals ---------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRun]:
    yield served_run(tmp_path_factory)
    stop_all()


@pytest.fixture(scope="module")
def svc(served: ServedRun) -> RecommenderService:
    return RecommenderService(served.run)


def test_each_reasons_cypher_matches_exactly_its_path(
    served: ServedRun, svc: RecommenderService
) -> None:
    info = embedded.start(served.home / "falkordb")
    store = FalkorDBStore.for_server(info, GRAPH)
    checked = 0
    try:
        for u in svc.user_ids[:3]:
            for it in svc.recommend(str(u), k=3, paths=2)["items"]:
                for r in it["reasons"]:
                    if any(rel.startswith("SIMILAR_") for rel in r["relations"]):
                        continue  # the explainer's own kNN edges: not in this graph
                    res = store.read_only(r["cypher"]["statement"], r["cypher"]["params"])
                    assert len(res.rows) == 1, r
                    row = dict(zip(res.columns, res.rows[0], strict=True))
                    assert row["node_ids"] == [n["id"] for n in r["path"]]
                    assert row["node_labels"] == [n["label"] for n in r["path"]]
                    assert row["rel_types"] == r["relations"]
                    assert row["forward"] == r["forward"]
                    flipped = dict(r["cypher"]["params"], forward=[not f for f in r["forward"]])
                    assert store.read_only(r["cypher"]["statement"], flipped).rows == []
                    checked += 1
    finally:
        store.close()
    assert checked >= 3


def test_counterfactuals_are_bounded_and_consistent(svc: RecommenderService) -> None:
    user = str(svc.user_ids[2])
    answer = svc.recommend(user, k=12, paths=3, counterfactual=True)
    reasons = [(it, r) for it in answer["items"] for r in it["reasons"]]
    assert len(reasons) > MAX_MASKED  # the budget binds
    masked = [(it, r) for it, r in reasons if r["counterfactual"] is not None]
    assert len(masked) == answer["cost"]["masked_paths"] == MAX_MASKED
    assert answer["cost"]["counterfactual_ms"] > 0
    for it, r in masked:
        cf = r["counterfactual"]
        assert cf["base_rank"] == it["rank"] and cf["base_score"] == pytest.approx(it["score"])
        assert cf["rank_drop"] == cf["rank"] - cf["base_rank"]
    assert any(r["counterfactual"]["score"] != it["score"] for it, r in masked)
    plain = svc.recommend(user, k=3, paths=1)
    assert plain["cost"]["masked_paths"] == 0
    assert all("counterfactual" not in r for it in plain["items"] for r in it["reasons"])
    masker = svc.masker()
    u = svc.user_index(user)
    assert masker.score(u, 0) == pytest.approx(float(svc.user_vecs[u] @ svc.item_vecs[0]))


def test_models_without_attention_refuse_counterfactuals(svc: RecommenderService) -> None:
    class Flat:
        name = "flat"

        def attention_encoders(self) -> list:
            return []

    with pytest.raises(NotMaskable, match="flat propagates over no attention edges"):
        Masker(Flat(), svc.data, svc.graph)  # type: ignore[arg-type]


def test_api_counterfactual_and_ranking(served: ServedRun, svc: RecommenderService) -> None:
    from api.app import create_app

    user = str(svc.user_ids[1])
    with TestClient(create_app(svc, served.settings)) as c:
        base = f"/users/{user}/recommendations"
        r = c.get(base, params={"k": 2, "paths": 1, "explain": "counterfactual"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["cost"]["masked_paths"] >= 1
        cf = body["items"][0]["reasons"][0]["counterfactual"]
        assert cf["base_rank"] == 1 and cf["rank"] >= 1
        plain = c.get(base, params={"k": 2, "explain": "yes", "path_ranking": "model"}).json()
        assert plain["path_ranking"] == "model" and plain["cost"]["masked_paths"] == 0
        assert plain["items"][0]["reasons"][0]["counterfactual"] is None
        bad = c.get(base, params={"path_ranking": "loud"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == [
            "query",
            "path_ranking",
        ]
        spec = c.get("/openapi.json").json()["paths"]["/users/{user_id}/recommendations"]
        ranking = next(p for p in spec["get"]["parameters"] if p["name"] == "path_ranking")
        enum = next(a["enum"] for a in ranking["schema"]["anyOf"] if "enum" in a)
        assert set(enum) == set(PRESETS)  # the API offers exactly the explainer's rankings
        item = body["items"][0]["item"]
        one = c.get(f"/users/{user}/items/{item}/reasons", params={"counterfactual": "true"})
        assert one.json()["data"][0]["counterfactual"]["base_rank"] == 1


def test_cli_recommend_counterfactual(served: ServedRun) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGREC_")}
    env.update(KGREC_HOME=str(served.home), KGREC_GRAPH=GRAPH, COLUMNS="250")
    user = str(served.run.data().user_ids[1])
    args = [KGREC, "recommend", "--user", user, "-k", "2", "--explain", "--paths", "1"]
    proc = subprocess.run([*args, "--counterfactual", "--path-ranking", "specific", "--json"],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["path_ranking"] == "specific" and answer["cost"]["masked_paths"] == 2
    table = subprocess.run([*args, "--counterfactual"], env=env, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert table.returncode == 0 and "without it #1 -> #" in table.stdout, table.stdout
    bad = subprocess.run([*args, "--path-ranking", "loud"], env=env, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 2 and "--path-ranking must be one of" in bad.stderr
