"""Other tools' file formats: RecBole atomic files, neo4j-admin import CSV and plain
interaction tables, read into GraphData (every error naming file, line and field) and
written back from a graph (the RecBole writer, the neo4j-admin writer over kg_store.dump)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_ingest.admin_csv import load_admin_csv
from kg_ingest.admin_csv_write import column_type, write_admin_csv
from kg_ingest.errors import IngestError
from kg_ingest.recbole import FIELD_TYPES, entity_label, load_recbole, read_atomic
from kg_ingest.recbole_write import write_recbole
from kg_ingest.table import load_table
from kg_store import GraphData, GraphExport, GraphStore, NodeSet, RelSet, dump
from tests.foreign_files import (
    ITEMS,
    SCENES,
    USERS,
    scene_of_item,
    scene_of_user,
    write_movie_admin_csv,
    write_music_recbole,
)


def _nodes(g: GraphData, label: str) -> pd.DataFrame:
    return pd.concat([n.frame for n in g.merged().nodes if n.label == label], ignore_index=True)


def _rels(g: GraphData, rel: str) -> pd.DataFrame:
    return pd.concat([r.frame for r in g.merged().rels if r.type == rel], ignore_index=True)


def _error(fn: object, *args: object, **kw: object) -> IngestError:
    with pytest.raises(IngestError) as info:
        fn(*args, **kw)  # type: ignore[operator]
    return info.value


# -- RecBole ----------------------------------------------------------------------------------


def test_music_recbole_loads_with_its_taste_structure(tmp_path: Path) -> None:
    g = load_recbole(write_music_recbole(tmp_path / "music"))
    assert g.dataset == "recbole:music"
    users, items = _nodes(g, "User"), _nodes(g, "Video")
    assert len(users) == USERS and len(items) == ITEMS
    assert users.set_index("id").loc["u3", "country"] == "BR"
    assert users.set_index("id").loc["u3", "age"] == 39.0
    a5 = items.set_index("id").loc["a5"]
    assert a5["artist_name"] == "The Jazz Band 5"  # a text token_seq: one string
    assert len(a5["audio"]) == 4 and max(a5["audio"]) > 0.8  # float_seq: a list property
    rated = _rels(g, "RATED")
    assert len(rated) == 360 and rated["rating"].between(1, 5).all()
    assert rated["ts"].dtype == np.int64 and (rated["ts"] > 1_700_000_000).all()
    home = [
        scene_of_user(int(u[1:])) == scene_of_item(int(i[1:]))
        for u, i in zip(rated["src"], rated["dst"], strict=True)
    ]
    assert rated["rating"][home].min() >= 4 > rated["rating"][[not h for h in home]].max()
    tags = _rels(g, "HAS_TAG")  # tags:token_seq -> Tag entities
    assert set(_nodes(g, "Tag")["id"]) >= set(SCENES) | {"live", "dance"}
    assert set(tags[tags["src"] == "a1"]["dst"]) == {"jazz", "saxophone", "live"}
    friends = _rels(g, "FRIEND_OF")
    assert len(friends) == 33 and set(friends["weight"]) == {1.0, 0.2}
    genre = _rels(g, "KG_music_artist_genre")  # linked entities are the items
    assert set(genre["src"]) == {f"a{i}" for i in range(32)}
    assert "m.genre_jazz" in set(_nodes(g, "Entity")["id"])
    assert set(_rels(g, "KG_music_artist_influenced_by")["dst"]) == {"a4"}  # item -> item
    kinds = {(r.type, r.src_label, r.dst_label) for r in g.rels}
    assert ("KG_music_genre_parent_genre", "Entity", "Entity") in kinds


def test_recbole_without_user_and_item_files_takes_ids_from_the_others(tmp_path: Path) -> None:
    d = write_music_recbole(tmp_path / "m")
    for suffix in ("user", "item", "kg", "link"):
        (d / f"m.{suffix}").unlink(missing_ok=True)
    (d / "music.inter").rename(d / "m.inter")
    (d / "music.net").rename(d / "m.net")
    for p in d.glob("music.*"):
        p.unlink()
    g = load_recbole(d)
    assert g.dataset == "recbole:m" and len(_nodes(g, "User")) == USERS
    assert len(_nodes(g, "Video")) == ITEMS and len(_rels(g, "FRIEND_OF")) == 33


def test_entity_labels_from_field_names() -> None:
    assert [entity_label(f) for f in ("genre", "genres", "tags", "class", "sub_categories")] == [
        "Genre",
        "Genre",
        "Tag",
        "Class",
        "SubCategory",
    ]


def _music(tmp_path: Path) -> Path:
    return write_music_recbole(tmp_path / "music")


def _edit(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("suffix", "line", "text", "expected"),
    [
        (
            "inter",
            1,
            "user_id:token\titem_id:token\trating:int\ttimestamp:float",
            "music.inter line 1, field 'rating:int': unknown field type 'int'",
        ),
        (
            "inter",
            1,
            "user_id:token\titem_id\trating:float\ttimestamp:float",
            "music.inter line 1, field 'item_id': a header entry must read name:type",
        ),
        (
            "inter",
            1,
            "user:token\titem_id:token\trating:float\ttimestamp:float",
            "music.inter line 1, field 'user_id': the header needs the field user_id:token",
        ),
        (
            "inter",
            7,
            "u0\ta3\tfive\t1700000100",
            "music.inter line 7, field 'rating': 'five' is not a finite number (float)",
        ),
        ("inter", 9, "u0\ta3\t4", "music.inter line 9: expected 4 tab-separated fields, got 3"),
        (
            "inter",
            12,
            "u99\ta3\t4\t1700000100",
            "music.inter line 12, field 'user_id': unknown user (not in music.user) 'u99'",
        ),
        (
            "item",
            4,
            "a0\tX\trock\t10\t0.1 0.2",
            "music.item line 4, field 'item_id': duplicate item 'a0' (first at line 2)",
        ),
        (
            "item",
            3,
            "a1\tX\tjazz\t10\t0.1 zero",
            "music.item line 3, field 'audio': 'zero' is not a finite number (float_seq)",
        ),
        (
            "link",
            5,
            "a99\tm.artist3",
            "music.link line 5, field 'item_id': unknown item (not in music.item) 'a99'",
        ),
        (
            "link",
            5,
            "a3\tm.artist1",
            "music.link line 5, field 'entity_id': duplicate entity 'm.artist1' (first at line 3)",
        ),
        (
            "net",
            2,
            "u0\tnobody\t1.0",
            "music.net line 2, field 'target_id': unknown user (not in music.user) 'nobody'",
        ),
        (
            "kg",
            1,
            "head_id:token\trelation:token\ttail_id:token",
            "music.kg line 1, field 'relation_id': the header needs the field relation_id:token",
        ),
    ],
)
def test_recbole_errors_name_file_line_and_field(
    tmp_path: Path, suffix: str, line: int, text: str, expected: str
) -> None:
    d = _music(tmp_path)
    _edit(d / f"music.{suffix}", line, text)
    assert str(_error(load_recbole, d)).startswith(expected)


def test_recbole_folder_problems(tmp_path: Path) -> None:
    assert "no RecBole atomic files" in str(_error(load_recbole, tmp_path))
    write_music_recbole(tmp_path, "one")
    write_music_recbole(tmp_path, "two")
    assert "--dataset-name" in str(_error(load_recbole, tmp_path))
    assert load_recbole(tmp_path, "two").dataset == "recbole:two"
    assert str(_error(load_recbole, tmp_path, "three")).startswith("three.inter: required file")


def _movielens_like() -> GraphData:
    """A tiny MovieLens-shaped graph with every kind of property value."""
    users = pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "age": [24, 53, 17],
            "zip": ["10001", None, "30"],
            "vip": [True, False, True],
        }
    )
    videos = pd.DataFrame(
        {
            "id": ["10", "11", "12", "13"],
            "title": ['Alpha, "the" first', "Beta\tTab", "Gamma (2001)", "Delta"],
            "year": pd.Series([1995, 1987, None, 1994], dtype=object),
            "score": [0.1, 2.5, 1e-7, 3.0],
            "langs": [["en", "fr"], ["en"], None, ["sv"]],
        }
    )
    textual = pd.DataFrame(
        {
            "id": ["10", "11", "12", "13"],
            "vector": [
                [0.25, -1.5, 3.0],
                [0.5, 0.5, 0.5],
                [1.0, 0.0, 0.0],
                [0.125, 0.0625, -0.375],
            ],
        }
    )
    genres = pd.DataFrame({"id": ["Comedy", "Drama"], "name": ["Comedy", "Drama"]})
    rated = pd.DataFrame(
        {
            "src": ["1", "1", "2", "3", "3"],
            "dst": ["10", "11", "10", "12", "13"],
            "rating": [5.0, 3.0, 4.0, 2.0, 4.5],
            "ts": [900000001, 900000002, 900000003, 900000004, 900000005],
        }
    )
    g = GraphData(dataset="test:movielens-like")
    g.nodes += [
        NodeSet("User", users),
        NodeSet("Video", videos),
        NodeSet("Genre", genres),
        NodeSet("Textual", textual),
    ]
    g.rels += [
        RelSet("RATED", "User", "Video", rated),
        RelSet(
            "HAS_GENRE",
            "Video",
            "Genre",
            pd.DataFrame({"src": ["10", "11", "12"], "dst": ["Comedy", "Drama", "Drama"]}),
        ),
        RelSet(
            "HAS_TEXTUAL",
            "Video",
            "Textual",
            pd.DataFrame({"src": ["10", "11", "12", "13"], "dst": ["10", "11", "12", "13"]}),
        ),
        RelSet("FRIEND_OF", "User", "User", pd.DataFrame({"src": ["1"], "dst": ["2"]})),
    ]
    return g


def test_recbole_writer_headers_follow_recbole_and_read_back(tmp_path: Path) -> None:
    g = _movielens_like()
    export = GraphExport.from_graph_data(g)
    names = {"Video": {"10": "Alpha", "11": "Beta"}}  # wins over the title property
    props = {n.label: n.frame for n in g.nodes if n.label in ("User", "Video")}
    written = write_recbole(export, tmp_path / "out", "mini", names=names, properties=props)
    assert written == {
        "mini.inter": 5,
        "mini.user": 3,
        "mini.item": 4,
        "mini.kg": 3,
        "mini.link": 3,
        "mini.net": 1,
    }
    headers = {}
    for f in sorted((tmp_path / "out").iterdir()):
        first = f.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
        assert all(re.fullmatch(r"[a-z_]+:(token|token_seq|float|float_seq)", e) for e in first)
        atomic = read_atomic(f)  # the reader parses the header back
        assert set(atomic.types.values()) <= set(FIELD_TYPES)
        headers[f.suffix] = [f"{k}:{v}" for k, v in atomic.types.items()]
    assert headers == {
        ".inter": ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
        ".user": ["user_id:token", "age:float", "vip:float", "zip:token"],
        ".item": [
            "item_id:token",
            "title:token",
            "langs:token_seq",
            "score:float",
            "year:float",
            "genre:token_seq",
            "textual:float_seq",
        ],
        ".kg": ["head_id:token", "relation_id:token", "tail_id:token"],
        ".link": ["item_id:token", "entity_id:token"],
        ".net": ["source_id:token", "target_id:token"],
    }
    back = load_recbole(tmp_path / "out", "mini")
    rated = _rels(back, "RATED").sort_values(["src", "dst"], ignore_index=True)
    assert rated[["src", "dst"]].values.tolist() == [
        ["1", "10"],
        ["1", "11"],
        ["2", "10"],
        ["3", "12"],
        ["3", "13"],
    ]
    assert rated["rating"].tolist() == [5.0, 3.0, 4.0, 2.0, 4.5]
    assert rated["ts"].tolist() == [900000001, 900000002, 900000003, 900000004, 900000005]
    items = _nodes(back, "Video").set_index("id")
    assert items.loc["10", "title"] == "Alpha" and pd.isna(items.loc["13", "title"])
    assert items.loc["12", "score"] == 1e-7 and pd.isna(items.loc["12", "year"])
    users = _nodes(back, "User").set_index("id")
    assert users.loc["2", "age"] == 53.0 and users.loc["1", "vip"] == 1.0
    assert users.loc["1", "zip"] == "10001" and pd.isna(users.loc["2", "zip"])
    assert set(_rels(back, "HAS_LANG")["dst"]) == {"en", "fr", "sv"}
    assert items.loc["10", "textual"] == [0.25, -1.5, 3.0]
    assert set(_rels(back, "HAS_GENRE")["dst"]) == {"Comedy", "Drama"}
    assert set(_rels(back, "KG_HAS_GENRE")["src"]) == {"10", "11", "12"}  # through .link
    assert _rels(back, "FRIEND_OF")[["src", "dst"]].values.tolist() == [["1", "2"]]


def test_recbole_writer_needs_users_items_and_interactions(tmp_path: Path) -> None:
    g = _movielens_like()
    g.rels = [r for r in g.rels if r.type != "RATED"]
    with pytest.raises(ValueError, match="no User -> Video relationships"):
        write_recbole(GraphExport.from_graph_data(g), tmp_path, "x")
    with pytest.raises(ValueError, match="no User nodes"):
        write_recbole(GraphExport(), tmp_path, "x")


# -- neo4j-admin CSV --------------------------------------------------------------------------


def test_movie_admin_csv_loads(tmp_path: Path) -> None:
    g = load_admin_csv(write_movie_admin_csv(tmp_path / "movies"))
    assert g.dataset == "csv:movies"
    customers = _nodes(g, "Customer").set_index("id")
    assert len(customers) == USERS and customers.loc["c7", "vip"] is True
    assert customers.loc["c7", "customerId"] == "c7"  # name:ID keeps the name too
    assert customers.loc["c7", "age"] == 41 and isinstance(customers.loc["c7", "age"], int)
    movies = _nodes(g, "Movie").set_index("id")
    assert movies.loc["m5", "title"] == 'Drama Story 5: "Part 3", revisited'
    assert movies.loc["m5", "languages"] == ["en", "fr"] and movies.loc["m5", "year"] == 1975
    assert set(_nodes(g, "Genre")["id"]) == {"Comedy", "Drama", "Horror", "SciFi"}  # file name
    watched = _rels(g, "WATCHED")
    assert len(watched) == 360 and watched["rating"].map(type).eq(float).all()
    assert watched["ts"].map(type).eq(int).all()
    assert len(_rels(g, "IN_GENRE")) == ITEMS  # type from the file's name
    kinds = {(r.type, r.src_label, r.dst_label) for r in g.rels}
    assert kinds == {
        ("WATCHED", "Customer", "Movie"),
        ("IN_GENRE", "Movie", "Genre"),
        ("DIRECTED_BY", "Movie", "Person"),
        ("FRIEND_OF", "Customer", "Customer"),
    }


def _csv(d: Path, name: str, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)


def test_admin_csv_multiple_labels_keep_the_first(tmp_path: Path) -> None:
    _csv(tmp_path, "people.csv", "pid:ID,name,:LABEL\np1,Ann,Person;Actor;Director\np2,Bo,Person\n")
    g = load_admin_csv(tmp_path)
    people = _nodes(g, "Person").set_index("id")
    assert people.loc["p1", "extra_labels"] == ["Actor", "Director"]
    assert people.loc["p2", "extra_labels"] is None and people.loc["p1", "pid"] == "p1"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"a.csv": "id:ID(A),n:integer\nx,1\n"},
            "a.csv line 1, field 'n:integer': unknown property type 'integer'",
        ),
        (
            {"a.csv": "name,:LABEL\nx,A\n"},
            "a.csv line 1: the header needs an :ID column (a node file) or :START_ID",
        ),
        (
            {"A.csv": ":ID(A),n:int\nx,1\ny,two\n"},
            "A.csv line 3, field 'n:int': 'two' is not an integer (int)",
        ),
        (
            {"A.csv": ":ID(A),w:double\nx,1.5\n\ny,heavy\n"},
            "A.csv line 4, field 'w:double': 'heavy' is not a number (double)",
        ),
        (
            {"A.csv": ":ID(A),b:boolean\nx,yes\n"},
            "A.csv line 2, field 'b:boolean': 'yes' is not true or false (boolean)",
        ),
        (
            {"A.csv": ":ID(A)\nx\ny\nx\n"},
            "A.csv line 4, field ':ID(A)': duplicate node id 'x' in ID space 'A' (first in A.csv "
            "line 2)",
        ),
        (
            {"A.csv": ":ID(A)\nx\n", "R.csv": ":START_ID(A),:END_ID(A)\nx,x\nx,zz\n"},
            "R.csv line 3, field ':END_ID(A)': unknown node id 'zz': no node file gives it in ID "
            "space 'A'",
        ),
        (
            {"A.csv": ":ID(A)\nx\n", "r.csv": ":START_ID(A),:END_ID(B),:TYPE\nx,x,R\n"},
            "r.csv line 2, field ':END_ID(B)': unknown node id 'x'",
        ),
        (
            {"A.csv": ":ID(A)\nx\n", "r.csv": ":START_ID(A),:END_ID(A),:TYPE\nx,x,has space\n"},
            "r.csv line 2, field ':TYPE': relationship type 'has space' is not letters",
        ),
        (
            {"a-b.csv": ":ID(A)\nx\n"},
            "a-b.csv line 1: no :LABEL column, and the file's name 'a-b' is no label",
        ),
        ({"A.csv": ':ID(A),t\nx,"open\n'}, "A.csv line 2, field 't': malformed quoting"),
        ({"A.csv": ":ID(A),n\nx,1,2\n"}, "A.csv line 2: expected 2 comma-separated fields, got 3"),
        (
            {"A.csv": ":ID(A),id:int\nx,1\n"},
            "A.csv line 1, field 'id:int': a property named id would clash with the node key",
        ),
        ({"A_header.csv": ":ID(A)\n"}, "A_header.csv: separate header files are not supported"),
    ],
)
def test_admin_csv_errors_name_file_line_and_field(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        _csv(tmp_path, name, text)
    assert str(_error(load_admin_csv, tmp_path)).startswith(expected)


def test_column_types() -> None:
    assert column_type([1, None, 2]) == "long"
    assert column_type([1, 2.5]) == "double"
    assert column_type([True, False]) == "boolean"
    assert column_type(["a", 1]) == "string"
    assert column_type([[0.5, 0.25]]) == "float[]"  # exact in 32 bits
    assert column_type([[0.1]]) == "double[]"
    assert column_type([["a"], []]) == "string[]"
    assert column_type([None, None]) is None


# -- the store round trip ---------------------------------------------------------------------


def _everything(store: GraphStore) -> dict[str, object]:
    """Every node and relationship with its properties, as comparable records."""
    out: dict[str, object] = {}
    for label in dump.labels(store):
        frame = pd.concat(list(dump.node_pages(store, label, page=2)), ignore_index=True)
        out[label] = sorted(
            str(sorted((k, v) for k, v in r.items() if v is not None))
            for r in frame.to_dict("records")
        )
    for key in dump.edge_keys(store):
        frames = list(dump.rel_pages(store, key, page=2))
        frame = pd.concat(frames, ignore_index=True)
        out["-".join(key)] = sorted(
            str(sorted((k, v) for k, v in r.items() if v is not None))
            for r in frame.to_dict("records")
        )
    return out


@pytest.mark.contract
def test_csv_export_and_import_round_trip_exactly(store: GraphStore, tmp_path: Path) -> None:
    """export csv, then ingest csv into an empty graph: the same stats and the same
    properties, value for value and type for type (on every reachable backend)."""
    store.load(_movielens_like())
    stats = store.stats()
    before = _everything(store)
    assert len(before["User-RATED-Video"]) == 5  # type: ignore[arg-type]
    written = write_admin_csv(
        ((label, dump.node_pages(store, label, page=2)) for label in dump.labels(store)),
        ((k, dump.rel_pages(store, k, page=2)) for k in dump.edge_keys(store)),
        tmp_path / "csv",
    )
    assert written["Video.csv"] == 4 and written["User-RATED-Video.csv"] == 5
    header = (tmp_path / "csv" / "Video.csv").read_text().split("\n", 1)[0]
    assert header == "id:ID(Video),:LABEL,langs:string[],score:double,title:string,year:long"
    assert "vector:float[]" in (tmp_path / "csv" / "Textual.csv").read_text()
    store.clear()
    store.load(load_admin_csv(tmp_path / "csv"))
    assert store.stats() == stats
    assert _everything(store) == before
    store.load(load_admin_csv(tmp_path / "csv"))  # re-running converges
    assert store.stats() == stats and _everything(store) == before


@pytest.mark.contract
def test_dump_pages_cover_every_node_and_relationship(store: GraphStore) -> None:
    store.load(_movielens_like())
    pages = list(dump.node_pages(store, "Video", page=3))
    assert [len(p) for p in pages] == [3, 1]
    assert pd.concat(pages)["id"].tolist() == ["10", "11", "12", "13"]
    rated = list(dump.rel_pages(store, ("User", "RATED", "Video"), page=1))
    assert [len(p) for p in rated] == [2, 1, 2]  # one page per source user
    assert pd.concat(rated)["rating"].tolist() == [5.0, 3.0, 4.0, 2.0, 4.5]
    assert dump.edge_keys(store) == sorted(dump.edge_keys(store))
    assert "KgrecDataset" not in dump.labels(store)


# -- plain tables -----------------------------------------------------------------------------


def _tables(d: Path) -> tuple[Path, Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    (d / "ratings.csv").write_text(
        "uid,iid,stars,when\n"
        "u1,i1,5,2024-01-02T10:00:00Z\nu1,i2,3,2024-01-03\nu2,i1,4,2024-02-01 12:00\n"
        "u2,i3,1,2024-02-02\nu1,i1,2,2023-01-01\n"
    )
    (d / "items.tsv").write_text(
        "iid\ttitle\tyear\tprice\tgenres\tzip\n"
        "i1\tAlpha\t1995\t9.5\tComedy|Drama\t01234\ni2\tBeta\t\t12\tDrama\t20000\n"
        "i3\tGamma\t2001\t7\t\t30000\n"
    )
    (d / "kg.csv").write_text("head,relation,tail\ni1,film.director,p1\np1,born_in,Paris\n")
    return d / "ratings.csv", d / "items.tsv", d / "kg.csv"


def test_table_with_items_multi_values_and_triples(tmp_path: Path) -> None:
    ratings, items, kg = _tables(tmp_path)
    g = load_table(
        ratings,
        "uid",
        "iid",
        rating_col="stars",
        time_col="when",
        items=items,
        multi=["genres"],
        triples=kg,
    )
    rated = _rels(g, "RATED").set_index(["src", "dst"])
    assert len(rated) == 4  # u1-i1 twice: the latest row (2024) wins
    assert rated.loc[("u1", "i1"), "rating"] == 5.0
    assert rated.loc[("u1", "i1"), "ts"] == 1704189600
    videos = _nodes(g, "Video").set_index("id")
    assert videos.loc["i1", "year"] == 1995 and videos.loc["i2", "year"] is None
    assert videos.loc["i2", "price"] == 12.0 and videos.loc["i1", "title"] == "Alpha"
    assert videos.loc["i1", "zip"] == "01234" and videos.loc["i2", "zip"] == "20000"
    assert set(_rels(g, "HAS_GENRE")["dst"]) == {"Comedy", "Drama"}
    kinds = {(r.type, r.src_label, r.dst_label) for r in g.rels}
    assert ("KG_film_director", "Video", "Entity") in kinds
    assert ("KG_born_in", "Entity", "Entity") in kinds


def test_table_from_parquet_and_tsv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [7, 8, 7], "t": [100, 200, 300]})
    frame.to_parquet(tmp_path / "clicks.parquet")
    g = load_table(tmp_path / "clicks.parquet", "user", "item", time_col="t")
    inter = _rels(g, "INTERACTED")
    assert inter[["src", "dst"]].values.tolist() == [["1", "7"], ["1", "8"], ["2", "7"]]
    assert inter["ts"].tolist() == [100, 200, 300]
    (tmp_path / "clicks.txt").write_text("user;item\na;b\n")  # sniffed
    assert len(_rels(load_table(tmp_path / "clicks.txt", "user", "item"), "INTERACTED")) == 1
    (tmp_path / "clicks.dat").write_text("user\titem\na\tb\nc\td\n")
    g = load_table(tmp_path / "clicks.dat", "user", "item", sep="tab")
    assert _rels(g, "INTERACTED")[["src", "dst"]].values.tolist() == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize(
    ("kwargs", "edit", "expected"),
    [
        (
            {"user_col": "user"},
            None,
            "ratings.csv line 1, field 'user': no such column (the header has uid, iid, stars, "
            "when)",
        ),
        (
            {"rating_col": "stars"},
            ("ratings.csv", 3, "u1,i2,three,2024-01-03"),
            "ratings.csv line 3, field 'stars': 'three' is not a finite number",
        ),
        (
            {"time_col": "when"},
            ("ratings.csv", 4, "u2,i1,4,yesterday"),
            "ratings.csv line 4, field 'when': 'yesterday' is neither unix seconds nor a date",
        ),
        (
            {"items": True},
            ("ratings.csv", 5, "u2,i9,1,2024-02-02"),
            "ratings.csv line 5, field 'iid': unknown item (not in items.tsv) 'i9'",
        ),
        (
            {"items": True},
            ("items.tsv", 3, "i1\tB\t\t12\tDrama\t1"),
            "items.tsv line 3, field 'iid': duplicate item 'i1' (first at line 2)",
        ),
        (
            {"triples": True},
            ("kg.csv", 1, "head,rel,tail"),
            "kg.csv line 1, field 'relation': no such column",
        ),
    ],
)
def test_table_errors_name_file_line_and_field(
    tmp_path: Path, kwargs: dict[str, object], edit: tuple[str, int, str] | None, expected: str
) -> None:
    ratings, items, kg = _tables(tmp_path)
    if edit is not None:
        _edit(tmp_path / edit[0], edit[1], edit[2])
    args: dict[str, object] = {"user_col": "uid", "item_col": "iid"}
    args.update(kwargs)
    if args.pop("items", None):
        args["items"] = items
    if args.pop("triples", None):
        args["triples"] = kg
    assert str(_error(load_table, ratings, **args)).startswith(expected)


def test_admin_csv_writer_keeps_extra_labels_and_reads_back(tmp_path: Path) -> None:
    people = pd.DataFrame(
        {
            "id": ["p1", "p2"],
            "extra_labels": [["Actor"], None],
            "born": [1970, None],
            "name": ["Ann; Bo", "Cy"],
        },
        dtype=object,
    )
    knows = pd.DataFrame({"src": ["p1"], "dst": ["p2"], "since": [2001.5]}, dtype=object)
    written = write_admin_csv(
        [("Person", [people])], [(("Person", "KNOWS", "Person"), [knows])], tmp_path
    )
    assert written == {"Person.csv": 2, "Person-KNOWS-Person.csv": 1}
    lines = (tmp_path / "Person.csv").read_text().splitlines()
    assert lines == [
        "id:ID(Person),:LABEL,born:long,name:string",
        "p1,Person;Actor,1970,Ann; Bo",
        "p2,Person,,Cy",
    ]
    g = load_admin_csv(tmp_path)
    back = _nodes(g, "Person").set_index("id")
    assert back.loc["p1", "extra_labels"] == ["Actor"] and back.loc["p1", "born"] == 1970
    assert back.loc["p2", "born"] is None and back.loc["p1", "name"] == "Ann; Bo"
    assert _rels(g, "KNOWS")["since"].tolist() == [2001.5]
    bad = pd.DataFrame({"id": ["x"], "tags": [["a;b"]]}, dtype=object)
    with pytest.raises(ValueError, match=r":Thing 'x' property 'tags'.*array separator"):
        write_admin_csv([("Thing", [bad])], [], tmp_path / "bad")
