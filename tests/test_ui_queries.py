"""The dashboard's own Cypher (``cypher/ui/``) on FalkorDB against the small synthetic graph,
each answer checked against the frames; and the graph views the pages draw (no browser)."""

from __future__ import annotations

import re
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_ingest.synthetic import generate
from kg_store import GraphStore, embedded, library
from kg_store.falkordb_store import FalkorDBStore
from kg_store.graph_data import GraphData, NodeSet, RelSet
from tests.test_cli import KGREC, _env
from ui.graph import GraphView, display_value, from_result, node_key

MODALITY = {"Visual", "Acoustic", "Textual"}


@pytest.fixture(scope="module")
def graph() -> GraphData:
    return generate(60, 40, seed=1).merged()


@pytest.fixture(scope="module", params=["falkordb", "neo4j"])
def lib(request: pytest.FixtureRequest, graph: GraphData) -> Iterator[GraphStore]:
    """The graph loaded once per backend (Neo4j where reachable, as the contract tests)."""
    store: GraphStore
    if request.param == "falkordb":
        server: embedded.ServerInfo = request.getfixturevalue("falkordb_server")
        store = FalkorDBStore.for_server(server, "uiqueries")
    else:
        from kg_store.neo4j_store import Neo4jStore

        uri, auth = request.getfixturevalue("neo4j_uri")
        store = Neo4jStore(uri, auth, "neo4j")
    store.clear()
    store.load(graph)
    yield store
    store.clear()
    store.close()


def _edges(g: GraphData) -> pd.DataFrame:
    """Every relationship as (src key, type, dst key)."""
    parts = [
        pd.DataFrame({"src": r.src_label + ":" + r.frame["src"].astype(str), "type": r.type,
                      "dst": r.dst_label + ":" + r.frame["dst"].astype(str)})
        for r in g.rels
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _neighbours(edges: pd.DataFrame, key: str) -> set[str]:
    return set(edges.loc[edges["src"] == key, "dst"]) | set(edges.loc[edges["dst"] == key, "src"])


def test_files_have_headers_and_declare_their_params() -> None:
    files = sorted((library.CYPHER_DIR / "ui").glob("*.cypher"))
    assert len(files) >= 6
    for path in files:
        st = library._parse(f"ui/{path.stem}", path)
        assert len(st.description) > 30, path.name
        used = set(re.findall(r"\$(\w+)", st.text))
        assert used == {p.name for p in st.params}, path.name


def test_find_nodes(lib: GraphStore) -> None:
    rows = lib.query("ui/find_nodes", {"text": "U1"}).records()
    assert rows[0] == {"label": "User", "id": "u1", "name": None, "exact": True}
    assert all("u1" in r["id"] for r in rows) and len(rows) == 11  # u1, u10..u19
    comedy = lib.query("ui/find_nodes", {"text": "comedy"}).records()
    assert {(r["label"], r["id"]) for r in comedy} >= {("Genre", "Comedy")}
    assert all(r["label"] in ("Genre", "Tag") for r in comedy)
    # a video id also names its modality nodes: they only come when asked for
    v3 = lib.query("ui/find_nodes", {"text": "v3", "limit": 100}).records()
    assert {r["label"] for r in v3} == {"Video"}
    vis = lib.query("ui/find_nodes", {"text": "v3", "label": "Visual"}).records()
    assert vis[0]["id"] == "v3" and {r["label"] for r in vis} == {"Visual"}
    titled = lib.query("ui/find_nodes", {"text": "forest", "label": "Video"}).records()
    assert titled and all("forest" in r["name"].lower() for r in titled)


def test_node_properties(lib: GraphStore, graph: GraphData) -> None:
    videos = next(n.frame for n in graph.nodes if n.label == "Video").set_index("id")
    rec = lib.query("ui/node_properties", {"label": "Video", "id": "v3"}).records()[0]
    assert rec["labels"] == ["Video"]
    assert rec["properties"]["title"] == videos.loc["v3", "title"]
    assert rec["properties"]["year"] == int(str(videos.loc["v3", "year"]))
    assert rec["degree"] == len(_neighbours_all(graph, "Video:v3"))
    assert lib.query("ui/node_properties", {"label": "User", "id": "v3"}).rows == []


def _neighbours_all(g: GraphData, key: str) -> list[tuple[str, str, str]]:
    e = _edges(g)
    hit = e[(e["src"] == key) | (e["dst"] == key)]
    return list(hit.itertuples(index=False, name=None))


@pytest.mark.parametrize("hops", [1, 2])
def test_neighbourhood_graph(lib: GraphStore, graph: GraphData, hops: int) -> None:
    edges = _edges(graph)
    centre = "User:u3"
    level1 = _neighbours(edges, centre)
    expected = {centre} | level1
    if hops == 2:
        for k in level1:
            expected |= _neighbours(edges, k)
    rows = lib.query(
        "ui/neighbourhood_graph", {"label": "User", "id": "u3", "hops": hops, "limit": 10_000}
    ).records()
    keys = {node_key(r["label"], r["id"]) for r in rows}
    assert keys == expected
    assert {node_key(r["label"], r["id"]): r["hops"] for r in rows}[centre] == 0
    assert all(r["hops"] == 1 for r in rows if node_key(r["label"], r["id"]) in level1)
    drawn = {(node_key(r["label"], r["id"]), t, node_key(lb, i))
             for r in rows for t, lb, i in r["out"]}  # fmt: skip
    among = edges[edges["src"].isin(expected) & edges["dst"].isin(expected)]
    assert drawn == set(among.itertuples(index=False, name=None))


def test_neighbourhood_graph_keeps_the_nearest_within_the_limit(lib: GraphStore) -> None:
    rows = lib.query(
        "ui/neighbourhood_graph", {"label": "User", "id": "u3", "hops": 2, "limit": 8}
    ).records()
    assert len(rows) == 8 and rows[0]["hops"] == 0 and {r["hops"] for r in rows} == {0, 1}
    keys = {node_key(r["label"], r["id"]) for r in rows}
    assert all(node_key(lb, i) in keys for r in rows for _, lb, i in r["out"])
    assert lib.query("ui/neighbourhood_graph", {"label": "User", "id": "nobody"}).rows == []


def test_degree_distribution(lib: GraphStore, graph: GraphData) -> None:
    e = _edges(graph)
    degree = Counter(e["src"]) + Counter(e["dst"])
    for label in ("Video", "Genre", "User"):
        ids = next(n.frame for n in graph.nodes if n.label == label)["id"]
        want = Counter(degree[f"{label}:{i}"] for i in ids)
        rows = lib.query("ui/degree_distribution", {"label": label}).records()
        assert {r["degree"]: r["nodes"] for r in rows} == dict(want)
    everything = lib.query("ui/degree_distribution").records()
    assert sum(r["nodes"] for r in everything) == graph.node_count()


def test_interactions_over_time(lib: GraphStore, graph: GraphData) -> None:
    week = 7 * 86_400
    rows = lib.query("ui/interactions_over_time", {"bucket": week}).records()
    for rel in graph.rels:
        if rel.src_label == "User" and rel.dst_label == "Video" and "ts" in rel.frame:
            ts = rel.frame["ts"].dropna().astype(np.int64)
            want = Counter((ts - ts % week).tolist())
            got = {r["bucket"]: r["interactions"] for r in rows if r["kind"] == rel.type}
            assert got == dict(want), rel.type
    assert all(r["bucket"] % week == 0 for r in rows)


def test_embedding_counts(lib: GraphStore, falkordb_server: embedded.ServerInfo) -> None:
    assert lib.query("ui/embedding_counts").rows == []
    if lib.dialect != "falkordb":
        return
    store = FalkorDBStore.for_server(falkordb_server, "uiembeddings")
    try:
        store.clear()
        frame = pd.DataFrame({"id": ["a", "b", "c"], "embedding": [[0.1, 0.2], [0.3, 0.4], None]})
        store.load(GraphData(nodes=[NodeSet("Genre", frame),
                                    NodeSet("Video", pd.DataFrame({"id": ["v"]}))]))  # fmt: skip
        rows = store.query("ui/embedding_counts").records()
        assert rows == [{"label": "Genre", "nodes": 2}]
    finally:
        store.clear()
        store.close()


# -- graph views ------------------------------------------------------------------------------
def test_view_of_a_neighbourhood_drops_edges_to_nodes_not_kept() -> None:
    view = GraphView()
    view.add_neighbourhood([
        {"label": "User", "id": "u1", "name": None, "hops": 0,
         "out": [["LIKED", "Video", "v1"], ["LIKED", "Video", "v9"]]},
        {"label": "Video", "id": "v1", "name": "Film", "hops": 1, "out": []},
    ])  # fmt: skip
    view.add_neighbourhood([
        {"label": "Video", "id": "v1", "name": "Film", "hops": 0,
         "out": [["HAS_GENRE", "Genre", "g"]]},
        {"label": "Genre", "id": "g", "name": "g", "hops": 1, "out": []},
    ])  # fmt: skip
    assert set(view.nodes) == {"User:u1", "Video:v1", "Genre:g"}
    assert view.nodes["Video:v1"].hops == 0 and view.nodes["Video:v1"].caption == "Film"
    assert [(e.src, e.type, e.dst) for e in view.edges] == [
        ("User:u1", "LIKED", "Video:v1"), ("Video:v1", "HAS_GENRE", "Genre:g")]  # fmt: skip
    assert view.types() == ["HAS_GENRE", "LIKED"]


def test_explanation_path_directions() -> None:
    view = GraphView()
    path = [{"id": "u1", "label": "User", "name": "user u1"},
            {"id": "35-44", "label": "AgeGroup", "name": "35-44"},
            {"id": "u2", "label": "User", "name": "user u2"},
            {"id": "v1", "label": "Video", "name": "Film"}]  # fmt: skip
    keys = view.add_path(path, ["IN_AGE_GROUP", "IN_AGE_GROUP", "CLICKED"])
    assert keys == ["User:u1", "AgeGroup:35-44", "User:u2", "Video:v1"]
    # relationships point from users to videos to attributes, whatever the path's direction
    assert [(e.src, e.dst) for e in view.edges] == [
        ("User:u1", "AgeGroup:35-44"),
        ("User:u2", "AgeGroup:35-44"),
        ("User:u2", "Video:v1"),
    ]
    other = GraphView()
    other.add_path(path[:2], ["X"], forward=[False])  # an explicit direction wins
    assert [(e.src, e.dst) for e in other.edges] == [("AgeGroup:35-44", "User:u1")]


def test_view_of_query_values(lib: GraphStore) -> None:
    res = lib.read_only(
        "MATCH p = (u:User {id: 'u3'})-[r]->(v:Video) RETURN u, r, v, p, v.id ORDER BY v.id LIMIT 3"
    )
    view = from_result(res.columns, res.rows)
    assert view is not None
    labels = Counter(n.label for n in view.nodes.values())
    assert labels == {"User": 1, "Video": len({r[4] for r in res.rows})}
    assert len(view.edges) == 3 and all(view.nodes[e.src].label == "User" for e in view.edges)
    assert display_value(res.rows[0][0]).startswith("(:User {")
    assert display_value(list(np.arange(64.0))).startswith('"[64 numbers: 0, 1, 2, ')
    assert from_result(["n"], [[1], [2]]) is None
    bare = from_result(["r"], [[res.rows[0][1]]])
    assert bare is not None and len(bare.edges) == 1
    if lib.dialect == "falkordb":  # its relationships name their endpoints by internal id only
        assert {n.label for n in bare.nodes.values()} == {"Node"}


def test_view_of_library_paths(lib: GraphStore) -> None:
    res = lib.query("paths_user_item", {"user_id": "u3", "item_id": "v3", "max_len": 2})
    view = from_result(res.columns, res.rows)
    assert view is not None and "User:u3" in view.nodes and "Video:v3" in view.nodes
    for rec in res.records():
        for k, rel in enumerate(rec["rel_types"]):
            a = node_key(rec["node_labels"][k], rec["node_ids"][k])
            b = node_key(rec["node_labels"][k + 1], rec["node_ids"][k + 1])
            src, dst = (a, b) if rec["forward"][k] else (b, a)
            assert any((e.src, e.type, e.dst) == (src, rel, dst) for e in view.edges)


def test_relset_helper_is_consistent(graph: GraphData) -> None:
    # the frame-side reference the tests above rely on: every relationship once
    assert len(_edges(graph)) == graph.rel_count()
    assert all(isinstance(r, RelSet) for r in graph.rels)


def test_kgrec_ui_fails_in_one_line_when_the_store_does_not_answer(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "KGREC_GRAPH_URI": f"bolt://127.0.0.1:{_closed_port()}",
           "KGREC_CONNECT_TIMEOUT": "1"}  # fmt: skip
    proc = subprocess.run([KGREC, "ui", "--port", "1"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error:") and "127.0.0.1" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
