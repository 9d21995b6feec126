"""The HTTP API on a tiny trained run and its own embedded store: values, errors (404, 422,
503 and recovery when the database comes back), every error in the one documented
``ErrorBody`` shape, and schemathesis's contract checks over the OpenAPI schema."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

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
            assert set(reason) == {"path", "relations", "forward", "score", "rank_score",
                                   "masking_drop", "text", "cypher", "counterfactual"}  # fmt: skip
            assert reason["counterfactual"] is None  # only with explain=counterfactual
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


def _contract_schema() -> schemathesis.BaseSchema:
    """The app's OpenAPI schema, for valid and invalid data. It does not depend on the run or the
    store, so it is read at collection from an app that serves neither; the requests go to the
    ``app`` fixture, in-process (ASGI)."""
    spec = create_app(settings=Settings(home=Path("/nonexistent/kgrec-openapi"))).openapi()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        database="none",
    )
    return schema


contract = _contract_schema()

CONTRACT_CHECKS = [
    not_a_server_error,  # nothing answers 5xx (the database is up: no 503 either)
    status_code_conformance,  # every status answered is documented for the operation
    content_type_conformance,  # and with the documented media type
    response_schema_conformance,  # and its body is what the schema says (ErrorBody for errors)
    negative_data_rejection,  # data the schema rules out is refused with a 4xx
]


@pytest.fixture(scope="module")
def known_ids(served: ServedRun) -> dict[str, list[str]]:
    """Ids the run and the graph know, for each path parameter that names one."""
    users = [str(u) for u in served.run.data().user_ids[:3]]
    frames = {ns.label: ns.frame for ns in served.graph.nodes}
    videos = [str(v) for v in frames["Video"]["id"][:3]]
    genre = str(frames["Genre"]["id"].iloc[0])
    return {"user_id": users, "item_id": videos, "entity_id": [*videos[:2], genre],
            "name": ["overview", "also_watched", "user_profile"]}  # fmt: skip


@contract.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_openapi_contract(
    case: schemathesis.Case, app: FastAPI, known_ids: dict[str, list[str]]
) -> None:
    """Generated requests for every operation, valid and invalid: the answers are the ones the
    OpenAPI schema documents (status, content type, body).

    Random ids are unknown (404): about half the valid cases get known ones instead, so that
    the 200 answers are checked too (invalid cases are left as generated: they must be refused).
    """
    valid = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    for name, value in (case.path_parameters or {}).items():
        pick = zlib.crc32(repr(value).encode())
        if valid and name in known_ids and pick % 2:
            case.path_parameters[name] = known_ids[name][pick // 2 % len(known_ids[name])]
    case.call_and_validate(app=app, checks=CONTRACT_CHECKS)


def test_every_error_is_an_error_body(app: FastAPI) -> None:
    """No route documents FastAPI's own validation-error body (a list in ``detail``): every
    documented 4xx/5xx is ``ErrorBody``, and every route with parameters documents 422."""
    spec = app.openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            errors = {c: r for c, r in op["responses"].items() if c[0] in "45"}
            for code, r in errors.items():
                ref = r["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, code)
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in errors, (method, path)
            if op.get("requestBody"):
                assert "400" in errors, (method, path)


def test_bad_requests_answer_the_documented_error_body(
    client: TestClient, served: ServedRun
) -> None:
    user = _a_user(served)
    r = client.get(f"/users/{user}/recommendations", params={"k": 0, "explain": "maybe"})
    assert r.status_code == 422
    body = r.json()
    assert isinstance(body["detail"], str)
    assert "query parameter 'k'" in body["detail"] and "query parameter 'explain'" in body["detail"]
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [
        (["query", "k"], "greater_than_equal"), (["query", "explain"], "bool_parsing")
    ]  # fmt: skip
    long = client.get("/items/" + "x" * 201)
    assert long.status_code == 422 and long.json()["errors"][0]["loc"] == ["path", "item_id"]
    body_field = client.post("/queries/overview", json={"max_rows": 0})
    assert body_field.status_code == 422
    assert "body field 'max_rows'" in body_field.json()["detail"]
    headers = {"content-type": "application/json"}
    for raw in (b"{not json", b"\xff\xfe"):  # bad JSON, then not UTF-8 at all
        r = client.post("/queries/overview", content=raw, headers=headers)
        assert r.status_code == 400, raw
        assert set(r.json()) == {"detail"} and isinstance(r.json()["detail"], str)


def test_no_run_is_503_for_the_model_only(tmp_path: Path) -> None:
    empty = Settings(home=tmp_path)  # no runs there, no store either
    with TestClient(create_app(settings=empty)) as c:
        r = c.get("/users/u0/recommendations")
        assert r.status_code == 503 and "no runs in" in r.json()["detail"]
        assert c.get("/readyz").status_code == 503
        assert c.get("/livez").status_code == 200
        assert c.get("/runs").json() == {"served": None, "data": [], "count": 0}
