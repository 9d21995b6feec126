"""Every registered model describes itself to the explainer through the hooks of
:class:`~recommend.models.base.Recommender` (``scoring_vectors``, ``attention_encoders``,
``path_weights``): the vectors reproduce its scores, and its attentive encoders' entity ids land
on the edges of the search graph. A new model is covered by registering it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from kgrec.schema import USER, VIDEO
from recommend.data import RecData
from recommend.explain import (
    PathGraph,
    build_path_graph,
    model_encoders,
    model_vectors,
    model_weights,
)
from recommend.models import REGISTRY, ModelConfig, build
from tests.test_models import N_GROUPS, planted_data


@pytest.fixture(scope="module")
def data() -> RecData:
    """The models' planted data, its KGs' anchors labelled as :func:`build_recdata` does."""
    d = planted_data()
    return replace(
        d,
        item_kg=replace(d.item_kg, offsets={VIDEO: 0, **d.item_kg.offsets}),
        user_kg=replace(d.user_kg, offsets={USER: 0, **d.user_kg.offsets}),
    )


@pytest.fixture(scope="module")
def graph(data: RecData) -> PathGraph:
    ids = {label: pd.Index([f"{label}{j}" for j in range(N_GROUPS)])
           for label in ("Genre", "Occupation")}  # fmt: skip
    return build_path_graph(data, ids, sim_k=0)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_scoring_vectors_reproduce_the_scores(data: RecData, name: str) -> None:
    torch.manual_seed(0)
    model = build(name, data, ModelConfig(dim=16, layers=2, dropout=0.0))
    u, v = model_vectors(model)
    assert u.shape[0] == data.n_users and v.shape[0] == data.n_items
    assert u.shape[1] == v.shape[1] and u.dtype == v.dtype == np.float32
    with torch.no_grad():
        model.prepare_scoring()
        full = model.score_all(torch.arange(data.n_users)).numpy()
    np.testing.assert_allclose(u @ v.T, full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_path_weights_follow_the_model_description(
    data: RecData, graph: PathGraph, name: str
) -> None:
    torch.manual_seed(0)
    model = build(name, data, ModelConfig(dim=16, layers=2, dropout=0.0))
    encoders = model_encoders(model, data, graph)
    assert len(encoders) == len(model.attention_encoders())
    keys = set((graph.head * graph.n_nodes + graph.tail).tolist())
    keys |= set((graph.tail * graph.n_nodes + graph.head).tolist())
    for enc, emap in encoders:
        assert len(emap) == enc.n_entities  # the side names the encoder's whole entity space
        h, t = emap[enc.edges[0].numpy()], emap[enc.edges[2].numpy()]
        inside = (h >= 0) & (t >= 0)
        assert inside.any()
        assert set((h[inside] * graph.n_nodes + t[inside]).tolist()) <= keys
    w, how = model_weights(graph, model, data)
    vectors_dim = model_vectors(model)[0].shape[1]
    if encoders:
        expected = "attention"
    elif model.path_weights == "embedding" and vectors_dim >= 2:
        expected = "embedding"
    else:
        expected = "uniform"
    assert how == expected
    assert w.shape == (2 * graph.n_edges,) and np.all(w >= 0)
    if how != "attention":  # a distribution over each node's edges
        frm, _ = graph.half_ends(np.arange(2 * graph.n_edges))
        total = np.bincount(frm, weights=w, minlength=graph.n_nodes)
        np.testing.assert_allclose(total[graph.degree() > 0], 1.0)
