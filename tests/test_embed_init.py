"""``--init-from``: a recommender's layer-0 entity tables start from an embedding run's vectors,
matched by label and key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from kg_ingest.synthetic import generate
from recommend.data import export_from_graph_data
from recommend.init_from import copy_embeddings
from recommend.models import ModelConfig, build
from recommend.train import recdata_from_export


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    export = export_from_graph_data(generate(30, 20, seed=4))
    data = recdata_from_export(export, seed=0)
    return export, data


def _vectors(export, dim: int, drop: str | None = None):  # type: ignore[no-untyped-def]
    """Per label: keys (one unknown key added, one of ``drop`` left out), row i = i + label
    number, so every copied row tells where it came from."""
    out = {}
    for n, (label, keys) in enumerate(sorted(export.ids.items())):
        ks = [k for k in keys if k != drop] + ["not-in-graph"]
        mat = np.arange(len(ks), dtype=np.float32)[:, None] + 1000 * n + np.zeros(dim, np.float32)
        out[label] = (pd.Index(ks), mat)
    return out


def _row(vectors, label: str, key: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    keys, mat = vectors[label]
    return mat[keys.get_loc(key)]


def test_mmkgat_tables_take_the_vectors_by_label_and_key(setup) -> None:  # type: ignore[no-untyped-def]
    export, data = setup
    torch.manual_seed(0)
    model = build("mmkgat", data, ModelConfig(dim=4, layers=1))
    before_u3 = model.emb_u.weight[data.user_ids.get_loc("u3")].detach().clone()
    vectors = _vectors(export, 4, drop="u3")
    written = copy_embeddings(model, data, dict(export.ids), vectors)
    u, v = data.user_ids.get_loc("u5"), data.item_ids.get_loc("v2")
    eu, ei = model.emb_u.weight.detach().numpy(), model.emb_i.weight.detach().numpy()
    assert np.array_equal(eu[u], _row(vectors, "User", "u5"))  # users lead G_u
    assert np.array_equal(ei[model.user_offset_i + u], _row(vectors, "User", "u5"))  # and trail G_i
    assert np.array_equal(ei[v], _row(vectors, "Video", "v2"))
    assert np.array_equal(eu[model.item_offset_u + v], _row(vectors, "Video", "v2"))
    genre = export.ids["Genre"][1]
    g = data.item_kg.offsets["Genre"] + export.ids["Genre"].get_loc(genre)
    assert np.array_equal(ei[g], _row(vectors, "Genre", genre))
    occ = export.ids["Occupation"][0]
    o = data.user_kg.offsets["Occupation"] + export.ids["Occupation"].get_loc(occ)
    assert np.array_equal(eu[o], _row(vectors, "Occupation", occ))
    # a user the embedding run did not see keeps its initialisation
    assert torch.equal(model.emb_u.weight[data.user_ids.get_loc("u3")].detach(), before_u3)
    assert written["emb_u:User"] == data.n_users - 1
    assert written["emb_i:Genre"] == len(export.ids["Genre"])


def test_kgat_table_and_errors(setup) -> None:  # type: ignore[no-untyped-def]
    export, data = setup
    model = build("kgat", data, ModelConfig(dim=4, layers=1))
    vectors = _vectors(export, 4)
    written = copy_embeddings(model, data, dict(export.ids), vectors)
    u = data.user_ids.get_loc("u1")
    assert np.array_equal(model.emb.weight[model.user_offset + u].detach().numpy(),
                          _row(vectors, "User", "u1"))  # fmt: skip
    assert set(written) >= {"emb:User", "emb:Video", "emb:Genre"}
    with pytest.raises(ValueError, match="dimension 8 but KGAT.emb has 4.*--dim 8"):
        copy_embeddings(model, data, dict(export.ids), _vectors(export, 8))
    with pytest.raises(ValueError, match="no layer-0 entity embeddings.*kgat and mmkgat"):
        copy_embeddings(build("bprmf", data, ModelConfig(dim=4)), data, dict(export.ids), vectors)
    unrelated = {"Genre": (pd.Index(["x"]), np.zeros((1, 4), np.float32))}
    with pytest.raises(ValueError, match="no node"):
        copy_embeddings(model, data, dict(export.ids), unrelated)
