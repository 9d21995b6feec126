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
    PathRanking,
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


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_attention_models_give_a_local_view_of_masking(data: RecData, name: str) -> None:
    """Every model with attention encoders traces them, and its uncut local states give back
    its own scoring vectors exactly."""
    torch.manual_seed(0)
    model = build(name, data, ModelConfig(dim=16, layers=2, dropout=0.0))
    model.eval()
    encoders = model.attention_encoders()
    traces = model.encoder_traces()
    assert len(traces) == len(encoders)
    if not encoders:
        return
    u, v = model_vectors(model)
    for side, anchors, vecs in (("user", range(0, data.n_users, 5), u),
                                ("item", range(0, data.n_items, 5), v)):  # fmt: skip
        for a in anchors:
            states = []
            for (enc, enc_side), trace in zip(encoders, traces, strict=True):
                # the anchor's entity id in this encoder (side_entities' layout)
                own = enc_side == side
                kg = data.user_kg if enc_side == "user" else data.item_kg
                entity = a if own else kg.n_entities + a
                states.append(enc.cut(trace, torch.tensor([entity]), torch.tensor([-1])))
            with torch.no_grad():
                row = model.vectors_from_states(side, states).numpy()[0]  # type: ignore[arg-type]
            np.testing.assert_allclose(row, vecs[a], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["kgat", "mmkgat"])
def test_estimated_masking_drops_follow_the_exact_ones(
    data: RecData, graph: PathGraph, name: str
) -> None:
    """The local estimate orders candidate paths as exact masking (one propagation per path)
    does: rank correlation over every pair's candidates, and the path it puts first costs the
    score more than the median candidate."""
    from scipy.stats import spearmanr

    from recommend.explain import LocalMasking, Masker, PathSearch, hops_of

    torch.manual_seed(0)
    model = build(name, data, ModelConfig(dim=16, layers=2, dropout=0.0))
    model.eval()
    graph.set_weights(model_weights(graph, model, data)[0])
    local, exact = LocalMasking(model, data, graph), Masker(model, data, graph)
    u, v = model_vectors(model)
    rhos, firsts = [], []
    for user in range(data.n_users):
        scores = u[user] @ v.T
        item = int(np.argsort(-scores)[0])
        un, inode = graph.offsets[USER] + user, graph.offsets[VIDEO] + item
        paths = [nodes for nodes, _, _ in PathSearch(graph, un, 3).top(inode, 12)]
        if len(paths) < 4:
            continue
        est = local.drops(un, inode, paths)
        true = np.array([scores[item] - exact.score(user, item, hops_of(p)) for p in paths])
        rhos.append(spearmanr(est, true).statistic)
        firsts.append(true[int(np.argmax(est))] >= np.median(true))
    assert len(rhos) >= 10
    assert np.nanmedian(rhos) > 0.8, rhos
    assert np.mean(firsts) >= 0.8, firsts


def test_user_side_entities_and_demographic_only_paths(data: RecData, graph: PathGraph) -> None:
    from recommend.explain import Explainer
    from recommend.explain.explainer import user_side_entities

    side = user_side_entities(graph)
    occ = graph.offsets["Occupation"]
    genre = graph.offsets["Genre"]
    assert side[occ : occ + N_GROUPS].all() and not side[genre : genre + N_GROUPS].any()
    assert not side[: graph.n_users + graph.n_items].any()
    graph.set_weights(graph.uniform_weights())
    ex = Explainer(graph)
    u, u2, v, v2 = 0, 1, graph.offsets[VIDEO], graph.offsets[VIDEO] + 1
    assert ex.demographic_only(np.array([u, occ, u2, v]))
    assert not ex.demographic_only(np.array([u, v2, genre, v]))
    assert not ex.demographic_only(np.array([u, v2, u2, v]))  # another user's history


def test_list_diversity_shows_first_a_new_type_within_the_band(graph: PathGraph) -> None:
    from recommend.explain import Explainer

    ex = Explainer(graph)
    user, video, genre = 0, graph.n_users, graph.n_users + graph.n_items
    found = [  # three paths of three types: User-Video, User-Genre-Video, User-Video-Video
        (np.array([user, video]), np.array([0]), 1.0),
        (np.array([user, genre, video]), np.array([0, 0]), 1.0),
        (np.array([user, video, video]), np.array([0, 0]), 1.0),
    ]
    types = [ex.path_type(n, h) for n, h, _ in found]
    assert len(set(types)) == 3
    key, order = np.array([1.0, 0.8, 0.3]), np.arange(3)
    # the best path's type was shown first for an earlier item: the next best of a new type
    assert ex._diversified(found, key, order, {types[0]}, 0.5).tolist() == [1, 0, 2]
    assert ex._diversified(found, key, order, {types[0]}, 0.9).tolist() == [0, 1, 2]
    assert ex._diversified(found, key, order, set(types[:2]), 0.2).tolist() == [2, 0, 1]
    assert ex._diversified(found, key, order, set(), 0.5).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="diversity"):
        PathRanking("custom", diversity=1.5)


def test_recognisable_shared_entities_win_within_the_band(graph: PathGraph) -> None:
    from recommend.explain import Explainer

    ex = Explainer(graph)
    user, video, genre = 0, graph.n_users, graph.n_users + graph.n_items
    found = [
        (np.array([user, video, video]), np.array([0, 0]), 1.0),
        (np.array([user, video, genre, video]), np.array([0, 0, 0]), 1.0),
    ]
    ex._sep = np.zeros(graph.n_nodes)
    ex._sep[genre] = 1.0  # the second path's shared entity is popular, the first's is not
    key, order = np.array([1.0, 0.8]), np.arange(2)
    assert ex._diversified(found, key, order, set(), 0.5, recognisable=1.0).tolist() == [1, 0]
    assert ex._diversified(found, key, order, set(), 0.5, recognisable=0.1).tolist() == [0, 1]
    assert ex._diversified(found, key, order, set(), 0.9, recognisable=1.0).tolist() == [0, 1]
