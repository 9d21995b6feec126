"""MovieLens loader: the three layouts on small hand-written fixtures, loaded into FalkorDB."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg_ingest.errors import IngestError
from kg_ingest.movielens import detect_layout, load_movielens
from kg_store.falkordb_store import FalkorDBStore
from tests.conftest import FIXTURES


@pytest.fixture(autouse=True)
def _hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_TEXT_BACKEND", "hashing")


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def _replace_line(path: Path, lineno: int, text: str, encoding: str = "utf-8") -> None:
    lines = path.read_text(encoding=encoding).splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding=encoding)


ML100K_STATS = {
    "nodes": {"AgeGroup": 4, "Decade": 3, "Gender": 2, "Genre": 19, "Occupation": 4,
              "Textual": 5, "User": 4, "Video": 5},
    "relationships": {"HAS_GENDER": 4, "HAS_GENRE": 7, "HAS_OCCUPATION": 4, "HAS_TEXTUAL": 5,
                      "IN_AGE_GROUP": 4, "RATED": 8, "RELEASED_IN": 4},
}  # fmt: skip


def test_ml100k_counts_and_idempotent(falkordb_store: FalkorDBStore) -> None:
    data = load_movielens(FIXTURES / "ml100k")
    falkordb_store.load(data)
    assert falkordb_store.stats() == ML100K_STATS
    falkordb_store.load(load_movielens(FIXTURES / "ml100k"))
    assert falkordb_store.stats() == ML100K_STATS


def test_ml100k_values(falkordb_store: FalkorDBStore) -> None:
    falkordb_store.load(load_movielens(FIXTURES / "ml100k"))
    row = falkordb_store.read_only(
        "MATCH (u:User {id: '1'})-[r:RATED]->(v:Video {id: '1'}) "
        "RETURN u.age, u.zip, r.rating, r.ts, v.title, v.year"
    ).rows[0]
    assert row == [24, "10001", 5.0, 900000001, "Alpha (1995)", 1995]
    genres = falkordb_store.read_only(
        "MATCH (g:Genre) OPTIONAL MATCH (v:Video)-[:HAS_GENRE]->(g) "
        "RETURN g.id, count(v) ORDER BY g.id"
    ).rows
    # Every genre of u.genre is a node, "unknown" and the unused ones (count 0) included.
    assert len(genres) == 19
    used = {g: n for g, n in genres if n}
    assert used == {"Action": 2, "Comedy": 2, "Drama": 2, "unknown": 1}
    assert ["Western", 0] in genres
    occ = falkordb_store.read_only("MATCH (o:Occupation) RETURN o.id ORDER BY o.id").rows
    assert [r[0] for r in occ] == ["other", "student", "technician", "writer"]
    # Movie 4 has no release date: no decade link.
    assert not falkordb_store.read_only(
        "MATCH (:Video {id: '4'})-[:RELEASED_IN]->(d) RETURN d"
    ).rows
    vec = falkordb_store.read_only(
        "MATCH (:Video {id: '2'})-[:HAS_TEXTUAL]->(t:Textual) RETURN t.vector, t.text"
    ).rows[0]
    assert len(vec[0]) == 384
    assert vec[1] == "Beta (1987). Genres: Drama."


def test_ml1m_counts(falkordb_store: FalkorDBStore) -> None:
    falkordb_store.load(load_movielens(FIXTURES / "ml1m"))
    assert falkordb_store.stats() == {
        "nodes": {"AgeGroup": 3, "Decade": 3, "Gender": 2, "Genre": 4, "Occupation": 3,
                  "Textual": 3, "User": 3, "Video": 3},
        "relationships": {"HAS_GENDER": 3, "HAS_GENRE": 6, "HAS_OCCUPATION": 3,
                          "HAS_TEXTUAL": 3, "IN_AGE_GROUP": 3, "RATED": 5, "RELEASED_IN": 3},
    }  # fmt: skip
    rows = falkordb_store.read_only(
        "MATCH (u:User)-[:HAS_OCCUPATION]->(o), (u)-[:IN_AGE_GROUP]->(a) "
        "RETURN u.id, o.id, a.id ORDER BY u.id"
    ).rows
    assert rows == [
        ["1", "K-12 student", "<18"],
        ["2", "self-employed", "56+"],
        ["3", "scientist", "25-34"],
    ]


def test_mllatest_counts_tags_links(falkordb_store: FalkorDBStore) -> None:
    falkordb_store.load(load_movielens(FIXTURES / "mllatest"))
    assert falkordb_store.stats() == {
        "nodes": {"Decade": 2, "Genre": 4, "Tag": 3, "Textual": 3, "User": 3, "Video": 3},
        "relationships": {"HAS_GENRE": 4, "HAS_TAG": 3, "HAS_TEXTUAL": 3, "RATED": 4,
                          "RELEASED_IN": 2},
    }  # fmt: skip
    tags = falkordb_store.read_only(
        "MATCH (v:Video)-[h:HAS_TAG]->(t:Tag) RETURN v.id, t.id, h.count ORDER BY v.id, t.id"
    ).rows
    assert tags == [["1", "funny", 2], ["1", "pixar", 1], ["2", "dark, moody", 1]]
    links = falkordb_store.read_only(
        "MATCH (v:Video) RETURN v.id, v.imdb_id, v.tmdb_id, v.title ORDER BY v.id"
    ).rows
    assert links == [
        ["1", "tt0114709", 862, "Toy Alpha (1995)"],
        ["2", "tt0113497", None, "Beta, The (1987)"],
        ["3", "tt0113228", 15602, "Gamma Days"],
    ]
    rating = falkordb_store.read_only(
        "MATCH (:User {id: '1'})-[r:RATED]->(:Video {id: '2'}) RETURN r.rating"
    ).scalar()
    assert rating == 3.5


def test_detect_layout() -> None:
    assert detect_layout(FIXTURES / "ml100k") == "ML-100K"
    assert detect_layout(FIXTURES / "ml1m") == "ML-1M"
    assert detect_layout(FIXTURES / "mllatest") == "ML-latest"


@pytest.mark.parametrize(
    ("fixture", "file", "line", "text", "message"),
    [
        ("ml100k", "u.data", 3, "2\t1\t4", "u.data line 3: expected 4 tab-separated fields, got 3"),
        ("ml100k", "u.data", 2, "1\t2\t9\t900000002", "field 'rating': 9 is outside"),
        ("ml100k", "u.data", 5, "3\t99\t1\t900000005", "field 'item': unknown movie"),
        ("ml100k", "u.data", 4, "7\t3\t2\t900000004", "u.data line 4, field 'user': unknown user"),
        ("ml100k", "u.data", 6, "1\t1\t4\t1", "u.data line 6: duplicate rating"),
        ("ml100k", "u.user", 2, "2|abc|F|other|94043",
         "u.user line 2, field 'age': 'abc' is not an integer"),
        ("ml100k", "u.user", 3, "3|17|M|pilot|32067", "u.user line 3, field 'occupation'"),
        ("ml100k", "u.item", 2, "2|Beta (1987)|12-Foo-1987||x" + "|0" * 19,
         "u.item line 2, field 'release date'"),
        ("ml1m", "users.dat", 2, "2::M::57::16::20002", "users.dat line 2, field 'age'"),
        ("ml1m", "movies.dat", 3, "3::Gamma Days (2001)", "movies.dat line 3: expected 3"),
        ("mllatest", "ratings.csv", 4, "2,1,5.5,950000003",
         "ratings.csv line 4, field 'rating': 5.5 is outside"),
        ("mllatest", "ratings.csv", 3, "1,2,x,950000002",
         "ratings.csv line 3, field 'rating': 'x' is not a finite number"),
        ("mllatest", "tags.csv", 5, "3,42,dark,1500000113", "tags.csv line 5, field 'movieId'"),
        ("mllatest", "ratings.csv", 2, "1,1,4.0,950000001,extra",
         "ratings.csv line 2: expected 4 comma-separated fields, got 5"),
    ],
)  # fmt: skip
def test_malformed_lines(
    tmp_path: Path, fixture: str, file: str, line: int, text: str, message: str
) -> None:
    root = _copy(fixture, tmp_path)
    enc = "utf-8" if fixture == "mllatest" else "latin-1"
    _replace_line(root / file, line, text, enc)
    with pytest.raises(IngestError) as err:
        load_movielens(root)
    assert message in str(err.value)
    assert err.value.file == file and err.value.line == line


def test_cause_is_kept(tmp_path: Path) -> None:
    root = _copy("ml100k", tmp_path)
    _replace_line(root / "u.user", 2, "2|abc|F|other|94043")
    with pytest.raises(IngestError) as err:
        load_movielens(root)
    assert isinstance(err.value.__cause__, ValueError)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    root = _copy("ml100k", tmp_path)
    (root / "u.item").unlink()
    with pytest.raises(IngestError, match=r"u\.item: required file is missing .*ML-100K"):
        load_movielens(root)
    root = _copy("ml1m", tmp_path)
    (root / "ratings.dat").write_text("")
    with pytest.raises(IngestError, match=r"ratings\.dat: file has no data rows"):
        load_movielens(root)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(IngestError, match="no MovieLens files found.*ML-100K.*ML-1M.*ML-latest"):
        load_movielens(empty)


def test_failed_load_leaves_graph_unchanged(falkordb_store: FalkorDBStore, tmp_path: Path) -> None:
    falkordb_store.load(load_movielens(FIXTURES / "ml100k"))
    root = _copy("ml100k", tmp_path)
    _replace_line(root / "u.data", 8, "4\t5\tthree\t900000008")
    with pytest.raises(IngestError, match="u.data line 8"):
        falkordb_store.load(load_movielens(root))
    assert falkordb_store.stats() == ML100K_STATS


def test_without_embedding() -> None:
    data = load_movielens(FIXTURES / "ml100k", embed=False)
    assert "Textual" not in {n.label for n in data.nodes}
