"""The HTTP API on a tiny trained run and its own embedded store: values, errors (404, 422,
503 and recovery when the database comes back), and a schemathesis run over the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from kg_store import embedded
from kgrec.settings import Settings
from recommend.serving import RecommenderService
from tests.serving_run import ServedRun, served_run, stop_all


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRun]:
    yield served_run(tmp_path_factory)
    stop_all()


@pytest.fixture(scope="module")
def app(served: ServedRun) -> FastAPI:
    return create_app(RecommenderService(served.run), served.settings)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _a_user(served: ServedRun) -> str:
    return str(served.run.data().user_ids[0])


def test_recommendations_with_reasons(client: TestClient, served: ServedRun) -> None:
    user = _a_user(served)
    r = client.get(f"/users/{user}/recommendations", params={"k": 5, "paths": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == user and body["run"] == served.run.name and body["model"] == "mmkgat"
    assert [it["rank"] for it in body["items"]] == [1, 2, 3, 4, 5]
    scores = [it["score"] for it in body["items"]]
    assert scores == sorted(scores, reverse=True)
    videos = next(ns.frame for ns in served.graph.nodes if ns.label == "Video")
    titles = dict(zip(videos["id"], videos["title"], strict=True))
    assert any(it["reasons"] for it in body["items"])
    for it in body["items"]:
        assert it["name"] == titles[it["item"]]
        assert len(it["reasons"]) <= 2
        for reason in it["reasons"]:
            assert set(reason) == {"path", "relations", "score", "text"}
            assert reason["path"][0] == {"id": user, "label": "User", "name": f"user {user}"}
            assert reason["path"][-1]["id"] == it["item"]
    plain = client.get(f"/users/{user}/recommendations", params={"k": 5, "explain": "false"})
    assert [it["item"] for it in plain.json()["items"]] == [it["item"] for it in body["items"]]
    assert all(it["reasons"] == [] for it in plain.json()["items"])
    one = body["items"][0]["item"]
    reasons = client.get(f"/users/{user}/items/{one}/reasons", params={"paths": 2}).json()
    assert reasons["data"] == body["items"][0]["reasons"] and reasons["count"] <= 2


def test_graph_endpoints(client: TestClient, served: ServedRun) -> None:
    user = _a_user(served)
    prof = client.get(f"/users/{user}").json()
    assert prof["id"] == user and prof["in_run"] is True
    assert {a["label"] for a in prof["attributes"]} == {"AgeGroup", "Gender", "Occupation"}
    clicked = served.graph.rels
    n_hist = sum(int((rs.frame["src"] == user).sum()) for rs in clicked if rs.type == "CLICKED")
    assert len(prof["history"]) == n_hist and all("CLICKED" in h["kinds"] for h in prof["history"])
    item = prof["history"][0]["item"]
    it = client.get(f"/items/{item}").json()
    assert it["id"] == item and it["title"] == prof["history"][0]["title"]
    assert "vector" not in it["properties"] and it["users"] >= 1 and it["in_run"] is True
    assert {"HAS_GENRE", "CREATED_BY"} <= {a["relation"] for a in it["attributes"]}
    sims = client.get(f"/entities/{item}/similar", params={"k": 3}).json()
    assert sims["entity"]["label"] == "Video" and sims["count"] == 3
    assert all(s["label"] == "Video" for s in sims["data"])
    genre = next(a["id"] for a in it["attributes"] if a["label"] == "Genre")
    assert client.get(f"/entities/{genre}/similar", params={"label": "Genre"}).status_code == 200
    queries = client.get("/queries").json()
    names = {q["name"] for q in queries["data"]}
    assert {"user_profile", "also_watched"} <= names and queries["count"] == len(names)
    ans = client.post("/queries/also_watched", json={"params": {"item_id": item, "limit": 3}})
    assert ans.status_code == 200 and ans.json()["columns"] == ["item_id", "title", "co_users"]
    assert len(ans.json()["rows"]) <= 3
    runs = client.get("/runs").json()
    assert runs["served"] == served.run.name and runs["count"] == 1 and runs["data"][0]["served"]
    assert client.get("/livez").json() == {"status": "ok", "run": None, "graph": None}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["run"] == served.run.name


def test_errors(client: TestClient, served: ServedRun) -> None:
    user = _a_user(served)
    for url in ("/users/nobody/recommendations", "/users/nobody", "/items/nothing",
                "/entities/nothing/similar", f"/users/{user}/items/nothing/reasons"):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 404, url
        assert "nobody" in r.json()["detail"] or "nothing" in r.json()["detail"]
    assert client.post("/queries/no_such_query", json={}).status_code == 404
    for params in ({"k": 0}, {"k": "ten"}, {"paths": 11}, {"max_len": 5}, {"explain": "maybe"}):
        assert client.get(f"/users/{user}/recommendations", params=params).status_code == 422
    missing = client.post("/queries/also_watched", json={"params": {}})
    assert missing.status_code == 422 and "item_id" in missing.json()["detail"]
    unknown = client.post("/queries/overview", json={"params": {"x": 1}})
    assert unknown.status_code == 422 and "'x'" in unknown.json()["detail"]


def test_database_down_is_503_and_the_service_recovers(
    client: TestClient, served: ServedRun
) -> None:
    user = _a_user(served)
    data_dir = served.home / "falkordb"
    assert client.get(f"/users/{user}").status_code == 200
    embedded.stop(data_dir)
    try:
        for url in (f"/users/{user}", "/items/x", "/readyz"):
            r = client.get(url)
            assert r.status_code == 503, url
            assert "not reachable" in r.json()["detail"] or "not running" in r.json()["detail"]
        assert client.post("/queries/overview", json={}).status_code == 503
        # no database needed: the model answers, liveness too
        assert client.get(f"/users/{user}/recommendations").status_code == 200
        assert client.get("/livez").status_code == 200
    finally:
        embedded.start(data_dir)  # on a new port: the API must find it by itself
    assert client.get(f"/users/{user}").status_code == 200
    assert client.get("/readyz").json()["status"] == "ready"


def test_openapi_has_stable_operation_ids(app: FastAPI) -> None:
    ops = {op["operationId"] for p in app.openapi()["paths"].values() for op in p.values()}
    assert ops == {"getRecommendations", "getReasons", "getUser", "getItem",
                   "getSimilarEntities", "listQueries", "runQuery", "listRuns", "livez",
                   "readyz"}  # fmt: skip


def test_schemathesis_finds_no_server_errors(app: FastAPI) -> None:
    """Generated requests for every operation: nothing answers 5xx (the database is up, so the
    documented 503 does not apply)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) == 10
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=6, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"-> {response.status_code} {response.text[:200]}")  # fmt: skip

        check()
    assert failures == []


def test_no_run_is_503_for_the_model_only(tmp_path: Path) -> None:
    empty = Settings(home=tmp_path)  # no runs there, no store either
    with TestClient(create_app(settings=empty)) as c:
        r = c.get("/users/u0/recommendations")
        assert r.status_code == 503 and "no runs in" in r.json()["detail"]
        assert c.get("/readyz").status_code == 503
        assert c.get("/livez").status_code == 200
        assert c.get("/runs").json() == {"served": None, "data": [], "count": 0}
