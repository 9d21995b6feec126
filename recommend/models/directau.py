"""DirectAU (Wang et al., KDD 2022, "Towards Representation Alignment and Uniformity in
Collaborative Filtering"): train the embeddings directly for alignment of interacting pairs and
uniformity of users and of items on the unit hypersphere, without negatives.

Reference code: https://github.com/THUwangcy/DirectAU (``DirectAU.py``): the losses, the MF and
LightGCN encoders and the inner-product scores of the unnormalised embeddings follow it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.base import ModelConfig, ModelOptions, Recommender, option, register
from recommend.models.search import Choice, LogUniform, shared
from recommend.models.simgcl import noisy_layers
from recommend.models.sparse import sym_norm_adj


def alignment(x: Tensor, y: Tensor) -> Tensor:
    """``E ‖x̃ - ỹ‖²`` over the rows, ``x̃``, ``ỹ`` the L2-normalised rows (eq 5 of the paper).

    Shapes:
        x, y: ``[B, d]``; returns a scalar.
    """
    return (F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).pow(2).sum(-1).mean()


def uniformity(x: Tensor, t: float = 2.0) -> Tensor:
    """``log E exp(-t ‖x̃_i - x̃_j‖²)`` over the pairs ``i < j`` of rows (eq 6), 0 for fewer
    than two rows.

    For unit vectors ``‖a - b‖² = 2 - 2 aᵀb``, so one Gram matrix gives every pair (and no
    square root whose gradient is undefined at a repeated row, as ``torch.pdist``'s is).

    Shapes:
        x: ``[B, d]``; returns a scalar.
    """
    n = x.shape[0]
    if n < 2:
        return x.sum() * 0.0
    z = F.normalize(x, dim=-1)
    sq = (2.0 - 2.0 * (z @ z.T)).clamp(min=0.0)
    # the matrix is symmetric: the mean over i != j is the mean over i < j
    logits = (-t * sq).masked_fill(torch.eye(n, dtype=torch.bool, device=x.device), -math.inf)
    return torch.logsumexp(logits.flatten(), 0) - math.log(n * (n - 1))


@dataclass(frozen=True)
class DirectAUOptions(ModelOptions):
    """DirectAU's options (``ModelConfig.extra``)."""

    encoder: Literal["mf", "lightgcn"] = option(
        "mf",
        "the encoder: embedding tables (MF, the paper's default) or LightGCN propagation "
        "(the mean of layers 0..layers)",
        search=Choice(["mf", "lightgcn"]),
    )
    gamma: float = option(
        1.0,
        "weight γ of the uniformity loss beside the alignment (>= 0; the paper tunes 0.2-10)",
        search=LogUniform(0.1, 10.0),
    )


@register
class DirectAU(Recommender):
    """Loss ``l_align(u, i) + γ · (l_uniform(users) + l_uniform(items)) / 2`` over the batch's
    (user, positive item) pairs (eq 7), plus L2 on the batch's layer-0 rows; the sampled
    negatives are not used. Scores are inner products of the encoder's (unnormalised) outputs.

    Args:
        data: training data; ``train`` pairs make the graph of the LightGCN encoder.
        config: ``dim`` (default: 64), ``layers`` (the LightGCN encoder's; default: 3),
            ``l2`` (default: 1e-4), ``extra``: :class:`DirectAUOptions` (``encoder``,
            ``gamma``).

    Shapes:
        users, pos: ``[B]``; neg: ignored; score_all(users): ``[B, n_items]``;
        propagate() -> (``[n_users, dim]``, ``[n_items, dim]``).
    """

    name = "directau"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {"lr": 5e-3}
    path_weights = "embedding"
    options_type = DirectAUOptions
    search_space = shared("lr", "l2", "layers")
    options: DirectAUOptions
    adj: Tensor | None

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        o = self.options
        if not o.gamma >= 0:
            raise ValueError(f"{self.name}: gamma must be >= 0, not {o.gamma}")
        if o.encoder == "lightgcn" and config.layers < 0:
            raise ValueError(f"{self.name}: layers must be >= 0, not {config.layers}")
        self.emb = nn.Embedding(self.n_users + self.n_items, config.dim)
        # Xavier-normal per table, as the reference code initialises them
        nn.init.xavier_normal_(self.emb.weight[: self.n_users])
        nn.init.xavier_normal_(self.emb.weight[self.n_users :])
        adj = None
        if o.encoder == "lightgcn":
            tr = torch.as_tensor(data.train)
            adj = sym_norm_adj(tr[:, 0], tr[:, 1] + self.n_users, self.n_users + self.n_items)
        self.register_buffer("adj", adj)

    def propagate(self) -> tuple[Tensor, Tensor]:
        """The encoder's user and item vectors: the tables (MF) or the mean of LightGCN's
        layers 0..L. Shapes: ``([n_users, dim], [n_items, dim])``."""
        x = self.emb.weight
        if self.adj is not None:
            layers = noisy_layers(self.adj, x, self.config.layers, 0.0)
            x = torch.stack([x, *layers]).mean(0)
        return x[: self.n_users], x[self.n_users :]

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        uv, iv = self.propagate()
        u, i = uv[users], iv[pos]
        loss = alignment(u, i) + self.options.gamma * (uniformity(u) + uniformity(i)) / 2
        ego = self.emb.weight
        reg = (ego[users].pow(2).sum() + ego[pos + self.n_users].pow(2).sum()) / (2 * users.numel())
        return loss + self.config.l2 * reg

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """:meth:`propagate`'s vectors (the score is their inner product)."""
        return self.propagate()
