"""LightGCN (He et al., SIGIR 2020): linear propagation on the user–item graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.base import ModelConfig, Recommender, register
from recommend.models.losses import (
    CFObjectiveOptions,
    PositiveSets,
    cf_objective,
    inner_product_bpr,
    masked_positives,
    scored_vectors,
    softmax_objective,
)
from recommend.models.search import Choice, LogUniform, shared
from recommend.models.sparse import spmm, sym_norm_adj


@dataclass(frozen=True)
class LightGCNOptions(CFObjectiveOptions):
    """LightGCN's options (``ModelConfig.extra``): the CF objective, ``cf_loss`` and ``tau``."""

    search_spaces = {"cf_loss": Choice(["bpr", "softmax"]), "tau": LogUniform(0.05, 1.0)}


@register
class LightGCN(Recommender):
    """``E^{(l+1)} = D^{-1/2} A D^{-1/2} E^{(l)}`` (eq 7 of the paper), final embedding the
    mean of ``E^{(0)} … E^{(L)}`` (eq 8, α_l = 1/(L+1)), score the inner product (eq 5).

    One sparse (CSR) matmul per layer per batch propagates every node at once; nothing is
    learned but the layer-0 embeddings.

    Args:
        data: training data; ``train`` pairs make the graph.
        config: ``dim`` (default: 64), ``layers`` (default: 3), ``l2`` (default: 1e-4, on the
            layer-0 embeddings of the batch), ``extra``: :class:`LightGCNOptions`
            (``cf_loss``, default ``"bpr"``; ``"softmax"``: full-catalogue cross-entropy of
            cosines over ``tau``, default 0.2, and cosine scores; ``"sampled_softmax"``: the
            same estimated from the batch's negatives; see
            :func:`~recommend.models.losses.cf_objective`).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        propagate() -> (``[n_users, dim]``, ``[n_items, dim]``).
    """

    name = "lightgcn"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {"lr": 5e-3}
    path_weights = "embedding"
    options_type = LightGCNOptions
    search_space = shared("lr", "l2", "layers")
    options: LightGCNOptions
    adj: Tensor

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        self.cf_objective, self.tau = cf_objective(self.name, self.options)
        self.emb = nn.Embedding(self.n_users + self.n_items, config.dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        if self.options.mask_positives:
            self.positives = PositiveSets(data.train, self.n_users, self.n_items)
        tr = torch.as_tensor(data.train)
        self.register_buffer(
            "adj", sym_norm_adj(tr[:, 0], tr[:, 1] + self.n_users, self.n_users + self.n_items)
        )

    def propagate(self) -> tuple[Tensor, Tensor]:
        """The final user and item embeddings (the mean of the layers).
        Shapes: ``([n_users, dim], [n_items, dim])``."""
        x = self.emb.weight
        acc = x
        for _ in range(self.config.layers):
            x = spmm(self.adj, self.adj, x)  # symmetric: Aᵀ = A
            acc = acc + x
        out = acc / (self.config.layers + 1)
        return out[: self.n_users], out[self.n_users :]

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        uv, iv = self.propagate()
        u = uv[users]
        if self.cf_objective != "bpr":
            ego = self.emb.weight
            reg = (ego[users].pow(2).sum() + ego[pos + self.n_users].pow(2).sum()) / (
                2 * users.numel()
            )
            loss = softmax_objective(
                self.cf_objective, u, iv, pos, neg, self.tau, user_ids=users,
                positives=masked_positives(self, self.options),
            )  # fmt: skip
            return loss + self.config.l2 * reg
        return inner_product_bpr(
            uv, iv, self.emb.weight, self.n_users, users, pos, neg, self.config.l2
        )

    def scoring_representation(self) -> tuple[Tensor, Tensor]:
        """:meth:`propagate`'s user and item embeddings, unit length under a softmax objective
        (which trains cosine scores). Shapes: ``([n_users, dim], [n_items, dim])``."""
        return scored_vectors(self.cf_objective, *self.propagate())

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """:meth:`scoring_representation` (the score is their inner product)."""
        return self.scoring_representation()
