"""Negative sampling by corrupting the head or the tail of a true triple.

``uniform``: head or tail with probability 1/2 (Bordes et al. 2013). ``bernoulli``: the head
with probability ``tph / (tph + hpt)`` of the triple's relation, where ``tph`` is the mean
number of tails per head and ``hpt`` the mean number of heads per tail (Wang et al. 2014, used
by Lin et al. 2015): one-to-many relations corrupt their head more often, which makes fewer
false negatives. The replacement entity is uniform over all entities other than the original.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

SAMPLERS = ("uniform", "bernoulli")


def head_probabilities(triples: np.ndarray, n_relations: int) -> np.ndarray:
    """Bernoulli head-corruption probability per relation, ``[n_relations]`` float32."""
    out = np.full(n_relations, 0.5, np.float32)
    if not len(triples):
        return out
    r = triples[:, 1]
    n = np.bincount(r, minlength=n_relations).astype(np.float64)
    heads = np.unique(triples[:, [1, 0]], axis=0)[:, 0]  # distinct (r, h)
    tails = np.unique(triples[:, [1, 2]], axis=0)[:, 0]  # distinct (r, t)
    tph = n / np.maximum(np.bincount(heads, minlength=n_relations), 1)
    hpt = n / np.maximum(np.bincount(tails, minlength=n_relations), 1)
    seen = n > 0
    out[seen] = (tph[seen] / (tph[seen] + hpt[seen])).astype(np.float32)
    return out


class NegativeSampler:
    """Corrupts a batch of true triples.

    Args:
        train: int64 ``[N, 3]`` training triples (for the Bernoulli statistics).
        n_entities, n_relations: sizes.
        kind: ``"uniform"`` or ``"bernoulli"`` (default: ``"bernoulli"``).
        n_neg: negatives per true triple (default: 1).

    Shapes:
        sample(pos [B, 3]) -> (heads [B, n_neg], tails [B, n_neg]).
    """

    def __init__(
        self,
        train: np.ndarray,
        n_entities: int,
        n_relations: int,
        kind: str = "bernoulli",
        n_neg: int = 1,
        device: torch.device | str = "cpu",
    ) -> None:
        if kind not in SAMPLERS:
            raise ValueError(f"unknown negative sampler {kind!r}; available: {', '.join(SAMPLERS)}")
        if n_entities < 2:
            raise ValueError("negative sampling needs at least 2 entities")
        self.kind, self.n_neg, self.n_entities = kind, n_neg, n_entities
        probs = head_probabilities(train, n_relations) if kind == "bernoulli" else None
        self.p_head = None if probs is None else torch.as_tensor(probs, device=device)

    def sample(
        self, pos: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        b, dev = pos.shape[0], pos.device
        h = pos[:, 0:1].expand(b, self.n_neg)
        t = pos[:, 2:3].expand(b, self.n_neg)
        u = torch.rand((b, self.n_neg), device=dev, generator=generator)
        p = 0.5 if self.p_head is None else self.p_head[pos[:, 1]][:, None]
        corrupt_head = u < p
        orig = torch.where(corrupt_head, h, t)
        e = torch.randint(0, self.n_entities - 1, (b, self.n_neg), device=dev, generator=generator)
        e = e + (e >= orig).long()  # never the original entity
        return torch.where(corrupt_head, e, h), torch.where(corrupt_head, t, e)
