"""Filtered link prediction (Bordes et al. 2013): for each held-out triple rank the true head
among all entities for ``(?, r, t)`` and the true tail for ``(h, r, ?)``, ignoring candidates
that form another known true triple (train, validation or test). Ties count half
("realistic" rank, PyKEEN's default): ``rank = 1 + #closer + #equally close / 2``.
Reports MRR, MR and Hits@1/3/10 over both sides.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from embed.base import KGEModel

HITS = (1, 3, 10)


class Filter:
    """Known answers of ``(h, r, ?)`` and ``(?, r, t)`` queries, looked up in batches.

    Args:
        known: int64 ``[N, 3]`` all true triples.
        n_entities, n_relations: sizes.
    """

    def __init__(self, known: np.ndarray, n_entities: int, n_relations: int) -> None:
        self.n_rel = n_relations
        self.sides = {}
        for side, (q, a) in {"tail": (0, 2), "head": (2, 0)}.items():
            key = known[:, q] * n_relations + known[:, 1]
            order = np.lexsort((known[:, a], key))
            keys, starts, counts = np.unique(key[order], return_index=True, return_counts=True)
            self.sides[side] = (keys, starts, counts, known[order, a])

    def mask_pairs(self, side: str, query_ent: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(row, entity) pairs to exclude for queries ``query_ent`` of relation ``r``."""
        keys, starts, counts, answers = self.sides[side]
        qk = query_ent * self.n_rel + r
        pos = np.searchsorted(keys, qk)
        pos = np.minimum(pos, len(keys) - 1)
        found = keys[pos] == qk
        c = np.where(found, counts[pos], 0)
        rows = np.repeat(np.arange(len(qk)), c)
        first = np.repeat(starts[pos] - np.cumsum(c) + c, c)
        return rows, answers[first + np.arange(int(c.sum()))]


def _ranks(dist: Tensor, true: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    idx = torch.arange(len(true), device=dist.device)
    target = dist[idx, true].clone()
    dist[rows, cols] = float("inf")
    closer = (dist < target[:, None]).sum(1)
    equal = (dist == target[:, None]).sum(1)
    return 1.0 + closer.double() + equal.double() / 2.0


@torch.no_grad()
def rank_triples(
    model: KGEModel, triples: np.ndarray, filt: Filter, batch_size: int = 1024
) -> np.ndarray:
    """Filtered realistic ranks, ``[2, N]`` (row 0: tail prediction, row 1: head prediction)."""
    dev = model.ent.weight.device
    # a [batch, n_entities] distance matrix: keep it near 2**24 floats on large graphs
    batch_size = max(1, min(batch_size, 2**24 // max(model.n_entities, 1)))
    out = np.zeros((2, len(triples)), np.float64)
    was_training = model.training
    model.eval()
    for r in np.unique(triples[:, 1]).tolist():
        sel = np.flatnonzero(triples[:, 1] == r)
        for start in range(0, len(sel), batch_size):
            part = sel[start : start + batch_size]
            h, t = triples[part, 0], triples[part, 2]
            ht, tt = torch.as_tensor(h, device=dev), torch.as_tensor(t, device=dev)
            for row, side, query, answer in ((0, "tail", h, tt), (1, "head", t, ht)):
                dist = model.score_tails(ht, r) if side == "tail" else model.score_heads(r, tt)
                rows, cols = filt.mask_pairs(side, query, r)
                ranks = _ranks(
                    dist, answer,
                    torch.as_tensor(rows, device=dev), torch.as_tensor(cols, device=dev),
                )  # fmt: skip
                out[row, part] = ranks.cpu().numpy()
    model.train(was_training)
    return out


def metrics_from_ranks(ranks: np.ndarray) -> dict[str, float]:
    """MRR, MR and Hits@k of ``ranks`` (any shape, pooled)."""
    r = np.asarray(ranks, np.float64).ravel()
    if not len(r):
        return {"mrr": 0.0, "mr": 0.0, **{f"hits@{k}": 0.0 for k in HITS}, "n": 0}
    out = {"mrr": float(np.mean(1.0 / r)), "mr": float(np.mean(r))}
    out.update({f"hits@{k}": float(np.mean(r <= k)) for k in HITS})
    out["n"] = int(len(r))
    return out


def evaluate(
    model: KGEModel, triples: np.ndarray, known: np.ndarray, batch_size: int = 1024
) -> dict[str, float]:
    """Filtered link-prediction metrics of ``triples`` (both sides), filtering ``known``."""
    filt = Filter(known, model.n_entities, model.n_relations)
    return metrics_from_ranks(rank_triples(model, triples, filt, batch_size))
