"""The graph encoders' cheaper ways to the same numbers: the last layer for a batch's rows
only (``CKGEncoder.forward_rows`` / ``states_of``, used by kgat's and mmkgat's training steps)
and the message dropout's mask (``MessageDropout``)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from recommend.data import RecData
from recommend.models.base import ModelConfig, build
from recommend.models.encoder import CKGEncoder, MessageDropout
from recommend.models.neighbours import row_block
from tests import test_models as tm
from tests.test_neighbour_sampler import _encoder


@pytest.fixture(scope="module")
def data() -> RecData:
    return tm.planted_data()


def test_row_block_is_the_rows_of_the_matrix() -> None:
    enc, ego = _encoder()
    rows = torch.tensor([0, 7, 3, 39])
    a, a_t = row_block(enc.adj, rows)
    assert a.shape == (4, 40) and a_t.shape == (40, 4)
    full = enc.adj.to_dense()
    torch.testing.assert_close(a.to_dense(), full[rows])
    torch.testing.assert_close(a_t.to_dense(), full[rows].T)


@pytest.mark.parametrize("normalize", [False, True])
def test_forward_rows_equals_the_full_forward_values_and_gradients(normalize: bool) -> None:
    enc, ego = _encoder(layers=3)
    rows = torch.tensor([0, 2, 5, 17, 38])  # node 0 is a hub: its row holds 30+ edges
    full_x = ego.clone().requires_grad_(True)
    full = enc(full_x, normalize)[:, rows]
    full.pow(2).sum().backward()
    full_w = [p.grad.clone() for p in enc.aggs.parameters() if p.grad is not None]
    enc.zero_grad()
    part_x = ego.clone().requires_grad_(True)
    part = enc.forward_rows(part_x, rows, normalize)
    assert part.shape == (4, 5, 8)
    torch.testing.assert_close(part, full, rtol=1e-5, atol=1e-6)
    part.pow(2).sum().backward()
    assert part_x.grad is not None and full_x.grad is not None
    torch.testing.assert_close(part_x.grad, full_x.grad, rtol=1e-5, atol=1e-6)
    part_w = [p.grad for p in enc.aggs.parameters() if p.grad is not None]
    assert len(part_w) == len(full_w) > 0
    for a, b in zip(part_w, full_w, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # other rows are other numbers (the comparison can fail)
    assert not torch.allclose(
        enc.forward_rows(ego, rows + 1, normalize), enc(ego, normalize)[:, rows]
    )


def test_states_of_chooses_the_pruned_forward_only_for_few_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enc, ego = _encoder()
    calls: list[int] = []
    real = CKGEncoder.forward_rows

    def counted(self: CKGEncoder, *args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CKGEncoder, "forward_rows", counted)
    few, many = torch.arange(5), torch.arange(30)  # of 40 entities, prune_below 0.2
    torch.testing.assert_close(enc.states_of(ego, few), enc(ego)[:, few])
    assert calls == [1]
    torch.testing.assert_close(enc.states_of(ego, many), enc(ego)[:, many])
    assert calls == [1]


@pytest.mark.parametrize(
    ("model_name", "cf_loss"), [("kgat", "bpr"), ("mmkgat", "bpr"), ("mmkgat", "softmax")]
)
def test_a_training_step_is_the_same_pruned_or_not(
    data: RecData, model_name: str, cf_loss: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"cf_loss": cf_loss} if model_name == "mmkgat" else {}
    torch.manual_seed(0)
    model: Any = build(model_name, data, ModelConfig(dim=16, layers=2, dropout=0.0, extra=extra))
    model.train()
    users, pos, neg = (
        torch.tensor([0, 3, 3, 8]),
        torch.tensor([1, 2, 7, 9]),
        torch.tensor([4, 5, 6, 0]),
    )

    def step(prune_below: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
        monkeypatch.setattr(CKGEncoder, "prune_below", prune_below)
        model.zero_grad()
        loss = model.cf_loss(users, pos, neg)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    full_loss, full_grads = step(0.0)  # never pruned
    part_loss, part_grads = step(1.01)  # always pruned
    torch.testing.assert_close(part_loss, full_loss, rtol=1e-5, atol=1e-6)
    assert len(part_grads) == len(full_grads) > 0
    for a, b in zip(part_grads, full_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_message_dropout_keeps_the_expected_share_and_scales_it() -> None:
    drop = MessageDropout(0.25)
    x = torch.ones(400, 250, requires_grad=True)
    torch.manual_seed(0)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.01  # 100k draws: sd 0.0014
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.75))
    y.sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, kept.float() / 0.75)
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # the same generator, the same mask
    drop.eval()
    assert drop(x) is x
    assert MessageDropout(0.0)(x) is x
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), not 1.0"):
        MessageDropout(1.0)
