"""Bring your own data, as a new user does it: a movie graph in a schema of its own
(``Customer``/``Movie``/``WATCHED``/``IN_GENRE``...) as neo4j-admin CSV files goes
``ingest csv -> spec check -> train --spec -> recommend --explain -> serve`` through the CLI,
and a spec with a Cypher-chosen subgraph trains on exactly that subgraph."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.foreign_files import write_movie_admin_csv
from tests.serving_run import kgrec_serve
from tests.test_cli import KGREC, _env, kgrec

SPEC = """
[user]
label = "Customer"
name = "name"
[item]
label = "Movie"
name = "title"
[[interactions]]
type = "WATCHED"
weight = "rating"
timestamp = "ts"
[kg]
item = ["IN_GENRE", "DIRECTED_BY"]
user = ["FRIEND_OF"]
"""


@pytest.fixture(scope="module")
def movies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A KGREC_HOME whose graph ``movies`` holds the admin-CSV movie graph."""
    home = tmp_path_factory.mktemp("own-data")
    files = write_movie_admin_csv(home / "csv")
    kgrec(home, "ingest", "csv", str(files), "--graph", "movies")
    (home / "spec.toml").write_text(SPEC)
    yield home
    kgrec(home, "db", "stop", ok=False)


def test_ingest_train_recommend_serve_in_the_graphs_own_labels(movies: Path) -> None:
    home = movies
    check = json.loads(kgrec(home, "spec", "check", str(home / "spec.toml"), "--dataset",
                             "movies", "--json").stdout)  # fmt: skip
    assert check["nodes"]["Customer"] > 0 and check["nodes"]["Movie"] > 0
    assert "Customer-WATCHED->Movie" in check["relationships"]
    assert "Movie-IN_GENRE->Genre" in check["relationships"]
    assert not any("User" in k or "Video" in k for k in check["nodes"])
    res = json.loads(kgrec(home, "train", "--model", "lightgcn", "--spec", str(home / "spec.toml"),
                           "--dataset", "movies", "--epochs", "5", "--threads", "1",
                           "--json").stdout)  # fmt: skip
    assert 0.0 <= res["recall@20"] <= 1.0
    run = max((home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    assert (run / "spec.toml").read_text().count('label = "Customer"') == 1
    again = json.loads(kgrec(home, "evaluate", "latest", "--json").stdout)
    assert again["recall@20"] == res["recall@20"]
    answer = json.loads(kgrec(home, "recommend", "--user", "c1", "-k", "5", "--explain",
                              "--json").stdout)  # fmt: skip
    assert len(answer["items"]) == 5
    titles = {it["name"] for it in answer["items"]}
    assert all("Story" in t for t in titles), titles  # the movies' own titles
    labels = {n["label"] for it in answer["items"] for r in it["reasons"] for n in r["path"]}
    assert labels and labels <= {"Customer", "Movie", "Genre", "Person"}, labels
    texts = " ".join(r["text"] for it in answer["items"] for r in it["reasons"])
    assert "user " not in texts and "video" not in texts.lower()

    env = {**_env(home), "KGREC_GRAPH": "movies"}
    with kgrec_serve(KGREC, env) as base, httpx.Client(base_url=base, timeout=30) as c:
        body = c.get("/users/c1/recommendations", params={"k": 5, "paths": 1}).json()
        assert [i["item"] for i in body["items"]] == [i["item"] for i in answer["items"]]
        runs = c.get("/runs").json()["data"]
        assert runs[-1]["labels"] == {"user": "Customer", "item": "Movie"}
        item = c.get(f"/items/{body['items'][0]['item']}").json()
        assert item["title"] == body["items"][0]["name"] and item["users"] > 0
        assert any(a["label"] == "Genre" for a in item["attributes"])


def test_cypher_chosen_subgraph_trains_on_exactly_it(movies: Path) -> None:
    home = movies
    query = home / "early_customers.cypher"
    query.write_text(
        "// Customers who watched something before `before`, and the movies they watched\n"
        "// @param before: unix seconds\n"
        "MATCH (c:Customer)-[w:WATCHED]->(m:Movie) WHERE w.ts < $before\n"
        "RETURN c.id AS user, m.id AS item\n"
    )
    spec = home / "early.toml"
    spec.write_text(SPEC + '[filters]\nsubgraph = "early_customers.cypher"\n'
                    "params = { before = 1700864000 }\n")  # fmt: skip
    with (home / "csv" / "watched.csv").open() as f:  # what the query selects, from the file
        rows = [r for r in csv.DictReader(f) if int(r["ts:long"]) < 1700864000]
    users, items = {r[":START_ID(Customer)"] for r in rows}, {r[":END_ID(Movie)"] for r in rows}
    assert len(users) == 10 and len(items) > 0
    kgrec(home, "train", "--model", "bprmf", "--spec", str(spec), "--dataset", "movies",
          "--epochs", "2", "--threads", "1", "--json")  # fmt: skip
    run = max((home / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    config = json.loads((run / "config.json").read_text())
    assert config["export"]["nodes"]["User"] == len(users)
    assert config["export"]["nodes"]["Video"] == len(items)
    assert (run / "subgraph.cypher").read_text() == query.read_text()
    assert os.path.getsize(run / "names.json") > 0
    again = json.loads(kgrec(home, "evaluate", "latest", "--json").stdout)
    assert 0.0 <= again["recall@20"] <= 1.0


def test_bad_spec_fails_before_training_naming_the_key(movies: Path) -> None:
    home = movies
    runs = lambda: set((home / "runs").iterdir()) if (home / "runs").is_dir() else set()  # noqa: E731
    before = runs()
    bad = home / "bad.toml"
    bad.write_text(SPEC.replace('weight = "rating"', 'weight = "stars"'))
    proc = kgrec(home, "train", "--model", "bprmf", "--spec", str(bad), "--dataset", "movies",
                 ok=False)  # fmt: skip
    assert proc.returncode == 1
    assert "interactions[0].weight" in proc.stderr and "'stars'" in proc.stderr
    assert runs() == before  # no run directory was made


def test_export_recbole_of_a_spec_subgraph(movies: Path) -> None:
    """RecBole as a peer on exactly our data: the spec's subgraph as atomic files."""
    from kg_ingest.recbole import load_recbole

    home, spec = movies, movies / "five_core.toml"
    spec.write_text(SPEC + "[filters]\nkcore = 5\n")
    check = json.loads(kgrec(home, "spec", "check", str(spec), "--dataset", "movies",
                             "--json").stdout)  # fmt: skip
    kgrec(home, "export", "recbole", str(home / "rb"), "--graph", "movies", "--spec", str(spec),
          "--name", "movies")  # fmt: skip
    header = (home / "rb" / "movies.inter").read_text().splitlines()[0].split("\t")
    assert header[:2] == ["user_id:token", "item_id:token"] and "rating:float" in header
    back = load_recbole(home / "rb")
    counts = {n.label: len(n.frame) for n in back.nodes}
    assert counts["User"] == check["nodes"]["Customer"]
    assert counts["Video"] == check["nodes"]["Movie"]
    inter = sum(len(r.frame) for r in back.rels if r.src_label == "User" and r.dst_label == "Video")
    assert inter == check["relationships"]["Customer-WATCHED->Movie"]


MUSIC_SPEC = """
[user]
label = "User"
[item]
label = "Video"             # RecBole's items (here: artists) take the item role's label
name = "artist_name"
[[interactions]]
type = "RATED"
weight = "rating"
timestamp = "ts"
[kg]
user = ["FRIEND_OF"]
"""


def test_recbole_music_service_trains_and_explains(tmp_path: Path) -> None:
    """The second route: a music service as RecBole atomic files, through a spec."""
    from tests.foreign_files import write_music_recbole

    home = tmp_path
    try:
        kgrec(home, "ingest", "recbole", str(write_music_recbole(home / "rb")), "--graph", "music")
        (home / "music.toml").write_text(MUSIC_SPEC)
        check = json.loads(kgrec(home, "spec", "check", str(home / "music.toml"), "--dataset",
                                 "music", "--json").stdout)  # fmt: skip
        assert "Video-HAS_TAG->Tag" in check["relationships"]
        assert "User-FRIEND_OF->User" in check["relationships"]
        kgrec(home, "train", "--model", "bprmf", "--spec", str(home / "music.toml"), "--dataset",
              "music", "--epochs", "5", "--threads", "1", "--json")  # fmt: skip
        answer = json.loads(kgrec(home, "recommend", "--user", "u3", "-k", "5", "--explain",
                                  "--json").stdout)  # fmt: skip
        assert len(answer["items"]) == 5
        reasons = [r for it in answer["items"] for r in it["reasons"]]
        assert reasons and all(r["text"] for r in reasons)
        # only ratings of 4 or 5 (the music fixture's liked artists) are cited as reasons
        texts = " ".join(r["text"] for r in reasons)
        assert not any(f" {n} star" in texts for n in (1, 2, 3)), texts
    finally:
        kgrec(home, "db", "stop", ok=False)


def test_interaction_table_trains(tmp_path: Path) -> None:
    """The third route: one Parquet table of ratings, no spec needed (kgrec's own schema)."""
    import pandas as pd

    home = tmp_path
    with (write_movie_admin_csv(home / "csv") / "watched.csv").open() as f:
        rows = list(csv.DictReader(f))
    pd.DataFrame({"customer": [r[":START_ID(Customer)"] for r in rows],
                  "movie": [r[":END_ID(Movie)"] for r in rows],
                  "stars": [float(r["rating:double"]) for r in rows],
                  "when": [int(r["ts:long"]) for r in rows]}).to_parquet(
        home / "w.parquet"
    )  # fmt: skip
    try:
        kgrec(home, "ingest", "table", str(home / "w.parquet"), "--user-col", "customer",
              "--item-col", "movie", "--rating-col", "stars", "--time-col", "when",
              "--graph", "t")  # fmt: skip
        res = json.loads(kgrec(home, "train", "--model", "bprmf", "--dataset", "t", "--epochs",
                               "3", "--threads", "1", "--json").stdout)  # fmt: skip
        assert 0.0 <= res["recall@20"] <= 1.0
        answer = json.loads(kgrec(home, "recommend", "--user", "c1", "-k", "3", "--json").stdout)
        assert len(answer["items"]) == 3
    finally:
        kgrec(home, "db", "stop", ok=False)
