"""Negative sampling for the BPR loss and for KG (TransR) triples, vectorised.

Both samplers draw uniform candidates for a whole batch at once and reject the ones that are
positives by a binary search in a sorted array of positive keys (``searchsorted``), redrawing
only the rejected slots. A user (or head and relation) with few positives among many candidates
needs about one round; no Python loop runs over the batch.

Every draw comes from the sampler's own ``torch.Generator`` on the CPU, so a run is the same
on CPU and CUDA for a seed, and the generator's state goes into a checkpoint for ``--resume``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

# after this many rounds the remaining (rare: an anchor linked to nearly every candidate)
# rejected slots keep their last draw rather than loop for ever
_MAX_ROUNDS = 64


def _member(sorted_keys: Tensor, keys: Tensor) -> Tensor:
    """``keys`` found in ``sorted_keys`` (both int64). Shapes: ``[N]`` -> bool ``[N]``."""
    if len(sorted_keys) == 0:
        return torch.zeros_like(keys, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, keys).clamp_(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _reject_resample(
    anchor_key: Tensor, n_candidates: int, sorted_keys: Tensor, gen: torch.Generator
) -> Tensor:
    """Uniform candidates ``c`` in ``[0, n_candidates)`` with ``anchor_key + c`` not a positive.

    ``anchor_key`` is the anchor's key already multiplied by ``n_candidates``.
    """
    cand = torch.randint(n_candidates, anchor_key.shape, generator=gen)
    bad = _member(sorted_keys, anchor_key + cand)
    for _ in range(_MAX_ROUNDS):
        if not bool(bad.any()):
            break
        idx = torch.nonzero(bad).flatten()
        cand[idx] = torch.randint(n_candidates, (len(idx),), generator=gen)
        bad[idx] = _member(sorted_keys, anchor_key[idx] + cand[idx])
    return cand


class BPRSampler:
    """(user, positive item, negative item) batches; one epoch visits every training pair once.

    Args:
        train: int64 ``[N, 2]`` training (user, item) pairs.
        n_items: number of items; negatives are uniform over items the user has not trained on.
        generator: source of randomness (default: a fresh one seeded with 0).

    Shapes:
        epoch(batch_size) yields users ``[B]``, pos ``[B]``, neg ``[B]`` (``[B, n_neg]`` with
        ``n_neg > 1``), int64 on the CPU.
    """

    def __init__(
        self, train: np.ndarray, n_items: int, generator: torch.Generator | None = None
    ) -> None:
        pairs = torch.as_tensor(np.asarray(train, dtype=np.int64).reshape(-1, 2))
        self.users, self.items = pairs[:, 0].contiguous(), pairs[:, 1].contiguous()
        self.n_items = n_items
        self.keys = torch.sort(self.users * n_items + self.items).values
        self.generator = generator or torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return len(self.users)

    def negatives(self, users: Tensor, n_neg: int = 1) -> Tensor:
        """Items not in each user's training set. Shapes: ``[B]`` -> ``[B]`` or ``[B, n_neg]``."""
        u = users if n_neg == 1 else users.repeat_interleave(n_neg)
        neg = _reject_resample(u * self.n_items, self.n_items, self.keys, self.generator)
        return neg if n_neg == 1 else neg.view(-1, n_neg)

    def epoch(self, batch_size: int = 2048, n_neg: int = 1) -> Iterator[tuple[Tensor, ...]]:
        """Shuffle the training pairs and yield ``ceil(N / batch_size)`` batches."""
        perm = torch.randperm(len(self.users), generator=self.generator)
        for start in range(0, len(perm), batch_size):
            idx = perm[start : start + batch_size]
            users = self.users[idx]
            yield users, self.items[idx], self.negatives(users, n_neg)


class TripleSampler:
    """(head, relation, tail, corrupted tail) batches of one KG; one epoch visits every triple.

    The corrupted tail is uniform over the graph's entities with ``(h, r, t')`` not a triple of
    the graph (KGAT's sampling).

    Args:
        graph: int64 ``[3, T]`` (head, relation, tail).
        n_entities: entity count (default: the largest id in the graph plus one).
        generator: source of randomness (default: a fresh one seeded with 0).
    """

    def __init__(
        self, graph: Tensor, n_entities: int | None = None, generator: torch.Generator | None = None
    ) -> None:
        g = graph.detach().to("cpu", torch.int64)
        self.h, self.r, self.t = g[0].contiguous(), g[1].contiguous(), g[2].contiguous()
        self.n_entities = int(n_entities or (int(g[[0, 2]].max()) + 1 if g.numel() else 1))
        self.n_relations = int(g[1].max()) + 1 if g.numel() else 1
        self.keys = torch.sort(self._anchor(self.h, self.r) + self.t).values
        self.generator = generator or torch.Generator().manual_seed(0)

    def _anchor(self, h: Tensor, r: Tensor) -> Tensor:
        # (h * R + r) * E stays below 2^63 for any graph that fits in memory
        return (h * self.n_relations + r) * self.n_entities

    def __len__(self) -> int:
        return len(self.h)

    def epoch(self, batch_size: int = 2048) -> Iterator[tuple[Tensor, ...]]:
        """Shuffle the triples and yield ``(h, r, t, t_neg)``, each ``[B]``."""
        perm = torch.randperm(len(self.h), generator=self.generator)
        for start in range(0, len(perm), batch_size):
            idx = perm[start : start + batch_size]
            h, r = self.h[idx], self.r[idx]
            neg = _reject_resample(self._anchor(h, r), self.n_entities, self.keys, self.generator)
            yield h, r, self.t[idx], neg
