"""kNN similarity relationships in the graph DB: SIMILAR_<MODALITY> {score} written by
``kg_store.replace`` and ``kgrec similar build``, read back by the analysts' query."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_store import GraphData, GraphStore, NodeSet, RelSet
from kg_store.replace import replace_relationships
from kgrec import schema as model
from recommend.data import export_from_graph_data
from recommend.knn import item_modality_features, knn_graph, similar_graph_data
from tests.test_cli import kgrec

IDS = ["a", "b", "c", "d"]
# cos(a,b) = 0.8, cos(a,c) = 0, cos(a,d) = 0.6, cos(b,c) = 0.6, cos(b,d) = 0.96, cos(c,d) = 0.8
VECTORS = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]]


def small_graph() -> GraphData:
    """Four videos with Textual vectors, one (e) without."""
    videos = [*IDS, "e"]
    vec = pd.DataFrame({"id": IDS, "vector": VECTORS})
    return GraphData(
        nodes=[NodeSet(model.VIDEO, pd.DataFrame({"id": videos})), NodeSet(model.TEXTUAL, vec)],
        rels=[RelSet("HAS_TEXTUAL", model.VIDEO, model.TEXTUAL,
                     pd.DataFrame({"src": IDS, "dst": IDS}))],
    )  # fmt: skip


def test_features_and_relationships_by_hand() -> None:
    export = export_from_graph_data(small_graph())
    feats = item_modality_features(export)
    assert list(feats) == ["Textual"]
    np.testing.assert_allclose(feats["Textual"][:4], VECTORS)
    assert not feats["Textual"][4].any()  # e has no Textual node
    data, counts = similar_graph_data(export, k=1)
    # nearest: a->b (0.8), b->d (0.96), c->d (0.8), d->b (0.96, the same pair as b->d)
    assert counts == {"SIMILAR_TEXTUAL": 3}
    frame = data.rels[0].frame
    assert list(zip(frame["src"], frame["dst"], strict=True)) == [
        ("a", "b"),
        ("b", "d"),
        ("c", "d"),
    ]
    np.testing.assert_allclose(frame["score"], [0.8, 0.96, 0.8], rtol=1e-6)


def test_unknown_modality_is_named() -> None:
    export = export_from_graph_data(small_graph())
    with pytest.raises(ValueError, match="no Video has Visual features.*Textual"):
        similar_graph_data(export, k=2, labels=["Visual"])


def test_knn_of_every_item_reaches_k() -> None:
    g = knn_graph(np.asarray(VECTORS), k=2)
    assert g.degree().tolist() == [2, 2, 2, 2]


def test_write_replace_and_query(store: GraphStore) -> None:
    store.load(small_graph())
    export = store.export()
    data, _ = similar_graph_data(export, k=2)
    report = replace_relationships(store, data.rels[0])
    # k=2: a->{b,d}, b->{d,a}, c->{d,b}, d->{b,a|c}: pairs ab, ad, bd, cd, bc (+ d's second)
    n2 = store.stats()["relationships"]["SIMILAR_TEXTUAL"]
    assert report.per_type["SIMILAR_TEXTUAL"] == n2
    assert n2 == len(data.rels[0].frame) == 5
    rows = store.query("similar_in_modality", {"item_id": "b", "modality": "Textual"}).records()
    got = [(r["item_id"], round(r["score"], 4), r["source"]) for r in rows]
    assert got == [("d", 0.96, "materialised"), ("a", 0.8, "materialised"),
                   ("c", 0.6, "materialised")]  # fmt: skip
    # rebuilt with k=1, the k=2 relationships are gone
    data, _ = similar_graph_data(store.export(), k=1)
    replace_relationships(store, data.rels[0])
    assert store.stats()["relationships"]["SIMILAR_TEXTUAL"] == 3
    rows = store.query("similar_in_modality", {"item_id": "a", "modality": "Textual"}).records()
    assert [(r["item_id"], r["source"]) for r in rows] == [("b", "materialised")]
    assert store.stats()["relationships"]["HAS_TEXTUAL"] == 4  # nothing else touched


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kgrec-similar")
    yield path
    kgrec(path, "db", "stop")


@pytest.mark.slow  # five kgrec processes: 68 s on the busy 2-core machine
def test_cli_similar_build(home: Path) -> None:
    kgrec(home, "ingest", "synthetic", "--users", "30", "--videos", "20", "--graph", "sim")
    out = json.loads(kgrec(home, "similar", "build", "--k", "3", "--graph", "sim", "--json").stdout)
    assert out["k"] == 3 and set(out["relationships"]) == {
        "SIMILAR_VISUAL", "SIMILAR_ACOUSTIC", "SIMILAR_TEXTUAL"}  # fmt: skip
    stats = json.loads(kgrec(home, "stats", "--json", "--graph", "sim").stdout)
    for rel, n in out["relationships"].items():
        assert stats["relationships"][rel] == n
        assert 20 * 3 / 2 <= n <= 20 * 3  # each pair once, mutual pairs counted once
    rows = json.loads(
        kgrec(home, "query", "similar_in_modality", "-p", "item_id=v0", "-p",
              "modality=Textual", "--graph", "sim", "--json").stdout
    )  # fmt: skip
    records = [dict(zip(rows["columns"], r, strict=True)) for r in rows["rows"]]
    assert len(records) >= 3 and {r["source"] for r in records} == {"materialised"}
    scores = [r["score"] for r in records]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    bad = kgrec(home, "similar", "build", "--modality", "Smell", "--graph", "sim", ok=False)
    assert bad.returncode == 1 and "no Video has Smell features" in bad.stderr
