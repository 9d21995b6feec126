"""Micro-video loader (layout in docs/microvideo_format.md) on a small fixture; the feature
matrices are written by the tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kg_ingest.errors import IngestError
from kg_ingest.microvideo import load_microvideo
from kg_store.falkordb_store import FalkorDBStore
from tests.conftest import FIXTURES

STATS = {
    "nodes": {"Acoustic": 3, "AgeGroup": 2, "Decade": 1, "Gender": 2, "Genre": 4,
              "Occupation": 2, "Person": 2, "Tag": 5, "Textual": 3, "User": 3, "Video": 3,
              "Visual": 3},
    "relationships": {"CLICKED": 3, "COMMENTED": 1, "CREATED_BY": 3, "FINISHED": 1,
                      "HAS_ACOUSTIC": 3, "HAS_GENDER": 3, "HAS_GENRE": 4, "HAS_OCCUPATION": 2,
                      "HAS_TAG": 5, "HAS_TEXTUAL": 3, "HAS_VISUAL": 3, "IN_AGE_GROUP": 2,
                      "LIKED": 1, "RELEASED_IN": 2, "SHARED": 1},
}  # fmt: skip


@pytest.fixture(autouse=True)
def _hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_TEXT_BACKEND", "hashing")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The fixture plus visual (3 x 4) and acoustic (3 x 2) features."""
    out = Path(shutil.copytree(FIXTURES / "microvideo", tmp_path / "microvideo"))
    np.save(out / "visual.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(out / "acoustic.npy", np.array([[0.5, -1.0], [2.0, 0.0], [1.5, 1.5]]))
    return out


def test_counts_and_idempotent(falkordb_store: FalkorDBStore, root: Path) -> None:
    falkordb_store.load(load_microvideo(root))
    assert falkordb_store.stats() == STATS
    falkordb_store.load(load_microvideo(root))
    assert falkordb_store.stats() == STATS


def test_values(falkordb_store: FalkorDBStore, root: Path) -> None:
    falkordb_store.load(load_microvideo(root))
    clicks = falkordb_store.read_only(
        "MATCH (u:User)-[c:CLICKED]->(v:Video) RETURN u.id, v.id, c.count, c.ts, c.split "
        "ORDER BY u.id, v.id"
    ).rows
    assert clicks == [
        ["u1", "v1", 1, 1600000000, "train"],
        ["u1", "v2", 1, 1600000002, "train"],
        ["u3", "v1", 2, 1600000006, "train"],  # two events: one relationship, the last ts
    ]
    vis = falkordb_store.read_only(
        "MATCH (:Video {id: 'v2'})-[:HAS_VISUAL]->(x:Visual) RETURN x.vector"
    ).scalar()
    assert vis == [4.0, 5.0, 6.0, 7.0]
    tags = falkordb_store.read_only("MATCH (t:Tag) RETURN t.id ORDER BY t.id").rows
    assert [t[0] for t in tags] == ["cat", "funny", "guitar", "italian food", "recipe"]
    video = falkordb_store.read_only(
        "MATCH (v:Video {id: 'v3'}) RETURN v.title, v.year, v.duration"
    ).rows[0]
    assert video == ["Cooking pasta", None, "45"]
    user = falkordb_store.read_only("MATCH (u:User {id: 'u1'}) RETURN u.age, u.country").rows[0]
    assert user == [23, "NL"]


def test_video_ids_order(root: Path) -> None:
    (root / "video_ids.txt").write_text("v3\nv1\n")
    np.save(root / "visual.npy", np.array([[3.0, 3.0], [1.0, 1.0]]))
    (root / "acoustic.npy").unlink()
    data = load_microvideo(root, embed=False)
    vis = next(n.frame for n in data.nodes if n.label == "Visual")
    assert dict(zip(vis["id"], vis["vector"], strict=True)) == {"v3": [3.0, 3.0], "v1": [1.0, 1.0]}


def test_textual_npy_replaces_embedding(root: Path) -> None:
    np.save(root / "textual.npy", np.ones((3, 8)))
    data = load_microvideo(root)
    text = next(n.frame for n in data.nodes if n.label == "Textual")
    assert len(text) == 3 and text["vector"].iloc[0] == [1.0] * 8


def test_shape_mismatch(root: Path) -> None:
    np.save(root / "visual.npy", np.zeros((2, 4)))
    with pytest.raises(IngestError, match=r"visual\.npy: has 2 rows but videos\.csv lists 3"):
        load_microvideo(root)


def test_nan_features(root: Path) -> None:
    bad = np.zeros((3, 2))
    bad[1, 0] = np.nan
    np.save(root / "acoustic.npy", bad)
    with pytest.raises(IngestError, match=r"acoustic\.npy: row 1 \(video 'v2'\) holds NaN"):
        load_microvideo(root)
    bad[1, 0] = np.inf
    np.save(root / "acoustic.npy", bad)
    with pytest.raises(IngestError, match="NaN or infinite"):
        load_microvideo(root)


def test_not_a_matrix(root: Path) -> None:
    np.save(root / "visual.npy", np.zeros(3))
    with pytest.raises(IngestError, match="expected a 2-D matrix"):
        load_microvideo(root)


@pytest.mark.parametrize(
    ("file", "line", "text", "message"),
    [
        ("interactions.csv", 4, "u1,v2,watch,1600000002,train",
         "interactions.csv line 4, field 'kind': unknown kind 'watch'"),
        ("interactions.csv", 3, "u1,v9,like,1600000001,train",
         "interactions.csv line 3, field 'video': unknown video"),
        ("interactions.csv", 3, "u7,v1,like,1600000001,train",
         "interactions.csv line 3, field 'user': unknown user"),
        ("interactions.csv", 5, "u2,v2,finish,soon,test",
         "interactions.csv line 5, field 'ts': 'soon' is not an integer"),
        ("interactions.csv", 6, "u2,v3,share,1600000004,holdout",
         "interactions.csv line 6, field 'split': unknown split 'holdout'"),
        ("users.csv", 3, "u2,forty,M,,DE", "users.csv line 3, field 'age'"),
        ("videos.csv", 4, "v1,Again,Food,,carol,,1",
         "videos.csv line 4, field 'video': duplicate video id 'v1' (first at line 2)"),
    ],
)  # fmt: skip
def test_malformed(root: Path, file: str, line: int, text: str, message: str) -> None:
    lines = (root / file).read_text().splitlines()
    lines[line - 1] = text
    (root / file).write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert message in str(err.value)


def test_missing_file(root: Path) -> None:
    (root / "interactions.csv").unlink()
    with pytest.raises(IngestError, match=r"interactions\.csv: required file is missing"):
        load_microvideo(root)


def test_users_from_interactions(root: Path) -> None:
    (root / "users.csv").unlink()
    data = load_microvideo(root, embed=False).merged()
    users = next(n.frame for n in data.nodes if n.label == "User")
    assert sorted(users["id"]) == ["u1", "u2", "u3"]


def test_failed_load_leaves_graph_unchanged(falkordb_store: FalkorDBStore, root: Path) -> None:
    falkordb_store.load(load_microvideo(root))
    np.save(root / "visual.npy", np.zeros((4, 4)))
    with pytest.raises(IngestError):
        falkordb_store.load(load_microvideo(root))
    assert falkordb_store.stats() == STATS


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # a text file named .npy was reported as "pickled (object) data"
        (b"0.1,0.2\n0.3,0.4\n0.5,0.6\n",
         "visual.npy: not a NumPy .npy file (starts with b'0.1,0.'; a .npy file starts with "
         "b'\\x93NUMPY'): write the array with numpy.save"),
        (b"", "visual.npy: not a NumPy .npy file (empty;"),
        (b"PK\x03\x04rest of a zip", "visual.npy: not a NumPy .npy file (a ZIP archive (.npz?);"),
        (b"\x93NUMPY\x01\x00", "visual.npy: not a readable .npy array"),
    ],
)  # fmt: skip
def test_not_an_npy_file(root: Path, content: bytes, message: str) -> None:
    (root / "visual.npy").write_bytes(content)
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert str(err.value).startswith(message)


def test_object_npy_is_refused(root: Path) -> None:
    np.save(root / "visual.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert str(err.value) == (
        "visual.npy: holds an object array (pickled Python objects): save a numeric array"
    )


def test_csv_quoting_is_strict(root: Path) -> None:
    text = (root / "videos.csv").read_text().replace("Guitar solo", '"Guitar "solo""')
    (root / "videos.csv").write_text(text)
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert (err.value.file, err.value.line, err.value.field) == ("videos.csv", 3, "title")
    assert "a quote inside a quoted field must be doubled" in str(err.value)


def test_short_csv_row_is_refused(root: Path) -> None:
    """A row with fewer fields than the header was padded with empty values."""
    lines = (root / "interactions.csv").read_text().splitlines()
    lines[2] = "u1,v1"
    (root / "interactions.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert str(err.value) == "interactions.csv line 3: expected 5 comma-separated fields, got 2"


def test_video_ids_errors_name_the_line(root: Path) -> None:
    (root / "acoustic.npy").unlink()
    np.save(root / "visual.npy", np.ones((2, 2)))
    (root / "video_ids.txt").write_bytes(b"v1\nv\xff2\n")
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert (err.value.file, err.value.line) == ("video_ids.txt", 2)
    assert "not valid utf-8 text" in str(err.value)


def test_bad_column_name_is_the_field(root: Path) -> None:
    text = (root / "users.csv").read_text().replace("country", "home country", 1)
    (root / "users.csv").write_text(text)
    with pytest.raises(IngestError) as err:
        load_microvideo(root)
    assert str(err.value) == (
        "users.csv line 1, field 'home country': a column name must be a property name "
        "(letters, digits, _; not id)"
    )
