"""Path explanations: search on hand-made graphs with known answers, weights from a model,
sentences, and the serving object on a tiny trained run."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch

from kg_store.export import GraphExport
from recommend.data import build_recdata, make_split
from recommend.explain import (
    OUTSIDE_SCALE,
    PRESETS,
    EvidenceRule,
    Explainer,
    PathSearch,
    UnknownEntity,
    attention_weights,
    build_path_graph,
    describe,
)
from recommend.models.kgat import KGAT
from recommend.serving import RecommenderService
from tests.serving_run import ServedRun, served_run, stop_all


def _export() -> GraphExport:
    """u0 rated v0 (5) and v1 (3); u1 rated v1 and v2; v0 and v2 are Thrillers; u0 and u1 are
    programmers."""
    e = GraphExport()
    e.ids = {
        "User": pd.Index(["u0", "u1"]),
        "Video": pd.Index(["v0", "v1", "v2", "v3"]),
        "Genre": pd.Index(["Comedy", "Thriller"]),
        "Occupation": pd.Index(["programmer"]),
    }
    e.edges = {
        ("User", "RATED", "Video"): pd.DataFrame(
            {"src": [0, 0, 1, 1], "dst": [0, 1, 1, 2], "rating": [5.0, 3.0, 4.0, 2.0]}
        ),
        ("Video", "HAS_GENRE", "Genre"): pd.DataFrame({"src": [0, 1, 2, 3], "dst": [1, 0, 1, 0]}),
        ("User", "HAS_OCCUPATION", "Occupation"): pd.DataFrame({"src": [0, 1], "dst": [0, 0]}),
    }
    return e


@pytest.fixture
def small() -> tuple[object, object]:
    e = _export()
    split = make_split(e, seed=0, ratios=(1.0, 0.0, 0.0))  # everything is training
    data = build_recdata(e, split, rating_kinds=True)
    return data, build_path_graph(data, e.ids, sim_k=0)


def _paths(g: object, user: str, item: str, max_len: int = 3, n: int = 50) -> set[tuple[str, ...]]:
    s = PathSearch(g, g.node("User", user), max_len=max_len)  # type: ignore[arg-type, attr-defined]
    found = s.top(g.node("Video", item), n)  # type: ignore[attr-defined]
    return {tuple(str(g.keys[x]) for x in nodes) for nodes, _, _ in found}  # type: ignore[attr-defined]


def test_every_simple_path_up_to_the_length_is_found(small: tuple[object, object]) -> None:
    _, g = small
    # u0 -> v2: through v0's genre, through u1 (who rated v1), through the shared occupation
    assert _paths(g, "u0", "v2") == {
        ("u0", "v0", "Thriller", "v2"),
        ("u0", "v1", "u1", "v2"),
        ("u0", "programmer", "u1", "v2"),
    }
    assert _paths(g, "u0", "v2", max_len=2) == set()
    four = _paths(g, "u0", "v3", max_len=4)
    assert ("u0", "v1", "Comedy", "v3") in four
    assert ("u0", "programmer", "u1", "v1", "Comedy", "v3") not in four  # longer than 4
    assert all(len(p) - 1 <= 4 and len(set(p)) == len(p) for p in four)  # simple, bounded
    assert ("u0", "v0", "u0") not in four


def test_scores_are_products_of_weights_and_sorted(small: tuple[object, object]) -> None:
    _, g = small
    rng = np.random.default_rng(0)
    w = rng.random(2 * g.n_edges) + 0.01  # type: ignore[attr-defined]
    g.set_weights(w)  # type: ignore[attr-defined]
    s = PathSearch(g, g.node("User", "u0"))  # type: ignore[arg-type, attr-defined]
    found = s.top(g.node("Video", "v2"), 10)  # type: ignore[attr-defined]
    assert len(found) == 3
    for _, half, score in found:
        assert score == pytest.approx(float(np.prod(w[half])))
    assert [f[2] for f in found] == sorted((f[2] for f in found), reverse=True)


def test_sentences_name_ratings_and_shared_attributes(small: tuple[object, object]) -> None:
    _, g = small
    names = {"Video": {"v0": "Heat (1995)", "v2": "Ronin (1998)"}}
    # every rating counts as evidence here: the sentences of all three paths
    ex = Explainer(g, names, evidence=EvidenceRule(rating_threshold=0, user_mean=False))  # type: ignore[arg-type]
    s = ex.search(g.node("User", "u0"))  # type: ignore[attr-defined]
    reasons = ex.explain(s.user, g.node("Video", "v2"), 3, s)  # type: ignore[attr-defined]
    texts = {r["text"] for r in reasons}
    assert "You rated Heat (1995) 5 stars; Heat and Ronin (1998) share the genre Thriller" in texts
    assert (
        "You and user u1 share the occupation programmer; user u1 rated Ronin (1998) 2 stars"
        in texts
    )
    assert (
        "You rated v1 3 stars; user u1 also rated v1 4 stars and rated Ronin (1998) 2 stars"
        in texts
    )
    by_text = {r["text"]: r for r in reasons}
    r = by_text["You rated Heat (1995) 5 stars; Heat and Ronin (1998) share the genre Thriller"]
    assert r["relations"] == ["RATED", "HAS_GENRE", "HAS_GENRE"]
    assert [n["label"] for n in r["path"]] == ["User", "Video", "Genre", "Video"]
    assert r["path"][1] == {"id": "v0", "label": "Video", "name": "Heat (1995)"}
    assert describe(g, [], names) == ""  # type: ignore[arg-type]


def test_attention_weights_map_the_encoder_edges(small: tuple[object, object]) -> None:
    data, g = small

    class FakeEncoder:  # KGAT layout: items, item-KG entities, then users
        def __init__(self) -> None:
            n_items, kg = data.n_items, data.item_kg  # type: ignore[attr-defined]
            uo = kg.n_entities
            # u0 -> v0 (two relations: summed), v0 -> Thriller
            thr = kg.offsets["Genre"] + 1
            self.edges = torch.tensor([[uo + 0, uo + 0, 0], [0, 1, 2], [0, 0, thr]])
            self.att = torch.tensor([0.25, 0.5, 0.125])
            assert n_items == 4

    class FakeKGAT:  # describes itself to the explainer as KGAT does
        encoder = FakeEncoder()
        attention_encoders = KGAT.attention_encoders

    w = attention_weights(g, FakeKGAT(), data)  # type: ignore[arg-type]
    assert w is not None
    u0, v0 = g.node("User", "u0"), g.node("Video", "v0")  # type: ignore[attr-defined]
    thr = g.node("Genre", "Thriller")  # type: ignore[attr-defined]
    frm, to = g.half_ends(np.arange(2 * g.n_edges))  # type: ignore[attr-defined]
    assert w[(frm == u0) & (to == v0)][0] == pytest.approx(0.75)
    assert w[(frm == v0) & (to == thr)][0] == pytest.approx(0.125)
    # an edge the model does not hold: OUTSIDE_SCALE / degree of its source
    occ = g.node("Occupation", "programmer")  # type: ignore[attr-defined]
    deg = np.diff(g.indptr)  # type: ignore[attr-defined]
    assert w[(frm == occ) & (to == u0)][0] == pytest.approx(OUTSIDE_SCALE / deg[occ])


# -- the serving object on a tiny trained run ----------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRun]:
    yield served_run(tmp_path_factory)
    stop_all()


@pytest.fixture(scope="module")
def svc(served: ServedRun) -> RecommenderService:
    return RecommenderService(served.run)


def test_scores_equal_the_model_and_exclude_training_items(svc: RecommenderService) -> None:
    model = svc.run.load_model("best", svc.data)
    with torch.no_grad():
        model.prepare_scoring()
        full = model.score_all(torch.arange(svc.data.n_users)).numpy()
    for u in range(0, svc.data.n_users, 7):
        np.testing.assert_allclose(svc.scores(u), full[u], rtol=1e-4, atol=1e-4)
        user_id = str(svc.user_ids[u])
        answer = svc.recommend(user_id, k=5, explain=False)
        items = [svc.item_index(it["item"]) for it in answer["items"]]
        assert not set(items) & set(svc.seen(u).tolist())
        unseen = np.setdiff1d(np.arange(svc.data.n_items), svc.seen(u))
        best = unseen[np.argsort(-full[u][unseen], kind="stable")][:5]
        assert [round(float(full[u][i]), 3) for i in items] == [
            round(float(full[u][i]), 3) for i in best
        ]
        assert [it["rank"] for it in answer["items"]] == [1, 2, 3, 4, 5]


def test_recommend_explains_with_training_paths_only(svc: RecommenderService) -> None:
    assert svc.path_scoring == "attention"
    train = {(str(svc.user_ids[u]), str(svc.item_ids[i])) for u, i in svc.data.train}
    heldout = {(str(svc.user_ids[u]), str(svc.item_ids[i]))
               for u, i in np.concatenate([svc.data.valid, svc.data.test])}  # fmt: skip
    user = str(svc.user_ids[0])
    answer = svc.recommend(user, k=4, explain=True, paths=3)
    assert answer["user"] == user and answer["run"] == svc.run.name and len(answer["items"]) == 4
    n_reasons = 0
    for it in answer["items"]:
        assert it["name"] == svc.item_name(svc.item_index(it["item"])) != it["item"]  # a title
        assert len(it["reasons"]) <= 3
        # the default ranking shows the paths whose masking would cost the score most first;
        # the first may give way to a new explanation type within the diversity band
        drops = [r["masking_drop"] for r in it["reasons"]]
        assert None not in drops and drops[1:] == sorted(drops[1:], reverse=True)
        assert drops[0] >= PRESETS["balanced"].diversity * max(drops) - 1e-9
        ranked = svc.recommend(user, k=4, paths=3, path_ranking="model")["items"]
        scores = [r["rank_score"] for r in ranked[0]["reasons"]]
        assert scores == sorted(scores, reverse=True)  # no re-ranking: the search's order
        for r in it["reasons"]:
            n_reasons += 1
            path = r["path"]
            assert path[0]["id"] == user and path[-1]["id"] == it["item"]
            assert len(path) - 1 == len(r["relations"]) <= 3
            assert 0 < r["score"] <= 1 and r["text"]
            # every user-video step of a path is a training interaction
            for a, b in zip(path[:-1], path[1:], strict=True):
                labels = {a["label"], b["label"]}
                if labels == {"User", "Video"}:
                    pair = (a["id"], b["id"]) if a["label"] == "User" else (b["id"], a["id"])
                    assert pair in train and pair not in heldout
    assert n_reasons > 0
    plain = svc.recommend(user, k=4, explain=False)
    assert [i["item"] for i in plain["items"]] == [i["item"] for i in answer["items"]]
    assert all(i["reasons"] == [] for i in plain["items"])


def test_bad_requests_are_refused(svc: RecommenderService) -> None:
    with pytest.raises(UnknownEntity, match="unknown user 'nobody'"):
        svc.recommend("nobody")
    with pytest.raises(ValueError, match="k must be"):
        svc.recommend(str(svc.user_ids[0]), k=0)
    with pytest.raises(ValueError, match="max_len"):
        svc.recommend(str(svc.user_ids[0]), max_len=5)


def test_similar_entities_rank_by_cosine(svc: RecommenderService) -> None:
    item = str(svc.item_ids[0])
    sims = svc.similar("Video", item, 5)
    assert len(sims) == 5 and all(s["label"] == "Video" and s["id"] != item for s in sims)
    assert [s["score"] for s in sims] == sorted((s["score"] for s in sims), reverse=True)
    assert all(-1 - 1e-6 <= s["score"] <= 1 + 1e-6 for s in sims)
    genre = str(svc.graph.keys[svc.graph.offsets["Genre"]])
    assert all(s["label"] == "Genre" for s in svc.similar("Genre", genre, 3))
    assert math.isfinite(svc.similar("Genre", genre, 1)[0]["score"])
