"""Dataset specs (kgrec.spec) and the exports they choose (kg_store.subgraph), on a graph in a
schema of its own: customers who watch movies, movies in genres and by directors, friendships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kg_store import GraphData, GraphExport, GraphStore, NodeSet, RelSet
from kg_store.subgraph import export_spec
from kgrec.schema import USER, VIDEO
from kgrec.spec import SpecError, default_spec, load_spec, parse_spec

N_CUST, N_MOVIES = 20, 24
GENRES = ["Crime", "Comedy", "Drama"]


def movie_graph(seed: int = 0, stars_everywhere: bool = True) -> GraphData:
    """Customers (integer key ``cid``) watch movies (key ``mid``) with 1-5 ``stars`` at time
    ``when``; movies are IN_GENRE genres (key ``name``) and DIRECTED_BY people; customers are
    FRIEND_OF each other and LIVE_IN cities."""
    rng = np.random.default_rng(seed)
    cust = pd.DataFrame({"id": [f"c{i}" for i in range(N_CUST)], "cid": np.arange(N_CUST) + 100})
    movies = pd.DataFrame({
        "id": [f"m{j}" for j in range(N_MOVIES)], "mid": [f"m{j}" for j in range(N_MOVIES)],
        "title": [f"Movie {j}" for j in range(N_MOVIES)],
    })  # fmt: skip
    genres = pd.DataFrame({"id": GENRES, "name": GENRES})
    people = pd.DataFrame({"id": ["p0", "p1"], "name": ["Ann", "Bob"]})
    cities = pd.DataFrame({"id": ["x", "y"], "name": ["X", "Y"]})
    rows = []
    for i in range(N_CUST):
        for j in rng.choice(N_MOVIES, 8, replace=False):
            rows.append((100 + i, f"m{j}", int(rng.integers(1, 6)), 1000 + 10 * i + int(j)))
    w = pd.DataFrame(rows, columns=["cid", "dst", "stars", "when"])
    watched = pd.DataFrame({"src": [f"c{c - 100}" for c in w["cid"]], "dst": w["dst"],
                            "stars": w["stars"], "when": w["when"]})  # fmt: skip
    if not stars_everywhere:
        watched.loc[:2, "stars"] = None
    in_genre = pd.DataFrame({"src": movies["id"], "dst": [GENRES[j % 3] for j in range(N_MOVIES)]})
    directed = pd.DataFrame({"src": movies["id"], "dst": [f"p{j % 2}" for j in range(N_MOVIES)]})
    friends = pd.DataFrame({"src": [f"c{i}" for i in range(N_CUST - 1)],
                            "dst": [f"c{i + 1}" for i in range(N_CUST - 1)]})  # fmt: skip
    lives = pd.DataFrame({"src": cust["id"], "dst": ["x" if i % 2 else "y" for i in range(N_CUST)]})
    return GraphData(
        nodes=[NodeSet("Customer", cust), NodeSet("Movie", movies), NodeSet("Genre", genres),
               NodeSet("Person", people), NodeSet("City", cities)],
        rels=[RelSet("WATCHED", "Customer", "Movie", watched),
              RelSet("IN_GENRE", "Movie", "Genre", in_genre),
              RelSet("DIRECTED_BY", "Movie", "Person", directed),
              RelSet("FRIEND_OF", "Customer", "Customer", friends),
              RelSet("LIVES_IN", "Customer", "City", lives)],
    )  # fmt: skip


SPEC: dict[str, Any] = {
    "user": {"label": "Customer", "id": "cid"},
    "item": {"label": "Movie", "id": "mid", "name": "title"},
    "interactions": [{"type": "WATCHED", "weight": "stars", "timestamp": "when"}],
    "kg": {"item": ["IN_GENRE", "DIRECTED_BY"], "user": ["FRIEND_OF"]},
    "keys": {"Genre": "name", "Person": "name"},
}


def spec_with(**changes: object) -> dict[str, Any]:
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SPEC.items()}
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            out.setdefault(section, {})[key] = value
        else:
            out[section] = value
    return out


@pytest.fixture
def movies(store: GraphStore) -> GraphStore:
    store.load(movie_graph())
    return store


def test_spec_export_maps_roles_and_keeps_the_chosen_kg(movies: GraphStore) -> None:
    ex = export_spec(movies, parse_spec(SPEC))
    assert ex.source_labels == {USER: "Customer", VIDEO: "Movie"}
    assert ex.num_nodes(USER) == N_CUST and ex.num_nodes(VIDEO) == N_MOVIES
    assert list(ex.ids[USER][:2]) == ["100", "101"]  # the integer key, as text
    assert set(ex.edges) == {
        (USER, "WATCHED", VIDEO), (VIDEO, "IN_GENRE", "Genre"), (VIDEO, "DIRECTED_BY", "Person"),
        (USER, "FRIEND_OF", USER),
    }  # fmt: skip
    w = ex.edges[(USER, "WATCHED", VIDEO)]
    assert len(w) == N_CUST * 8 and {"rating", "ts"} <= set(w.columns)
    assert set(ex.ids["Genre"]) == set(GENRES)
    assert len(ex.edges[(USER, "FRIEND_OF", USER)]) == N_CUST - 1
    # the same rows as the graph holds: customer 100 watched what movie_graph gave them
    raw = movie_graph().rels[0].frame
    first = raw[raw["src"] == "c0"].sort_values("dst")
    got = w[w["src"] == 0]
    assert sorted(ex.ids[VIDEO][got["dst"]]) == sorted(first["dst"])
    assert sorted(got["rating"]) == sorted(first["stars"])


def test_filters_positive_min_time_sample_kcore(movies: GraphStore) -> None:
    base = export_spec(movies, parse_spec(SPEC)).edges[(USER, "WATCHED", VIDEO)]
    inter = [{"type": "WATCHED", "weight": "stars", "timestamp": "when", "positive_min": 4}]
    ex = export_spec(movies, parse_spec(spec_with(interactions=inter)))
    w = ex.edges[(USER, "WATCHED", VIDEO)]
    assert len(w) == int((base["rating"] >= 4).sum()) and (w["rating"] >= 4).all()
    ex = export_spec(movies, parse_spec(spec_with(filters__since=1100)))
    assert (ex.edges[(USER, "WATCHED", VIDEO)]["ts"] >= 1100).all()
    a = export_spec(movies, parse_spec(spec_with(filters__sample_users=5, filters__seed=3)))
    b = export_spec(movies, parse_spec(spec_with(filters__sample_users=5, filters__seed=3)))
    assert a.num_nodes(USER) == 5 and list(a.ids[USER]) == list(b.ids[USER])
    ex = export_spec(movies, parse_spec(spec_with(filters__kcore=6)))
    w = ex.edges[(USER, "WATCHED", VIDEO)]
    assert (w["src"].value_counts() >= 6).all() and (w["dst"].value_counts() >= 6).all()
    assert ex.num_nodes(USER) == w["src"].nunique() and ex.num_nodes(VIDEO) == w["dst"].nunique()
    assert ex.num_nodes(VIDEO) < N_MOVIES  # some movies have fewer than 6 viewers


def test_subgraph_query_chooses_users_and_items(movies: GraphStore, tmp_path: Path) -> None:
    q = tmp_path / "crime_fans.cypher"
    q.write_text(
        "// Customers under the given key, and the movies of one genre\n"
        "// @param below: customer keys below this\n"
        "MATCH (c:Customer) WHERE c.cid < $below RETURN c.cid AS user, null AS item\n"
        "UNION ALL\n"
        "MATCH (m:Movie)-[:IN_GENRE]->(:Genre {name: 'Crime'}) RETURN null AS user, m.mid AS item\n"
    )
    ex = export_spec(movies, parse_spec(spec_with(filters__subgraph=str(q),
                                                  filters__params={"below": 110})))  # fmt: skip
    assert ex.num_nodes(USER) == 10
    assert ex.num_nodes(VIDEO) == N_MOVIES // 3
    w = ex.edges[(USER, "WATCHED", VIDEO)]
    assert w["src"].max() < 10 and w["dst"].max() < N_MOVIES // 3
    assert set(ex.ids["Genre"]) == {"Crime"}  # only the KG around the kept items
    assert ex.edges[(USER, "FRIEND_OF", USER)]["dst"].max() < 10


def test_library_subgraph_query_with_spec_slots(movies: GraphStore) -> None:
    spec = spec_with(filters__subgraph="active_users", filters__params={"since": 1150})
    ex = export_spec(movies, parse_spec(spec))
    assert ex.num_nodes(USER) == len(
        {c for c, t in zip(movie_graph().rels[0].frame["src"], movie_graph().rels[0].frame["when"],
                           strict=True) if t >= 1150}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"user__label": "Client"}, "user.label: the graph has no nodes labelled 'Client'"),
        ({"interactions": [{"type": "RENTED"}]}, "interactions[0].type: no 'RENTED'"),
        ({"interactions": [{"type": "IN_GENRE"}]}, "(it goes Movie->Genre)"),
        ({"kg": {"item": ["HAS_GENRE"]}}, "kg.item[0]: the graph has no relationship type"),
        ({"keys": {"Genre": "lbl"}}, "keys.Genre: 3 of 3 Genre nodes have no 'lbl' property"),
        ({"filters__kcore": 50}, "filters.kcore: no user and item keep 50"),
        ({"filters__subgraph": "no_such_query"}, "filters.subgraph: no query named"),
        ({"item__id": "title2"}, "item.id: 24 of 24 Movie nodes have no 'title2'"),
    ],
)
def test_bad_specs_fail_before_export_naming_the_key(
    movies: GraphStore, changes: dict[str, object], key: str
) -> None:
    with pytest.raises(SpecError, match=None) as e:
        export_spec(movies, parse_spec(spec_with(**changes)))
    assert key in str(e.value)


def test_rating_missing_on_some_edges(store: GraphStore) -> None:
    store.load(movie_graph(stars_everywhere=False))
    with pytest.raises(SpecError, match=r"interactions\[0\]\.weight: 3 of 160 WATCHED"):
        export_spec(store, parse_spec(SPEC))


def test_default_spec_export_is_the_store_export(store: GraphStore) -> None:
    from kg_ingest.synthetic import generate

    store.load(generate(30, 40, seed=1, interactions_per_user=8))
    want, got = store.export(), export_spec(store, default_spec(), page=7)
    assert got.source_labels == {}
    used = {lab for k in want.edges for lab in (k[0], k[2])}
    assert {k: list(v) for k, v in got.ids.items()} == {
        k: list(v) for k, v in want.ids.items() if k in used
    }
    assert set(got.edges) == set(want.edges)
    for k in want.edges:
        cols = sorted(want.edges[k].columns)
        pd.testing.assert_frame_equal(got.edges[k][cols], want.edges[k][cols], check_dtype=False)
    assert set(got.features) == set(want.features)
    for lab in want.features:
        np.testing.assert_array_equal(got.features[lab], want.features[lab])


def test_spec_files_round_trip_and_name_bad_keys(tmp_path: Path) -> None:
    spec = parse_spec(spec_with(filters__kcore=2))
    p = tmp_path / "spec.toml"
    p.write_text(spec.to_toml())
    assert load_spec(p) == spec
    (tmp_path / "bad.toml").write_text('[user]\nlabel = "Customer"\nlabl = "x"\n[kg]\nhops = 0\n')
    with pytest.raises(SpecError) as e:
        load_spec(tmp_path / "bad.toml")
    assert "user.labl: unknown key" in str(e.value) and "kg.hops:" in str(e.value)
    (tmp_path / "syntax.toml").write_text("[user\n")
    with pytest.raises(SpecError, match="not valid TOML.*line 1"):
        load_spec(tmp_path / "syntax.toml")
    (tmp_path / "s.yaml").write_text("user: {label: Customer}\nitem: {label: Movie}\n")
    assert load_spec(tmp_path / "s.yaml").item.label == "Movie"
    assert GraphExport().source_label(USER) == USER


def test_feature_properties_become_modalities(store: GraphStore) -> None:
    g = movie_graph()
    movies = g.nodes[1].frame
    movies["poster"] = [[float(j % 3 == c) for c in range(3)] for j in range(N_MOVIES)]
    store.load(g)
    ex = export_spec(store, parse_spec(spec_with(features={"Movie": "poster"})))
    assert ex.features["Poster"].shape == (N_MOVIES, 3)
    link = ex.edges[(VIDEO, "HAS_POSTER", "Poster")]
    assert len(link) == N_MOVIES
    j = int(ex.ids[VIDEO].get_loc("m4"))
    row = link.loc[link["src"] == j, "dst"].iloc[0]
    np.testing.assert_allclose(ex.features["Poster"][row], [0.0, 1.0, 0.0])
    # and through the whole pipeline: the modality is an entity with features
    from recommend.data import make_split
    from recommend.train import recdata_from_export

    data = recdata_from_export(ex)
    assert "Poster" in data.item_kg.entity_features and "Poster" in data.item_features
    assert len(make_split(ex).train)


def test_the_readme_spec_example_is_valid() -> None:
    import re
    import tomllib

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"```toml\n(\[user\].*?)```", readme, re.S)
    assert block, "the README's spec example"
    spec = parse_spec(tomllib.loads(block.group(1)))
    assert spec.user.label == "Customer" and spec.filters.kcore == 5
    assert spec.interactions and spec.interactions[0].weight == "rating"
