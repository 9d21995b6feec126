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
        ("ml100k", "u.data", 2, "1\t2\t9\t900000002",
         "field 'rating' (column 3): 9 is outside the range 1..5"),
        ("ml100k", "u.data", 5, "3\t99\t1\t900000005", "field 'item' (column 2): unknown movie"),
        ("ml100k", "u.data", 4, "7\t3\t2\t900000004",
         "u.data line 4, field 'user' (column 1): unknown user"),
        ("ml100k", "u.data", 6, "1\t1\t4\t1", "u.data line 6: duplicate rating"),
        ("ml100k", "u.user", 2, "2|abc|F|other|94043",
         "u.user line 2, field 'age' (column 2): 'abc' is not an integer"),
        ("ml100k", "u.user", 3, "3|17|M|pilot|32067", "u.user line 3, field 'occupation'"),
        ("ml100k", "u.item", 2, "2|Beta (1987)|12-Foo-1987||x" + "|0" * 19,
         "u.item line 2, field 'release date' (column 3)"),
        ("ml1m", "users.dat", 2, "2::M::57::16::20002", "users.dat line 2, field 'age' (column 3)"),
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


# -- quoting, line numbers and field names ----------------------------------------------------


def _write(root: Path, name: str, text: str, encoding: str = "utf-8") -> None:
    (root / name).write_bytes(text.encode(encoding))


def _error(root: Path) -> IngestError:
    with pytest.raises(IngestError) as err:
        load_movielens(root, embed=False)
    return err.value


def test_mllatest_rejects_an_undoubled_quote(tmp_path: Path) -> None:
    """pandas read this title as 'Crouching Tiger, Hidden Dragon" (2000)' without a word."""
    root = _copy("mllatest", tmp_path)
    movies = (
        'movieId,title,genres\n2,"Beta, The (1987)",Drama\n'
        '1,"Crouching Tiger, Hidden "Dragon" (2000)",Action|Drama\n'
        "3,Gamma Days,Drama\n"
    )
    _write(root, "movies.csv", movies)
    err = _error(root)
    assert (err.file, err.line, err.field) == ("movies.csv", 3, "title")
    assert str(err).startswith("movies.csv line 3, field 'title': malformed quoting: ")
    assert 'a quote inside a quoted field must be doubled ("")' in str(err)
    assert "'Dragon\" (200'" in str(err)  # where the stray quote is


def test_mllatest_doubled_quotes_and_quoted_newlines_load(tmp_path: Path) -> None:
    root = _copy("mllatest", tmp_path)
    _write(root, "movies.csv", 'movieId,title,genres\n1,"Toy ""Alpha"" (1995)",Animation\n'
           '2,"Beta,\nThe (1987)",Drama\n3,Gamma \"Days\",Drama\n')  # fmt: skip
    data = load_movielens(root, embed=False).merged()
    videos = next(n.frame for n in data.nodes if n.label == "Video").set_index("id")
    assert videos.loc["1", "title"] == 'Toy "Alpha" (1995)'
    assert videos.loc["2", "title"] == "Beta,\nThe (1987)"
    assert videos.loc["3", "title"] == 'Gamma "Days"'  # a quote inside an unquoted field is text


@pytest.mark.parametrize(
    ("file", "text", "line", "field", "message"),
    [
        # a quoted field never closed swallows the rest of the file: name where it opened
        ("tags.csv", 'userId,movieId,tag,timestamp\n2,1,Funny,1500000094\n3,1,"dark,1500000113\n'
         "2,1,pixar,1500000092\n", 3, "tag", "a quoted field opened here is never closed"),
        ("links.csv", 'movieId,imdbId,tmdbId\n1,0114709,862\n2,"0113497"x,\n3,0113228,15602\n',
         3, "imdbId", "must be doubled"),
        ("ratings.csv", 'userId,movieId,rating,timestamp\n1,1,4.0,950000001\n'
         '1,2,"3.5" ,950000002\n', 3, "rating", "must be doubled"),
        # pandas padded a short row with empty fields
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,950000001\n1,2\n", 3, None,
         "expected 4 comma-separated fields, got 2"),
        # pandas skipped blank lines and so counted the lines after them wrongly
        ("ratings.csv", "userId,movieId,rating,timestamp\n\n1,1,4.0,950000001\n\n\n"
         "1,2,x,950000002\n", 6, "rating", "'x' is not a finite number"),
        ("movies.csv", "movieId,title,title\n1,a,b\n", 1, None, "column 'title' appears twice"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,950000001\n1,1,3.0,1\n", 3,
         None, "duplicate rating of this movie by this user (userId '1', movieId '1'; "
         "first at line 2)"),
    ],
)  # fmt: skip
def test_mllatest_csv_errors_name_file_line_and_field(
    tmp_path: Path, file: str, text: str, line: int, field: str | None, message: str
) -> None:
    root = _copy("mllatest", tmp_path)
    _write(root, file, text)
    err = _error(root)
    assert (err.file, err.line, err.field) == (file, line, field)
    assert message in str(err)


def test_mllatest_bad_utf8_names_the_line(tmp_path: Path) -> None:
    root = _copy("mllatest", tmp_path)
    (root / "movies.csv").write_bytes(b"movieId,title,genres\n1,Alpha,Drama\n2,Caf\xe9,Drama\n")
    err = _error(root)
    assert (err.file, err.line) == ("movies.csv", 3) and "not valid utf-8 text" in str(err)


def test_ml100k_genre_flags_are_named_after_u_genre(tmp_path: Path) -> None:
    root = _copy("ml100k", tmp_path)
    flags = ["0"] * 19
    flags[18] = "x"  # Western, the 19th genre of u.genre: column 5 + 19
    _replace_line(root / "u.item", 2, "2|Beta (1987)|12-Mar-1987||" + "|".join(["", *flags]),
                  "latin-1")  # fmt: skip
    err = _error(root)
    assert str(err) == "u.item line 2, field 'genre Western' (column 24): must be 0 or 1, got 'x'"
    flags[18], flags[1] = "0", "2"
    _replace_line(root / "u.item", 2, "2|Beta (1987)|12-Mar-1987||" + "|".join(["", *flags]),
                  "latin-1")  # fmt: skip
    assert str(_error(root)) == (
        "u.item line 2, field 'genre Action' (column 7): must be 0 or 1, got '2'"
    )


def test_ml100k_u_genre_errors_name_the_line(tmp_path: Path) -> None:
    root = _copy("ml100k", tmp_path)
    _replace_line(root / "u.genre", 3, "Adventure|1", "latin-1")
    err = _error(root)
    assert str(err) == "u.genre line 3, field 'index' (column 2): duplicate genre index '1' " \
        "(first at line 2)"  # fmt: skip
    _replace_line(root / "u.genre", 3, "Adventure|40", "latin-1")
    assert "u.genre line 3, field 'index' (column 2): 40 is out of range" in str(_error(root))
    _replace_line(root / "u.genre", 3, "Action|2", "latin-1")
    assert str(_error(root)) == (
        "u.genre line 3, field 'name' (column 1): duplicate genre 'Action' (first at line 2)"
    )


def test_ml100k_one_sided_ranges_read_well(tmp_path: Path) -> None:
    root = _copy("ml100k", tmp_path)
    _replace_line(root / "u.data", 2, "0\t2\t3\t900000002")
    assert str(_error(root)) == "u.data line 2, field 'user' (column 1): 0 is below the minimum 1"


def test_latin1_control_bytes_do_not_split_lines(tmp_path: Path) -> None:
    """Byte 0x85 is U+0085 in latin-1, a line break to str.splitlines but not to MovieLens."""
    root = _copy("ml100k", tmp_path)
    _replace_line(root / "u.item", 2, "2|Beta\x85 (1987)|12-Mar-1987||x" + "|0" * 19, "latin-1")
    data = load_movielens(root, embed=False).merged()
    videos = next(n.frame for n in data.nodes if n.label == "Video").set_index("id")
    assert videos.loc["2", "title"] == "Beta\x85 (1987)"
    root = _copy("ml100k", tmp_path / "again")
    _replace_line(root / "u.item", 5, "5|Delta\x85|01-Jan-1994||x|0|1", "latin-1")
    err = _error(root)
    assert (err.line, str(err).split(": ", 1)[1]) == (5, "expected 24 '|'-separated fields, got 7")
