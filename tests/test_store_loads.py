"""Loads through the ``store`` contract fixture (FalkorDB always, Neo4j where reachable): a
fresh load (CREATE) and a re-load (MERGE) of the same graph agree, an export round-trips the
frames, endpoints missing from load and graph are refused before anything is written. Neo4j
only: no statement of the store or of the library draws a deprecation notification, and the
store's driver prints no notification by default."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kg_ingest.synthetic import generate
from kg_store import GraphStore, library
from kg_store.errors import QueryError, StoreError
from kg_store.export import GraphExport
from kg_store.graph_data import GraphData, NodeSet, RelSet


def _graph() -> GraphData:
    return generate(30, 20, seed=5).merged()


def _expected_stats(g: GraphData) -> dict[str, dict[str, int]]:
    rels: dict[str, int] = {}
    for r in g.rels:
        rels[r.type] = rels.get(r.type, 0) + len(r.frame)
    return {
        "nodes": dict(sorted((n.label, len(n.frame)) for n in g.nodes)),
        "relationships": dict(sorted(rels.items())),
    }


def _assert_round_trip(ex: GraphExport, g: GraphData) -> None:
    """Every node key and relationship of ``g`` comes back, with its properties."""
    for ns in g.nodes:
        assert list(ex.ids[ns.label]) == sorted(ns.frame["id"])
    for rs in g.rels:
        got = ex.edges[(rs.src_label, rs.type, rs.dst_label)]
        src, dst = ex.ids[rs.src_label], ex.ids[rs.dst_label]
        back = pd.DataFrame({"src": src[got["src"]], "dst": dst[got["dst"]]})
        for c in rs.frame.columns.drop(["src", "dst"]):
            back[c] = got[c].to_numpy()
        want = rs.frame.sort_values(["src", "dst"], ignore_index=True)
        back = back.sort_values(["src", "dst"], ignore_index=True)
        assert back[list(want.columns)].astype(object).values.tolist() == (
            want.astype(object).values.tolist()
        ), rs.type


def _assert_same_export(a: GraphExport, b: GraphExport) -> None:
    assert a.summary() == b.summary()
    for label, ids in a.ids.items():
        assert list(ids) == list(b.ids[label])
    for key, frame in a.edges.items():
        pd.testing.assert_frame_equal(frame, b.edges[key][frame.columns], check_like=True)
    for label, mat in a.features.items():
        np.testing.assert_array_equal(mat, b.features[label])


@pytest.mark.contract
def test_fresh_load_and_reload_agree(store: GraphStore) -> None:
    g = _graph()
    first = store.load(g)
    assert first.mode == "create"
    stats, ex = store.stats(), store.export()
    assert stats == _expected_stats(g)
    _assert_round_trip(ex, g)

    again = store.load(g)  # an upsert of the same graph: nothing new, nothing lost
    assert again.mode == "merge"
    assert (again.nodes, again.relationships) == (first.nodes, first.relationships)
    assert store.stats() == stats
    _assert_same_export(store.export(), ex)


@pytest.mark.contract
def test_missing_endpoints_are_refused_before_writing(store: GraphStore) -> None:
    g = _graph()
    store.load(g)
    before = store.stats()
    known = next(n.frame["id"][0] for n in g.nodes if n.label == "Video")
    bad = GraphData(
        [NodeSet("User", pd.DataFrame({"id": ["u_new"]}))],
        [RelSet("CLICKED", "User", "Video",
                pd.DataFrame({"src": ["u_new", "u_new"], "dst": ["nope", known]}))],
    )  # fmt: skip
    with pytest.raises(StoreError, match="nope"):
        store.load(bad)
    assert store.stats() == before


# -- Neo4j notifications ---------------------------------------------------------------------


class _Notifications(logging.Handler):
    """Collects what the driver logs on ``neo4j.notifications`` (one record per GQL status
    object the server sent)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def deprecations(self) -> list[str]:
        out = []
        for r in self.records:
            n = getattr(r.args[0], "notification", None) if r.args else None
            if n is not None and str(getattr(n, "classification", "")).endswith("DEPRECATION"):
                out.append(r.getMessage())
        return out


@pytest.fixture
def notifications() -> Iterator[_Notifications]:
    logger = logging.getLogger("neo4j.notifications")
    handler, level = _Notifications(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def loud_neo4j(neo4j_uri: tuple[str, tuple[str, str]]) -> Iterator[Any]:
    """A Neo4j store whose driver asks the server for every notification."""
    from kg_store.neo4j_store import Neo4jStore

    uri, auth = neo4j_uri
    s = Neo4jStore(uri, auth, "neo4j", notifications_min_severity="INFORMATION")
    s.clear()
    yield s
    s.clear()
    s.close()


def _similar(store: GraphStore, params: dict[str, object], wait_s: float = 30.0) -> list[Any]:
    """similar_entities, retried while a just-written vector index is still being built."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return store.query("similar_entities", params).rows
        except QueryError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_neo4j_store_workflow_draws_no_deprecation(
    loud_neo4j: Any, notifications: _Notifications
) -> None:
    store = loud_neo4j
    g = _graph()
    store.load(g)
    store.load(g)
    store.stats()
    ex = store.export()
    keys = list(ex.ids["Genre"])
    vectors = np.random.default_rng(0).normal(size=(len(keys), 8)).astype(np.float32)
    store.write_embeddings("Genre", keys, vectors)
    store.write_embeddings("Genre", keys, vectors)  # drops and rebuilds the index
    for exact_limit in (5000, 0):
        params = {"id": keys[0], "label": "Genre", "exact_limit": exact_limit}
        assert _similar(store, params)  # the index path waits for the index to be built
    store.clear()
    # a label the database does not hold draws a warning: the notifications do come through
    store.read_only("MATCH (n:NoSuchLabelAnywhere) RETURN count(n)")
    assert any("NoSuchLabelAnywhere" in r.getMessage() for r in notifications.records)
    assert notifications.deprecations() == []


_SLOTS = {"label": "Genre", "src": "Video", "dst": "Genre", "type": "HAS_GENRE",
          "prop": "embedding", "index": "embedding_Genre"}  # fmt: skip
_DUMMY: dict[str, object] = {"rows": [], "keys": [], "dim": 8}
_SCHEMA = re.compile(r"^\s*(CREATE|DROP)\s+(CONSTRAINT|INDEX|VECTOR\s+INDEX)\b", re.I)


def _all_statements() -> list[str]:
    names = []
    for p in sorted(library.CYPHER_DIR.rglob("*.cypher")):
        rel = p.relative_to(library.CYPHER_DIR).as_posix()[: -len(".cypher")]
        base, _, dialect = rel.rpartition(".")
        names.append(base if dialect in library.DIALECTS and base else rel)
    return sorted(set(names))


@pytest.mark.parametrize("name", _all_statements())
def test_neo4j_statement_draws_no_deprecation(loud_neo4j: Any, name: str) -> None:
    """EXPLAIN (plans, runs nothing) every statement in the neo4j dialect: the server reports
    deprecated features at planning. Schema commands are run by the workflow test instead."""
    from neo4j import NotificationClassification

    st = loud_neo4j.statement(name)
    # every slot gets an identifier: the named ones above, any other (a spec's key, a path's
    # labels and types) a plain property-like name
    slots = set(re.findall(r"\{\{(\w+)\}\}", st.text))
    text = st.render(**{k: _SLOTS.get(k, f"slot_{k}") for k in slots})
    if _SCHEMA.match(text):
        pytest.skip("schema command: run (with notifications) by the workflow test")
    params = {p.name: _DUMMY.get(p.name, p.default if not p.required else "x") for p in st.params}
    res = loud_neo4j.driver.execute_query("EXPLAIN " + text, params, database_=loud_neo4j.database)
    deprecated = [
        f"{s.gql_status} {s.status_description}"
        for s in res.summary.gql_status_objects
        if s.is_notification and s.classification == NotificationClassification.DEPRECATION
    ]
    assert deprecated == [], name


def test_neo4j_default_store_prints_no_notification(
    neo4j_uri: tuple[str, tuple[str, str]], notifications: _Notifications
) -> None:
    """Notifications are off by default: a query naming a label the database does not hold
    (a warning when asked for) logs nothing."""
    from kg_store.neo4j_store import Neo4jStore

    uri, auth = neo4j_uri
    store = Neo4jStore(uri, auth, "neo4j")
    try:
        store.read_only("MATCH (n:NoSuchLabelAnywhere) RETURN count(n)")
        store.run("store/node_count")
    finally:
        store.close()
    assert notifications.records == []


# -- Neo4j load plan, without a server ---------------------------------------------------------


class _Recorder:
    """Stands in for ``Neo4jStore._execute``: records statements, answers the node count and
    key look-ups from a set of stored keys."""

    def __init__(self, stored: dict[str, set[str]]) -> None:
        self.stored = stored
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, text: str, params: dict[str, Any] | None = None) -> Any:
        from kg_store.base import QueryResult

        params = params or {}
        self.calls.append((text, params))
        if "count(n) AS count" in text:
            return QueryResult(["count"], [[sum(len(v) for v in self.stored.values())]])
        if "UNWIND $keys" in text:
            label = re.search(r"MATCH \(n:`(\w+)`", text).group(1)  # type: ignore[union-attr]
            have = self.stored.get(label, set())
            return QueryResult(
                ["key", "nid"], [[k, f"4:x:{k}"] for k in params["keys"] if k in have]
            )
        return QueryResult([], [])


def _offline_neo4j(stored: dict[str, set[str]], batch: int) -> tuple[Any, _Recorder]:
    from kg_store.neo4j_store import Neo4jStore

    store = Neo4jStore.__new__(Neo4jStore)  # no driver: _execute is replaced
    GraphStore.__init__(store, "neo4j", write_batch=batch)
    rec = _Recorder(stored)
    store._execute = rec  # type: ignore[method-assign]
    return store, rec


def _small() -> GraphData:
    users = pd.DataFrame({"id": ["u1", "u2", "u3"], "age": [20, 30, 40]})
    videos = pd.DataFrame({"id": ["v1", "v2"]})
    rated = pd.DataFrame({"src": ["u1", "u2", "u3", "u1"], "dst": ["v1", "v1", "v2", "v2"],
                          "rating": [1, 2, 3, 4]})  # fmt: skip
    return GraphData([NodeSet("User", users), NodeSet("Video", videos)],
                     [RelSet("RATED", "User", "Video", rated)])  # fmt: skip


def test_neo4j_fresh_load_creates_in_batches_of_plain_rows() -> None:
    store, rec = _offline_neo4j({}, batch=2)
    report = store._load(_small())
    assert report.mode == "create" and (report.nodes, report.relationships) == (5, 4)
    texts = [t for t, _ in rec.calls]
    assert sum("CREATE CONSTRAINT" in t for t in texts) == 2  # User and Video, before any write
    writes = [(t, p) for t, p in rec.calls if "$rows" in t]
    assert all(" MERGE " not in f" {t} " for t, _ in writes)
    node_batches = [p["rows"] for t, p in writes if "(n:`User`" in t]
    assert node_batches == [[["u1", {"age": 20}], ["u2", {"age": 30}]], [["u3", {"age": 40}]]]
    rel_batches = [p["rows"] for t, p in writes if "[e:`RATED`]" in t]
    assert [len(b) for b in rel_batches] == [2, 2]
    assert rel_batches[0][0] == ["u1", "v1", {"rating": 1}]
    assert all("CREATE (a)-[e:`RATED`]->(b)" in t for t, _ in writes if "[e:" in t)
    assert not any("UNWIND $keys" in t for t in texts)  # nothing looked up on a fresh load
    assert not any(re.search(r"\bid\(", t) for t in texts)  # no deprecated id()


def test_neo4j_reload_merges_and_looks_up_outside_endpoints() -> None:
    store, rec = _offline_neo4j({"User": {"u1", "u2", "u3"}, "Video": {"v1", "v2"}}, batch=100)
    more = GraphData(
        [NodeSet("User", pd.DataFrame({"id": ["u4"]}))],
        [RelSet("RATED", "User", "Video",
                pd.DataFrame({"src": ["u1", "u4"], "dst": ["v1", "v2"]}))],
    )  # fmt: skip
    report = store._load(more)
    assert report.mode == "merge"
    lookups = [p["keys"] for t, p in rec.calls if "UNWIND $keys" in t]
    assert sorted(map(sorted, lookups)) == [["u1"], ["v1", "v2"]]
    writes = [t for t, _ in rec.calls if "$rows" in t]
    assert all("MERGE" in t for t in writes) and len(writes) == 2

    before = len(rec.calls)
    with pytest.raises(StoreError, match="nope"):
        store._load(GraphData(
            [NodeSet("User", pd.DataFrame({"id": ["u5"]}))],
            [RelSet("RATED", "User", "Video", pd.DataFrame({"src": ["u5"], "dst": ["nope"]}))],
        ))  # fmt: skip
    assert not any("$rows" in t for t, _ in rec.calls[before:])  # refused before any write
