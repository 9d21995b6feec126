"""The analysts' Cypher library (top level of ``cypher/``), run on FalkorDB against a small
synthetic graph; every answer is checked against the same question asked of the frames."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from kg_ingest.synthetic import generate
from kg_store import GraphStore, embedded, library
from kg_store.falkordb_store import FalkorDBStore
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

USER_SIDE = {model.IN_AGE_GROUP, model.HAS_GENDER, model.HAS_OCCUPATION}
ITEM_ATTRS = {model.HAS_GENRE, model.HAS_TAG, model.CREATED_BY, model.RELEASED_IN}
INTERACTIONS = {"CLICKED", "FINISHED", "LIKED", "SHARED"}
# The required parameters of every library query; test_library_is_covered keeps this in step
# with the files, and each query has a value test below.
REQUIRED: dict[str, dict[str, object]] = {
    "overview": {},
    "user_profile": {"user_id": "u3"},
    "shared_attributes": {"user_id": "u3"},
    "top_items_by_genre": {"genre": "Comedy"},
    "top_items_by_tag": {"tag": "vlog"},
    "neighbourhood": {"id": "v3"},
    "paths_user_item": {"user_id": "u3", "item_id": "v3"},
    "also_watched": {"item_id": "v3"},
    "similar_in_modality": {"item_id": "v3"},
    "similar_entities": {"id": "Comedy", "label": "Genre"},  # value tests: test_embed_store.py
}


@pytest.fixture(scope="module")
def graph() -> GraphData:
    return generate(60, 40, seed=1).merged()


@pytest.fixture(scope="module", params=["falkordb", "neo4j"])
def lib(request: pytest.FixtureRequest, graph: GraphData) -> Iterator[GraphStore]:
    """The graph loaded once per backend (Neo4j where reachable, as the contract tests)."""
    store: GraphStore
    if request.param == "falkordb":
        server: embedded.ServerInfo = request.getfixturevalue("falkordb_server")
        store = FalkorDBStore.for_server(server, "cypherlib")
    else:
        from kg_store.neo4j_store import Neo4jStore

        uri, auth = request.getfixturevalue("neo4j_uri")
        store = Neo4jStore(uri, auth, "neo4j")
    store.clear()
    store.load(graph)
    yield store
    store.clear()
    store.close()


def _rels(g: GraphData, rel: str) -> pd.DataFrame:
    return next(r.frame for r in g.rels if r.type == rel)


def _interactions(g: GraphData) -> pd.DataFrame:
    return pd.concat(
        [r.frame.assign(kind=r.type) for r in g.rels if r.type in INTERACTIONS],
        ignore_index=True,
    )


def _records(store: GraphStore, name: str, **params: object) -> list[dict[str, object]]:
    res = store.query(name, params, max_rows=100_000)
    assert not res.truncated
    return res.records()


# -- the library as files ---------------------------------------------------------------------


def test_every_file_has_a_header_and_declares_its_params() -> None:
    files = sorted(library.CYPHER_DIR.glob("*.cypher"))
    assert files
    for path in files:
        name = path.name.split(".")[0]
        st = library._parse(name, path)
        assert len(st.description) > 30, f"{path.name}: header description missing"
        used = set(re.findall(r"\$(\w+)", st.text))
        declared = {p.name for p in st.params}
        assert used == declared, f"{path.name}: uses {sorted(used)}, declares {sorted(declared)}"
        assert not re.search(r"\{\{\w+\}\}", st.text), f"{path.name}: slots in a library query"


def test_library_is_covered() -> None:
    assert set(library.library_names()) == set(REQUIRED)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_runs_with_defaults(lib: GraphStore, name: str) -> None:
    st = lib.statement(name)
    assert {p.name for p in st.params if p.required} == set(REQUIRED[name])
    res = lib.query(name, REQUIRED[name])
    assert res.columns and res.elapsed_s < 10


# -- each query ------------------------------------------------------------------------------


def test_overview_counts_match_the_frames(lib: GraphStore, graph: GraphData) -> None:
    rows = _records(lib, "overview")
    got = {(r["kind"], r["name"]): r["count"] for r in rows}
    want = {("node", n.label): len(n.frame) for n in graph.nodes}
    want |= {("relationship", r.type): len(r.frame) for r in graph.rels}
    assert got == want
    assert [r["kind"] for r in rows] == sorted(r["kind"] for r in rows)


def test_user_profile(lib: GraphStore, graph: GraphData) -> None:
    rows = _records(lib, "user_profile", user_id="u3", limit=1000)
    inter = _interactions(graph)
    mine = inter[inter["src"] == "u3"]
    want = mine.groupby("dst").agg(kinds=("kind", set), ts=("ts", "max"), first=("ts", "min"))
    assert {r["item_id"] for r in rows} == set(want.index)
    for r in rows:
        w = want.loc[r["item_id"]]
        assert set(r["kinds"]) == w["kinds"] and len(r["kinds"]) == len(w["kinds"])
        assert (r["ts"], r["first_ts"], r["rating"]) == (w["ts"], w["first"], None)
    assert [r["ts"] for r in rows] == sorted((r["ts"] for r in rows), reverse=True)
    attrs = {
        f"{r.dst_label}: {r.frame.set_index('src')['dst']['u3']}"
        for r in graph.rels
        if r.type in USER_SIDE
    }
    assert all(set(r["attributes"]) == attrs for r in rows)
    users = next(n.frame for n in graph.nodes if n.label == model.USER).set_index("id")
    assert rows[0]["age"] == users.loc["u3", "age"] and rows[0]["user_id"] == "u3"
    assert len(_records(lib, "user_profile", user_id="u3", limit=3)) == 3
    assert _records(lib, "user_profile", user_id="nobody") == []


def _item_attrs(graph: GraphData) -> pd.DataFrame:
    return pd.concat(
        [r.frame[["src", "dst"]].assign(attr=r.dst_label + ": " + r.frame["dst"])
         for r in graph.rels if r.type in ITEM_ATTRS],
        ignore_index=True,
    )  # fmt: skip


def test_shared_attributes(lib: GraphStore, graph: GraphData) -> None:
    rows = _records(lib, "shared_attributes", user_id="u3", limit=1000)
    inter = _interactions(graph)
    seen = set(inter.loc[inter["src"] == "u3", "dst"])
    attrs = _item_attrs(graph)
    mine = set(attrs.loc[attrs["src"].isin(seen), "attr"])
    cand = attrs[~attrs["src"].isin(seen) & attrs["attr"].isin(mine)]
    shared = cand.groupby("src")["attr"].agg(set)
    want = sorted(((-len(s), item) for item, s in shared.items()))
    assert [(-r["shared_count"], r["item_id"]) for r in rows] == want
    assert all(set(r["shared"]) == shared[r["item_id"]] for r in rows)
    assert len(_records(lib, "shared_attributes", user_id="u3")) == min(20, len(want))


def _top_items(graph: GraphData, rel: str, value: str) -> list[tuple[str, int, int]]:
    inter = _interactions(graph)
    items = set(_rels(graph, rel).query("dst == @value")["src"])
    hit = inter[inter["dst"].isin(items)]
    users = hit.groupby("dst")["src"].nunique()
    count = hit.groupby("dst").size()
    out = [(i, int(users.get(i, 0)), int(count.get(i, 0))) for i in items]
    return sorted(out, key=lambda t: (-t[1], -t[2], t[0]))


@pytest.mark.parametrize(
    ("query", "rel", "param"),
    [("top_items_by_genre", model.HAS_GENRE, "genre"), ("top_items_by_tag", model.HAS_TAG, "tag")],
)
def test_top_items(lib: GraphStore, graph: GraphData, query: str, rel: str, param: str) -> None:
    value = _rels(graph, rel)["dst"].value_counts().index[0]  # the most used genre / tag
    want = _top_items(graph, rel, value)
    assert len(want) > 2
    rows = _records(lib, query, **{param: value.upper(), "limit": 1000})
    assert [(r["item_id"], r["users"], r["interactions"]) for r in rows] == want
    assert len(_records(lib, query, **{param: value, "limit": 2})) == 2
    assert _records(lib, query, **{param: "no such thing"}) == []


def _adjacency(graph: GraphData) -> dict[tuple[str, str], list[tuple[tuple[str, str], str, bool]]]:
    """(label, id) -> [(neighbour, relationship type, points away from the node)]."""
    adj: dict[tuple[str, str], list[tuple[tuple[str, str], str, bool]]] = {}
    for r in graph.rels:
        for s, d in zip(r.frame["src"], r.frame["dst"], strict=True):
            a, b = (r.src_label, s), (r.dst_label, d)
            adj.setdefault(a, []).append((b, r.type, True))
            adj.setdefault(b, []).append((a, r.type, False))
    return adj


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_neighbourhood(lib: GraphStore, graph: GraphData, hops: int) -> None:
    adj = _adjacency(graph)
    centres = [(label, "v3") for label in (model.VIDEO, *model.MODALITIES)]
    want = set()
    for centre in centres:
        dist = {centre: 0}
        frontier = [centre]
        for h in range(1, hops + 1):
            nxt = []
            for node in frontier:
                for nb, _, _ in adj[node]:
                    if nb not in dist:
                        dist[nb] = h
                        nxt.append(nb)
            frontier = nxt
        want |= {(centre[0], h, n[0], n[1]) for n, h in dist.items() if h > 0}
    rows = _records(lib, "neighbourhood", id="v3", hops=hops, limit=100_000)
    got = [(r["centre_label"], r["hops"], r["label"], r["id"]) for r in rows]
    assert len(got) == len(set(got)) and set(got) == want
    assert got == sorted(got)
    only = _records(lib, "neighbourhood", id="v3", label="Video", hops=hops, limit=100_000)
    assert {(r["hops"], r["label"], r["id"]) for r in only} == {
        (h, lb, i) for c, h, lb, i in want if c == "Video"
    }
    assert len(_records(lib, "neighbourhood", id="v3", limit=5)) == 5


def _simple_paths(
    adj: dict[tuple[str, str], list[tuple[tuple[str, str], str, bool]]],
    start: tuple[str, str],
    end: tuple[str, str],
    max_len: int,
) -> Counter[tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[bool, ...]]]:
    out: Counter[tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[bool, ...]]] = Counter()
    stack = [((start,), (), ())]
    while stack:
        nodes, types, fwd = stack.pop()
        for nb, t, f in adj[nodes[-1]]:
            if nb in nodes:
                continue
            path = (nodes + (nb,), types + (t,), fwd + (f,))
            if nb == end:
                out[path] += 1
            elif len(types) + 1 < max_len:
                stack.append(path)
    return out


@pytest.mark.parametrize("max_len", [1, 2, 3])
def test_paths_user_item(lib: GraphStore, graph: GraphData, max_len: int) -> None:
    inter = _interactions(graph)
    seen = inter.loc[inter["src"] == "u3", "dst"]
    adj = _adjacency(graph)
    for item in (seen.iloc[0], sorted(set(inter["dst"]) - set(seen))[0]):
        rows = _records(
            lib, "paths_user_item", user_id="u3", item_id=item, max_len=max_len, limit=100_000
        )
        got: Counter[tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[bool, ...]]] = (
            Counter()
        )
        for r in rows:
            nodes = tuple(zip(r["node_labels"], r["node_ids"], strict=True))
            assert nodes[0] == ("User", "u3") and nodes[-1] == ("Video", item)
            assert r["len"] == len(r["rel_types"]) == len(nodes) - 1 <= max_len
            got[(nodes, tuple(r["rel_types"]), tuple(r["forward"]))] += 1
        assert got == _simple_paths(adj, ("User", "u3"), ("Video", item), max_len)
        assert [r["len"] for r in rows] == sorted(r["len"] for r in rows)
        assert rows or max_len < 3  # every user reaches every item in 3 hops here
    direct = _records(lib, "paths_user_item", user_id="u3", item_id=seen.iloc[0], max_len=1)
    kinds = set(inter.loc[(inter["src"] == "u3") & (inter["dst"] == seen.iloc[0]), "kind"])
    assert {r["rel_types"][0] for r in direct} == kinds
    assert all(r["forward"] == [True] for r in direct)


def test_also_watched(lib: GraphStore, graph: GraphData) -> None:
    pairs = _interactions(graph)[["src", "dst"]].drop_duplicates()
    users = set(pairs.loc[pairs["dst"] == "v3", "src"])
    co = pairs[pairs["src"].isin(users) & (pairs["dst"] != "v3")].groupby("dst").size()
    want = sorted(((-int(n), item) for item, n in co.items()))
    rows = _records(lib, "also_watched", item_id="v3", limit=1000)
    assert [(-r["co_users"], r["item_id"]) for r in rows] == want
    assert len(_records(lib, "also_watched", item_id="v3")) == min(20, len(want))


@pytest.mark.parametrize("modality", model.MODALITIES)
def test_similar_in_modality_matches_numpy_cosine(
    lib: GraphStore, graph: GraphData, modality: str
) -> None:
    frame = next(n.frame for n in graph.nodes if n.label == modality).set_index("id")
    x = np.asarray(frame["vector"].tolist())
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cos = pd.Series(x @ x[frame.index.get_loc("v3")], index=frame.index).drop("v3")
    rows = _records(lib, "similar_in_modality", item_id="v3", modality=modality, limit=1000)
    assert len(rows) == len(cos) and {r["source"] for r in rows} == {"computed"}
    assert rows[0]["item_id"] == cos.idxmax()
    got = pd.Series([r["score"] for r in rows], index=[r["item_id"] for r in rows])
    np.testing.assert_allclose(got[cos.index], cos, atol=1e-6)
    assert list(got) == sorted(got, reverse=True)
    assert len(_records(lib, "similar_in_modality", item_id="v3", modality=modality)) == 10
    assert _records(lib, "similar_in_modality", item_id="v3", modality="Smell") == []


def test_similar_in_modality_prefers_materialised_scores(store: GraphStore) -> None:
    ids = ["a", "b", "c"]
    vec = pd.DataFrame({"id": ids, "vector": [[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]})
    store.load(
        GraphData(
            nodes=[NodeSet(model.VIDEO, pd.DataFrame({"id": ids})), NodeSet(model.VISUAL, vec)],
            rels=[
                RelSet("HAS_VISUAL", model.VIDEO, model.VISUAL,
                       pd.DataFrame({"src": ids, "dst": ids})),
                RelSet("SIMILAR_VISUAL", model.VIDEO, model.VIDEO,
                       pd.DataFrame({"src": ["a", "c"], "dst": ["b", "a"], "score": [0.9, 0.2]})),
            ],
        )
    )  # fmt: skip
    rows = store.query("similar_in_modality", {"item_id": "a"}).records()
    assert [(r["item_id"], r["score"], r["source"]) for r in rows] == [
        ("b", 0.9, "materialised"),
        ("c", 0.2, "materialised"),
    ]
    rows = store.query("similar_in_modality", {"item_id": "b"}).records()
    assert [(r["item_id"], r["source"]) for r in rows] == [("a", "materialised")]
    rows = store.query("similar_in_modality", {"item_id": "a", "modality": "Acoustic"}).records()
    assert rows == []
