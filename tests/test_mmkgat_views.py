"""MMKGAT's two collaborative KGs as contrastive views (``cl_weight``), its user-side graph
without the users' attributes (``user_attributes``), SimGCL's noise on its propagation
(``noise``) and XSimGCL's cross-layer contrast (``xcl_weight``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from recommend.models import ModelConfig, build
from recommend.models.encoder import perturb
from recommend.models.simgcl import info_nce
from tests.test_models import N_USERS, planted_data


def _mmkgat(**extra: object) -> Any:
    torch.manual_seed(0)
    return build("mmkgat", planted_data(), ModelConfig(dim=8, layers=2, dropout=0.0, extra=extra))


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    tr = torch.as_tensor(planted_data().train)
    rows = torch.arange(0, len(tr), 3)  # users repeat within the batch
    neg = torch.randint(0, 30, (len(rows),), generator=torch.Generator().manual_seed(1))
    return tr[rows, 0], tr[rows, 1], neg


def test_user_attributes_off_leaves_users_and_their_items() -> None:
    data = planted_data()
    full, bare = _mmkgat(transr_on="kg"), _mmkgat(transr_on="kg", user_attributes=False)
    n_inter = len(data.train_kinds_all)
    # edges with their inverses: the interactions, plus the occupation triples by default
    assert bare.enc_u.edges.shape[1] == 2 * n_inter
    assert full.enc_u.edges.shape[1] == 2 * (n_inter + len(data.user_kg.heads))
    occupations = torch.arange(N_USERS, data.user_kg.n_entities)
    assert not torch.isin(bare.enc_u.edges[0], occupations).any()
    assert not len(bare.kg_graphs()["user"][0])  # nothing left for TransR on that side
    assert len(full.kg_graphs()["user"][0]) == 2 * len(data.user_kg.heads)
    assert torch.equal(bare.enc_i.edges, full.enc_i.edges)  # the item side is untouched
    assert bare.score_all(torch.arange(4)).shape == full.score_all(torch.arange(4)).shape


@pytest.mark.parametrize("cf_loss", ["softmax", "sampled_softmax", "bpr"])
def test_graph_contrast_adds_the_infonce_of_each_nodes_two_graph_states(cf_loss: str) -> None:
    users, pos, neg = _batch()
    plain = _mmkgat(cf_loss=cf_loss)
    cl = _mmkgat(cf_loss=cf_loss, cl_weight=0.5, cl_tau=0.3)
    cl.load_state_dict(plain.state_dict())
    torch.manual_seed(2)
    base = plain.cf_loss(users, pos, neg)
    torch.manual_seed(2)
    with_cl = cl.cf_loss(users, pos, neg)
    uv, iv = plain.propagate()
    h = uv.shape[1] // 2  # each vector is [its G_u state, its G_i state]
    items = torch.unique(pos) if cf_loss == "softmax" else torch.unique(torch.cat([pos, neg]))
    u = uv[torch.unique(users)]
    expected = 0.5 * (
        info_nce(u[:, :h], u[:, h:], 0.3) + info_nce(iv[items, :h], iv[items, h:], 0.3)
    )
    assert float(expected) > 0.1
    torch.testing.assert_close(with_cl - base, expected, rtol=1e-4, atol=1e-5)
    with_cl.backward()
    assert cl.emb_u.weight.grad is not None and cl.emb_u.weight.grad.abs().sum() > 0


def test_graph_contrast_pulls_a_nodes_two_views_together() -> None:
    users, pos, neg = _batch()
    model = _mmkgat(cl_weight=1.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def agreement() -> float:  # mean cosine of each user's two graph states
        with torch.no_grad():
            uv, _ = model.propagate()
        h = uv.shape[1] // 2
        return float(torch.nn.functional.cosine_similarity(uv[:, :h], uv[:, h:]).mean())

    before = agreement()
    for _ in range(30):
        opt.zero_grad()
        model.cf_loss(users, pos, neg).backward()
        opt.step()
    assert agreement() > before + 0.2


@pytest.mark.parametrize(("key", "value"), [("cl_weight", -0.1), ("cl_tau", 0.0)])
def test_contrast_settings_out_of_range_are_refused(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"mmkgat: {key} must be"):
        _mmkgat(**{key: value})


def test_default_has_no_contrast() -> None:
    users, pos, _ = _batch()
    model = _mmkgat()
    uv, iv = model.propagate()
    assert float(model.graph_contrast(uv[users], iv[pos])) == 0.0
    assert np.isclose(model.options.cl_tau, 0.2)


def test_perturb_moves_each_row_by_eps_within_its_hyperoctant() -> None:
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    moved = perturb(x, 0.1)
    torch.testing.assert_close((moved - x).norm(dim=1), torch.full((50,), 0.1))
    assert torch.equal(torch.sign(moved - x), torch.sign(x))  # no coordinate flips
    assert perturb(x, 0.0) is x


def test_noise_perturbs_training_propagation_only() -> None:
    users, pos, neg = _batch()
    plain, noisy = _mmkgat(), _mmkgat(noise=0.05)
    noisy.load_state_dict(plain.state_dict())
    assert noisy.enc_u.noise == noisy.enc_i.noise == 0.05 and plain.enc_u.noise == 0.0
    torch.manual_seed(2)
    base = plain.cf_loss(users, pos, neg)
    torch.manual_seed(2)
    loss = noisy.cf_loss(users, pos, neg)
    assert abs(float(loss - base)) > 1e-4  # the noise reached the loss
    loss.backward()
    assert noisy.emb_i.weight.grad is not None and noisy.emb_i.weight.grad.abs().sum() > 0
    plain.eval(), noisy.eval()
    with torch.no_grad():  # scoring is clean: the same weights score alike
        torch.testing.assert_close(noisy.score_all(users[:5]), plain.score_all(users[:5]))
    with pytest.raises(ValueError, match="noise must be >= 0"):
        _mmkgat(noise=-0.1)


def _layer_vectors(model: Any, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every user's and item's two graph states at ``layer``, concatenated as the fused ones."""
    su = model.enc_u(model.ego_u(), model.normalize)[layer]
    si = model.enc_i(model.ego_i(), model.normalize)[layer]
    users = torch.cat([su[: model.n_users], si[model.user_offset_i :]], dim=1)
    return users, torch.cat([su[model.item_offset_u :], si[: model.n_items]], dim=1)


@pytest.mark.parametrize(
    ("cf_loss", "sampler", "layer"),
    [("softmax", "full", 1), ("sampled_softmax", "full", 0), ("bpr", "full", 2),
     ("bpr", "neighbour", 1)],
)  # fmt: skip
def test_cross_layer_contrast_adds_the_infonce_of_fused_against_one_layer(
    cf_loss: str, sampler: str, layer: int
) -> None:
    users, pos, neg = _batch()
    extra: dict[str, Any] = {"cf_loss": cf_loss, "sampler": sampler, "fanout": -1}
    plain = _mmkgat(**extra)
    xcl = _mmkgat(**extra, xcl_weight=0.4, xcl_layer=layer, xcl_tau=0.3)
    xcl.load_state_dict(plain.state_dict())
    torch.manual_seed(2)
    base = plain.cf_loss(users, pos, neg)
    torch.manual_seed(2)
    with_xcl = xcl.cf_loss(users, pos, neg)
    uv, iv = plain.propagate()
    lu, li = _layer_vectors(plain, layer)
    items = torch.unique(pos) if cf_loss == "softmax" else torch.unique(torch.cat([pos, neg]))
    u = torch.unique(users)
    expected = 0.4 * (info_nce(uv[u], lu[u], 0.3) + info_nce(iv[items], li[items], 0.3))
    assert float(expected) > 0.1
    torch.testing.assert_close(with_xcl - base, expected, rtol=1e-4, atol=1e-5)
    with_xcl.backward()
    assert xcl.emb_i.weight.grad is not None and xcl.emb_i.weight.grad.abs().sum() > 0
    plain.eval(), xcl.eval()
    with torch.no_grad():  # a training term only: the same weights score alike
        torch.testing.assert_close(xcl.score_all(users[:5]), plain.score_all(users[:5]))


def test_cross_layer_contrast_pulls_fused_vectors_towards_their_layer() -> None:
    users, pos, neg = _batch()
    model = _mmkgat(xcl_weight=2.0, xcl_layer=0, noise=0.05)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def agreement() -> float:  # mean cosine of each user's fused vector and its layer 0
        with torch.no_grad():
            model.eval()
            uv, _ = model.propagate()
            lu, _ = _layer_vectors(model, 0)
            model.train()
        return float(torch.nn.functional.cosine_similarity(uv, lu).mean())

    before = agreement()
    for _ in range(30):
        opt.zero_grad()
        model.cf_loss(users, pos, neg).backward()
        opt.step()
    assert agreement() > before + 0.1


@pytest.mark.parametrize(
    ("extra", "key"),
    [({"xcl_weight": -1.0}, "xcl_weight"), ({"xcl_weight": 0.1, "fusion": "concat"}, "xcl_weight"),
     ({"xcl_tau": 0.0}, "xcl_tau"), ({"xcl_layer": 3}, "xcl_layer"),
     ({"xcl_layer": -1}, "xcl_layer")],
)  # fmt: skip
def test_cross_layer_settings_out_of_range_are_refused(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=f"mmkgat: {key} must be"):
        _mmkgat(**extra)
