"""LightGCN (He et al., SIGIR 2020): linear propagation on the user–item graph."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.base import ModelConfig, Recommender, register
from recommend.models.layers import bpr_loss, cf_objective, softmax_objective, spmm, sym_norm_adj


@register
class LightGCN(Recommender):
    """``E^{(l+1)} = D^{-1/2} A D^{-1/2} E^{(l)}`` (eq 7 of the paper), final embedding the
    mean of ``E^{(0)} … E^{(L)}`` (eq 8, α_l = 1/(L+1)), score the inner product (eq 5).

    One sparse (CSR) matmul per layer per batch propagates every node at once; nothing is
    learned but the layer-0 embeddings.

    Args:
        data: training data; ``train`` pairs make the graph.
        config: ``dim`` (default: 64), ``layers`` (default: 3), ``l2`` (default: 1e-4, on the
            layer-0 embeddings of the batch), ``extra["cf_loss"]`` (default: ``"bpr"``;
            ``"softmax"``: full-catalogue cross-entropy of cosines over ``extra["tau"]``,
            default 0.2, and cosine scores; ``"sampled_softmax"``: the same estimated from the
            batch's negatives; see :func:`~recommend.models.layers.cf_objective`).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``.
    """

    name = "lightgcn"
    # ML-100K, benchmarks/recommend.py: lr 1e-3 stalls within the default patience
    defaults: ClassVar[dict[str, Any]] = {"lr": 5e-3}
    path_weights = "embedding"
    adj: Tensor

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        self.cf_objective, self.tau = cf_objective(self.name, config.extra)
        self.emb = nn.Embedding(self.n_users + self.n_items, config.dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        tr = torch.as_tensor(data.train)
        self.register_buffer(
            "adj", sym_norm_adj(tr[:, 0], tr[:, 1] + self.n_users, self.n_users + self.n_items)
        )
        self._cache: tuple[Tensor, Tensor] | None = None

    def propagate(self) -> Tensor:
        """All final embeddings. Shapes: ``[n_users + n_items, dim]``."""
        x = self.emb.weight
        acc = x
        for _ in range(self.config.layers):
            x = spmm(self.adj, self.adj, x)  # symmetric: Aᵀ = A
            acc = acc + x
        return acc / (self.config.layers + 1)

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self._cache = None
        out = self.propagate()
        u = out[users]
        if self.cf_objective != "bpr":
            ego = self.emb.weight
            reg = (ego[users].pow(2).sum() + ego[pos + self.n_users].pow(2).sum()) / (
                2 * users.numel()
            )
            loss = softmax_objective(self.cf_objective, u, out[self.n_users :], pos, neg, self.tau)
            return loss + self.config.l2 * reg
        p = out[pos + self.n_users]
        n = out[neg + self.n_users]
        s_pos = (u * p).sum(-1)
        s_neg = (u.unsqueeze(1) * n).sum(-1) if n.dim() == 3 else (u * n).sum(-1)
        ego = self.emb.weight
        reg = (
            ego[users].pow(2).sum()
            + ego[pos + self.n_users].pow(2).sum()
            + ego[neg + self.n_users].pow(2).sum()
        ) / (2 * users.numel())
        return bpr_loss(s_pos, s_neg) + self.config.l2 * reg

    @torch.no_grad()
    def prepare_scoring(self) -> None:
        self._cache = self.scoring_vectors()

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """:meth:`propagate`'s user and item embeddings, unit length under a softmax objective
        (which trains cosine scores). Shapes: ``([n_users, dim], [n_items, dim])``."""
        out = self.propagate()
        out = F.normalize(out, dim=-1) if self.cf_objective != "bpr" else out
        return out[: self.n_users], out[self.n_users :]

    def score_all(self, users: Tensor) -> Tensor:
        uv, iv = self._cache if self._cache is not None else self.scoring_vectors()
        return uv[users] @ iv.T
