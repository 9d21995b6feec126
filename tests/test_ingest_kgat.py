"""KGAT-format loader on a small hand-written fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kg_ingest.errors import IngestError
from kg_ingest.kgat import load_kgat, relation_type
from kg_store.falkordb_store import FalkorDBStore
from tests.conftest import FIXTURES

KGAT_STATS = {
    "nodes": {"Entity": 2, "User": 4, "Video": 5},
    "relationships": {"INTERACTED": 10, "KG_2": 1, "KG_film_film_director": 1,
                      "KG_film_film_genre": 3},
}  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "kgat", tmp_path / "kgat"))


def test_counts_and_idempotent(falkordb_store: FalkorDBStore) -> None:
    falkordb_store.load(load_kgat(FIXTURES / "kgat"))
    assert falkordb_store.stats() == KGAT_STATS
    falkordb_store.load(load_kgat(FIXTURES / "kgat"))
    assert falkordb_store.stats() == KGAT_STATS


def test_values(falkordb_store: FalkorDBStore) -> None:
    falkordb_store.load(load_kgat(FIXTURES / "kgat"))
    splits = falkordb_store.read_only(
        "MATCH ()-[r:INTERACTED]->() RETURN r.split, count(r) ORDER BY r.split"
    ).rows
    assert splits == [["test", 4], ["train", 6]]
    # Entity ids below n_items are the items themselves.
    kg = falkordb_store.read_only(
        "MATCH (a)-[r:KG_film_film_genre]->(b) RETURN labels(a)[0], a.id, labels(b)[0], b.id "
        "ORDER BY a.id"
    ).rows
    assert kg == [["Video", "0", "Entity", "5"], ["Video", "1", "Entity", "5"],
                  ["Video", "3", "Video", "1"]]  # fmt: skip
    ent = falkordb_store.read_only("MATCH (e:Entity) RETURN e.id, e.org_id ORDER BY e.id").rows
    assert ent == [["5", '"Some Book Title'], ["6", "m.g"]]
    items = falkordb_store.read_only(
        "MATCH (v:Video) RETURN v.id, v.org_id, v.freebase_id ORDER BY v.id"
    ).rows
    assert items[2] == ["2", "b2", None]
    # User 2 has no items: still a node.
    assert falkordb_store.read_only("MATCH (u:User {id: '2'}) RETURN u.org_id").scalar() == "U2"


def test_train1_valid1_splits(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "train1.txt").write_text("0 0 1\n1 3\n3 1\n")
    (root / "valid1.txt").write_text("0 2\n3 4\n")
    data = load_kgat(root).merged()
    inter = next(r.frame for r in data.rels if r.type == "INTERACTED")
    got = dict(zip(zip(inter["src"], inter["dst"], strict=True), inter["split"], strict=True))
    assert got[("0", "2")] == "valid" and got[("3", "4")] == "valid"
    assert got[("0", "0")] == "train" and got[("0", "3")] == "test"
    assert len(got) == 10


def test_relation_names() -> None:
    assert relation_type("film.film.genre", 0) == "KG_film_film_genre"
    assert relation_type("http://rdf.freebase.com/ns/type.object.type", 0) == "KG_type_object_type"
    assert relation_type("???", 7) == "KG_7"
    assert relation_type(None, 3) == "KG_3"


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("train.txt", "0 0 1 2\n1 x3\n",
         "train.txt line 2, field 'item' (column 2): 'x3' is not an integer"),
        ("test.txt", "0 3\n\n1 4 99\n",
         "test.txt line 3, field 'item' (column 3): item id 99 is out of range"),
        ("test.txt", "0 3\n7 1\n",
         "test.txt line 2, field 'user' (column 1): user id 7 is out of range"),
        ("kg_final.txt", "0 0 5\n1 0\n", "kg_final.txt line 2: expected 3 space-separated"),
        ("kg_final.txt", "0 0 5\n1 0 -5\n",
         "kg_final.txt line 2, field 'tail' (column 3): negative id -5"),
        ("item_list.txt", "org_id remap_id\nb0 0\nb1 x\n",
         "item_list.txt line 3, field 'remap_id': 'x' is not an integer"),
    ],
)  # fmt: skip
def test_malformed(tmp_path: Path, file: str, content: str, message: str) -> None:
    root = _copy(tmp_path)
    (root / file).write_text(content)
    with pytest.raises(IngestError) as err:
        load_kgat(root)
    assert message in str(err.value)


def test_missing_train(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "train.txt").unlink()
    with pytest.raises(IngestError, match=r"train\.txt: required file is missing"):
        load_kgat(root)


def test_failed_load_leaves_graph_unchanged(falkordb_store: FalkorDBStore, tmp_path: Path) -> None:
    falkordb_store.load(load_kgat(FIXTURES / "kgat"))
    root = _copy(tmp_path)
    (root / "kg_final.txt").write_text("0 0 5\n0 zero 5\n")
    with pytest.raises(IngestError, match="kg_final.txt line 2"):
        falkordb_store.load(load_kgat(root))
    assert falkordb_store.stats() == KGAT_STATS


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("item_list.txt", "org_id remap_id\nb0 0\nb1 1\nb2 1\nb3 3\nb4 4\n",
         "item_list.txt line 4, field 'remap_id': duplicate remap_id '1' (first at line 3)"),
        ("item_list.txt", "org_id remap_id\nb0 0\nb1 7\nb2 2\nb3 3\nb4 4\n",
         "item_list.txt line 3, field 'remap_id': 7 is out of range: 5 rows need remap ids 0..4"),
        ("kg_final.txt", "0 0 5\n1 0 99999999999999999999\n",
         "kg_final.txt line 2, field 'tail' (column 3): '99999999999999999999' is not an "
         "integer id"),
        ("kg_final.txt", "0 0 5\n-1 0 5\n", "kg_final.txt line 2, field 'head' (column 1)"),
        ("entity_list.txt", "org_id remap_id\n\xff 0\n", "entity_list.txt line 2: not valid utf-8"),
    ],
)  # fmt: skip
def test_errors_name_line_and_field(tmp_path: Path, file: str, content: str, message: str) -> None:
    root = _copy(tmp_path)
    (root / file).write_bytes(content.encode("latin-1"))
    with pytest.raises(IngestError) as err:
        load_kgat(root)
    assert message in str(err.value)
