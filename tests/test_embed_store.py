"""Write-back of embeddings and the ``similar_entities`` library query, on every reachable
backend (FalkorDB always; Neo4j where a server or Docker is available)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from embed import KGEConfig, TrainConfig, build, fit, from_export
from kg_ingest.synthetic import generate
from kg_store import GraphStore, QueryError
from kg_store.graph_data import GraphData, NodeSet, RelSet


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _genres() -> GraphData:
    import pandas as pd

    genres = pd.DataFrame({"id": ["g0", "g1", "g2", "g3"], "name": ["A", "B", "C", "D"]})
    videos = pd.DataFrame({"id": ["v0", "v1"], "title": ["first", "second"]})
    rels = pd.DataFrame({"src": ["v0", "v1"], "dst": ["g0", "g2"]})
    return GraphData(
        nodes=[NodeSet("Genre", genres), NodeSet("Video", videos)],
        rels=[RelSet("HAS_GENRE", "Video", "Genre", rels)],
    )


# unit vectors at 0°, 30°, 90° and 180° from g0 (cosine 1, 0.866, 0, -1)
ANGLES = np.deg2rad([0.0, 30.0, 90.0, 180.0])
VECTORS = np.stack([np.cos(ANGLES), np.sin(ANGLES), np.zeros(4)], 1).astype(np.float32)


def test_write_back_and_similar_entities(store: GraphStore) -> None:
    store.load(_genres())
    n = store.write_embeddings("Genre", ["g0", "g1", "g2", "g3", "absent"],
                               np.vstack([VECTORS, np.ones((1, 3), np.float32)]))  # fmt: skip
    assert n == 4  # the key that is not in the graph is skipped
    stored = store.read_only("MATCH (g:Genre {id: 'g1'}) RETURN g.embedding").scalar()
    assert np.allclose(list(stored), VECTORS[1], atol=1e-6)

    rows = store.query("similar_entities", {"id": "g0", "label": "Genre"}).records()
    assert [r["id"] for r in rows] == ["g1", "g2", "g3"]  # most similar first, g0 itself left out
    assert [r["similarity"] for r in rows] == pytest.approx([np.sqrt(3) / 2, 0.0, -1.0], abs=1e-4)
    assert rows[0]["label"] == "Genre" and rows[0]["name"] == "B"
    top = store.query("similar_entities", {"id": "g3", "label": "Genre", "limit": 1}).records()
    assert [r["id"] for r in top] == ["g2"]  # 90° from g3, the others are 150° and 180°

    # one embedding space: the Videos nearest a Genre
    store.write_embeddings("Video", ["v0", "v1"], VECTORS[[2, 1]])
    cross = store.query("similar_entities", {"id": "g0", "label": "Genre", "target_label": "Video"})
    assert [r["id"] for r in cross.records()] == ["v1", "v0"]
    assert cross.records()[0]["name"] == "second"

    # writing again with another dimension replaces the vectors and the index
    store.write_embeddings(
        "Genre", ["g0", "g1", "g2", "g3"], np.eye(4, dtype=np.float32)[[0, 0, 1, 2]]
    )
    again = store.query("similar_entities", {"id": "g0", "label": "Genre", "limit": 1}).records()
    assert again[0]["id"] == "g1" and again[0]["similarity"] == pytest.approx(1.0, abs=1e-4)

    assert store.query("similar_entities", {"id": "nobody", "label": "Genre"}).rows == []
    assert store.query("similar_entities", {"id": "g0", "label": "Video"}).rows == []
    with pytest.raises(ValueError, match="NaN"):
        store.write_embeddings("Genre", ["g0"], np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="2 keys"):
        store.write_embeddings("Genre", ["g0", "g1"], np.ones((3, 3)))


def test_trained_embeddings_round_trip(store: GraphStore) -> None:
    """TransR trained on an export of the store; the query answers as numpy's cosine does."""
    store.load(generate(40, 30, seed=3))
    ts = from_export(store.export(), ["HAS_GENRE", "HAS_TAG", "RELEASED_IN"])
    torch.manual_seed(0)
    model = build("transr", ts.n_entities, ts.n_relations, KGEConfig(dim=8))
    fit(model, ts.triples, TrainConfig(epochs=5, batch_size=128, device="cpu"))
    vectors = model.entity_vectors().numpy()
    for label, keys in ts.keys.items():
        off = ts.offsets[label]
        assert store.write_embeddings(label, list(keys), vectors[off : off + len(keys)]) == len(
            keys
        )

    keys = ts.keys["Genre"]
    mine = vectors[ts.offsets["Genre"] : ts.offsets["Genre"] + len(keys)]
    unit = mine / np.linalg.norm(mine, axis=1, keepdims=True)
    cos = unit @ unit[0]
    order = [i for i in np.argsort(-cos, kind="stable") if i != 0][:5]
    rows = store.query("similar_entities", {"id": keys[0], "label": "Genre", "limit": 5}).records()
    assert [r["id"] for r in rows] == [keys[i] for i in order]
    assert [r["similarity"] for r in rows] == pytest.approx(cos[order], abs=1e-4)


def _similar(store: GraphStore, params: dict[str, object], wait_s: float = 30.0) -> list[dict]:
    """similar_entities, retried while a vector index written just before is still being built
    (both backends populate it in the background; until then the index path is refused)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return store.query("similar_entities", params).records()
        except QueryError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _nodes(label: str, n: int) -> GraphData:
    import pandas as pd

    ids = [f"{label[0].lower()}{i:03d}" for i in range(n)]
    return GraphData(nodes=[NodeSet(label, pd.DataFrame({"id": ids, "name": ids}))])


@pytest.mark.parametrize("exact_limit", [5000, 0])  # 0: through the vector index, re-scored
def test_similar_entities_ties_by_id_and_zero_vectors(store: GraphStore, exact_limit: int) -> None:
    store.load(_genres())
    # g1 and g2 tie at 30°; g3 is a zero vector (no direction): left out
    vecs = np.vstack([VECTORS[0], VECTORS[1], VECTORS[1], np.zeros(3, np.float32)])
    store.write_embeddings("Genre", ["g0", "g1", "g2", "g3"], vecs)
    params = {"id": "g0", "label": "Genre", "exact_limit": exact_limit}
    rows = _similar(store, params)
    assert [r["id"] for r in rows] == ["g1", "g2"]
    assert [r["similarity"] for r in rows] == pytest.approx([np.sqrt(3) / 2] * 2, abs=1e-6)
    assert store.query("similar_entities", {**params, "id": "g3"}).rows == []


def test_similar_entities_exact_and_index_paths_agree(store: GraphStore) -> None:
    """300 random vectors: brute force (the default below 5000 candidates) and the vector index
    path (exact_limit 0: 10 * limit + 100 candidates, re-scored) both give numpy's cosine."""
    store.load(_nodes("Genre", 300))
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    keys = [f"g{i:03d}" for i in range(300)]
    assert store.write_embeddings("Genre", keys, vectors) == 300
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for probe in (0, 123):
        cos = unit @ unit[probe]
        order = [i for i in np.argsort(-cos, kind="stable") if i != probe][:5]
        for exact_limit in (5000, 0):
            params = {"id": keys[probe], "label": "Genre", "limit": 5, "exact_limit": exact_limit}
            rows = _similar(store, params)
            assert [r["id"] for r in rows] == [keys[i] for i in order], exact_limit
            assert [r["similarity"] for r in rows] == pytest.approx(cos[order], abs=1e-5)
