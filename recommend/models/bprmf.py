"""Matrix factorisation with the BPR loss (Rendle et al., UAI 2009)."""

from __future__ import annotations

from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.base import ModelConfig, Recommender, register
from recommend.models.losses import bpr_loss
from recommend.models.search import shared


@register
class BPRMF(Recommender):
    """``ŷ(u, i) = e_uᵀ e_i``, trained with ``-ln σ(ŷ(u, i) - ŷ(u, j)) + λ‖Θ_batch‖²``.

    Args:
        data: training data (sizes only).
        config: ``dim`` (default: 64) and ``l2`` (default: 1e-4) are read.

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``.
    """

    name = "bprmf"
    path_weights = "embedding"
    search_space = shared("lr", "l2")

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        self.user = nn.Embedding(self.n_users, config.dim)
        self.item = nn.Embedding(self.n_items, config.dim)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        u, p, n = self.user(users), self.item(pos), self.item(neg)
        s_pos = (u * p).sum(-1)
        s_neg = (u.unsqueeze(1) * n).sum(-1) if n.dim() == 3 else (u * n).sum(-1)
        # L2 on the rows the batch touches, per user (as in LightGCN's reference code)
        reg = (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / (2 * users.numel())
        return bpr_loss(s_pos, s_neg) + self.config.l2 * reg

    def score_all(self, users: Tensor) -> Tensor:
        return self.user(users) @ self.item.weight.T

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """The embedding tables. Shapes: ``([n_users, dim], [n_items, dim])``."""
        return self.user.weight, self.item.weight
