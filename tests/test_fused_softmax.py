"""The catalogue softmax of :func:`recommend.models.losses.softmax_cf_loss`, computed in row
chunks with its gradient in the same pass and one log-partition per distinct user: the same
loss and gradients as ``cross_entropy`` on the full logits."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from recommend.metrics.ranking import csr
from recommend.models import losses


@pytest.mark.parametrize("chunk", [1 << 21, 7])  # one chunk; many chunks of a few rows
@pytest.mark.parametrize("dedupe", [False, True])
def test_matches_cross_entropy_in_value_and_gradient(
    monkeypatch: pytest.MonkeyPatch, chunk: int, dedupe: bool
) -> None:
    monkeypatch.setattr(losses, "_CHUNK_ELEMENTS", chunk)
    gen = torch.Generator().manual_seed(0)
    uv = torch.randn(30, 16, generator=gen, requires_grad=True)
    iv = torch.randn(50, 16, generator=gen, requires_grad=True)
    ids = torch.randint(30, (64,), generator=gen)  # repeated users, as in a real batch
    pos = torch.randint(50, (64,), generator=gen)

    logits = (F.normalize(uv[ids], dim=-1) / 0.3) @ F.normalize(iv, dim=-1).T
    ref = F.cross_entropy(logits, pos)
    g_ref = torch.autograd.grad(ref, [uv, iv])
    got = losses.softmax_cf_loss(uv[ids], iv, pos, 0.3, ids if dedupe else None)
    g_got = torch.autograd.grad(got, [uv, iv])
    torch.testing.assert_close(got, ref)
    for a, b in zip(g_got, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_without_gradients_only_the_value() -> None:
    users, items, pos = torch.randn(8, 4), torch.randn(12, 4), torch.arange(8)
    with torch.no_grad():
        loss = losses.softmax_cf_loss(users, items, pos, 0.5)
    ref = F.cross_entropy(F.normalize(users, dim=-1) / 0.5 @ F.normalize(items, dim=-1).T, pos)
    torch.testing.assert_close(loss, ref)


def test_mmkgat_estimates_the_softmax_above_its_catalogue_limit() -> None:
    from kg_ingest.synthetic import generate
    from recommend.data import export_from_graph_data
    from recommend.models.base import ModelConfig, build
    from recommend.train import recdata_from_export

    data = recdata_from_export(export_from_graph_data(generate(60, 40, seed=0)))
    kinds = {}
    for limit in (data.n_items, data.n_items - 1):
        cfg = ModelConfig(dim=8, layers=1, extra={"cf_loss": "softmax",
                                                  "full_softmax_items": limit})  # fmt: skip
        model = build("mmkgat", data, cfg)
        kinds[limit] = model.cf_objective
        users, pos = torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2])
        assert torch.isfinite(model.cf_loss(users, pos, torch.tensor([3, 4, 5])))
    assert kinds == {data.n_items: "softmax", data.n_items - 1: "sampled_softmax"}


@pytest.mark.parametrize("kind,neg_shape", [("sampled_softmax", (16,)), ("bpr", (16, 3))])
def test_mmkgat_fuses_only_the_batch_rows_with_the_same_loss_and_gradients(
    kind: str, neg_shape: tuple[int, ...]
) -> None:
    """cf_loss fuses the layer states of the batch's users and items only
    (MMKGAT.batch_vectors): the loss and gradients of fusing every entity (propagate)."""
    from kg_ingest.synthetic import generate
    from recommend.data import export_from_graph_data
    from recommend.models.base import ModelConfig, build
    from recommend.models.losses import bpr_loss, sampled_softmax_cf_loss
    from recommend.train import recdata_from_export

    data = recdata_from_export(export_from_graph_data(generate(60, 40, seed=0)))
    gen = torch.Generator().manual_seed(1)
    users = torch.randint(data.n_users, (16,), generator=gen)
    pos = torch.randint(data.n_items, (16,), generator=gen)
    neg = torch.randint(data.n_items, neg_shape, generator=gen)
    torch.manual_seed(0)
    model = build("mmkgat", data, ModelConfig(dim=8, dropout=0.0, extra={"cf_loss": kind}))
    new = model.cf_loss(users, pos, neg)
    uv, iv = model.propagate()
    u = uv[users]
    if kind == "bpr":
        s_neg = (u.unsqueeze(1) * iv[neg]).sum(-1)
        reg = model._ego_reg(users, pos, neg)
        old = bpr_loss((u * iv[pos]).sum(-1), s_neg) + model.config.l2 * reg / 32
    else:
        reg = model._ego_reg(users, pos)
        old = sampled_softmax_cf_loss(u, iv, pos, neg, model.tau) + model.config.l2 * reg / 32
    params = [p for p in model.parameters() if p.requires_grad]
    g_new = torch.autograd.grad(new, params, allow_unused=True)
    g_old = torch.autograd.grad(old, params, allow_unused=True)
    torch.testing.assert_close(new, old)
    for a, b in zip(g_new, g_old, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("chunk", [1 << 21, 7])
def test_masked_positives_match_cross_entropy_without_the_other_positives(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """``mask_positives``: each row's denominator is its positive and the user's non-items,
    in value and gradient; a user who holds every item is left with the positive alone."""
    monkeypatch.setattr(losses, "_CHUNK_ELEMENTS", chunk)
    gen = torch.Generator().manual_seed(0)
    n_users, n_items = 9, 13
    held = torch.rand(n_users, n_items, generator=gen) < 0.3
    held[8] = True  # every item
    held[:, 0] = True  # nobody left without a positive
    train = held.nonzero().numpy()
    rows = torch.randint(len(train), (40,), generator=gen)
    ids, pos = torch.as_tensor(train[rows, 0]), torch.as_tensor(train[rows, 1])
    ids[0], pos[0] = 8, 5
    uv = torch.randn(n_users, 6, generator=gen, requires_grad=True)
    iv = torch.randn(n_items, 6, generator=gen, requires_grad=True)

    logits = (F.normalize(uv[ids], dim=-1) / 0.3) @ F.normalize(iv, dim=-1).T
    others = held[ids].clone()
    others[torch.arange(len(ids)), pos] = False
    ref = F.cross_entropy(logits.masked_fill(others, float("-inf")), pos)
    g_ref = torch.autograd.grad(ref, [uv, iv])
    sets = csr(train[::-1].copy(), n_users)  # any order of the pairs
    got = losses.softmax_cf_loss(uv[ids], iv, pos, 0.3, ids, sets)
    g_got = torch.autograd.grad(got, [uv, iv])
    torch.testing.assert_close(got, ref)
    for a, b in zip(g_got, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="user_ids"):
        losses.softmax_cf_loss(uv[ids], iv, pos, 0.3, None, sets)


@pytest.mark.parametrize(
    "model_name,kind",
    [("lightgcn", "softmax"), ("mmkgat", "softmax"), ("lightgcn", "sampled_softmax"),
     ("mmkgat", "sampled_softmax")],
)  # fmt: skip
def test_models_mask_their_training_positives(model_name: str, kind: str) -> None:
    """With ``mask_positives`` the model's softmax leaves out the users' other training items:
    a different loss from the plain softmax on the same weights, and no extra checkpoint keys."""
    from kg_ingest.synthetic import generate
    from recommend.data import export_from_graph_data
    from recommend.models.base import ModelConfig, build
    from recommend.train import recdata_from_export

    data = recdata_from_export(export_from_graph_data(generate(60, 40, seed=0)))
    users = torch.as_tensor(data.train[:32, 0])
    pos = torch.as_tensor(data.train[:32, 1])
    value = {}
    for mask in (False, True):
        torch.manual_seed(0)
        extra = {"cf_loss": kind, "mask_positives": mask}
        model = build(model_name, data, ModelConfig(dim=8, dropout=0.0, extra=extra))
        value[mask] = float(model.cf_loss(users, pos, pos).detach())
        keys = set(model.state_dict())
        assert not any(k.startswith("positives.") for k in keys)
    assert value[True] < value[False]  # fewer terms in every denominator


def test_sampled_softmax_leaves_out_the_negatives_the_user_holds() -> None:
    """``mask_positives`` under the sampled softmax: a sampled negative that is one of the
    row's user's training items drops out of that row, as the row's own positive does."""
    train = torch.tensor([[0, 1], [0, 2], [1, 0], [2, 3]]).numpy()
    sets = losses.PositiveSets(train, n_users=3, n_items=5)
    users, negs = torch.tensor([0, 1, 2]), torch.tensor([2, 0, 4, 3])
    held = sets.holds(users, negs)
    assert held.tolist() == [
        [True, False, False, False],
        [False, True, False, False],
        [False, False, False, True],
    ]
    gen = torch.Generator().manual_seed(0)
    uv, iv = torch.randn(3, 4, generator=gen), torch.randn(5, 4, generator=gen)
    got = losses.softmax_objective(
        "sampled_softmax", uv, iv, torch.tensor([1, 0, 3]), negs, 0.5, users, sets
    )
    u = F.normalize(uv, dim=-1) / 0.5
    logits = u @ F.normalize(iv, dim=-1)[negs].T + math.log((5 - 1) / 4)
    s_pos = (u * F.normalize(iv, dim=-1)[torch.tensor([1, 0, 3])]).sum(-1)
    ref = torch.stack([
        torch.logsumexp(torch.cat([s_pos[r : r + 1], logits[r][~held[r]]]), 0) - s_pos[r]
        for r in range(3)
    ]).mean()  # fmt: skip
    torch.testing.assert_close(got, ref)


def test_mask_positives_is_refused_under_bpr() -> None:
    from kg_ingest.synthetic import generate
    from recommend.data import export_from_graph_data
    from recommend.models.base import ModelConfig, build
    from recommend.train import recdata_from_export

    data = recdata_from_export(export_from_graph_data(generate(30, 20, seed=0)))
    with pytest.raises(ValueError, match="mask_positives applies to a softmax"):
        build("lightgcn", data, ModelConfig(dim=8, extra={"mask_positives": True}))
