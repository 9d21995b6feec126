"""Most-popular baseline: every user gets the items ranked by training interaction count."""

from __future__ import annotations

import torch
from torch import Tensor

from recommend.data import RecData
from recommend.models.base import ModelConfig, Recommender, register


@register
class Pop(Recommender):
    """Popularity ranking; nothing to learn.

    :meth:`cf_loss` returns a zero that requires grad but depends on no parameter, so the
    trainer can call ``backward`` on it and skip the optimiser step (:attr:`trainable` is False).

    Args:
        data: training data; only ``train`` is read.
        config: unused (default: :class:`ModelConfig`).

    Shapes:
        score_all(users): ``[B, n_items]`` (the same row for every user).
    """

    name = "pop"
    counts: Tensor

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        counts = torch.bincount(torch.as_tensor(data.train[:, 1]), minlength=data.n_items)
        self.register_buffer("counts", counts.float())

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        return torch.zeros((), device=self.counts.device, requires_grad=True)

    def score_all(self, users: Tensor) -> Tensor:
        return self.counts.unsqueeze(0).expand(users.numel(), -1)

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """Ones and the counts. Shapes: ``([n_users, 1], [n_items, 1])``."""
        return torch.ones(self.n_users, 1), self.counts.detach().float().reshape(-1, 1)
