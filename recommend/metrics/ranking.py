"""Accuracy of a ranked list: Precision, Recall, NDCG, Hit, MRR and MAP at K, and AUC.

Per user, vectorised over a batch of users (the :class:`~recommend.metrics.Evaluator` feeds
them). With ``hit_r`` = 1 where the item at rank ``r`` (1-based) is a target, ``T`` the user's
targets and ``n = min(|T|, K)``:

* ``precision@K = sum_{r<=K} hit_r / K``, ``recall@K = sum_{r<=K} hit_r / |T|``,
  ``hit@K = 1`` if any ``hit_r``;
* ``ndcg@K = sum_{r<=K} hit_r / log2(r + 1)`` divided by the ideal DCG of ``n`` hits (KGAT's
  published NDCG divided by the DCG of the hits sorted within the top K, which is not
  comparable);
* ``mrr@K = 1 / r`` of the first hit (0 without one);
* ``map@K``: the mean over users of ``AP@K = sum_{r<=K} hit_r * precision@r / n``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

DEFAULT_KS = (10, 20)
# scores per batch: bounds the [B, n_items] working set (scores, mask, AUC sort) to a few
# hundred MB whatever the catalogue size
MAX_BATCH_CELLS = 1 << 24


def csr(pairs: np.ndarray | Tensor, n_rows: int) -> tuple[Tensor, Tensor]:
    """Row-compressed (user -> items) index of ``pairs``.

    Args:
        pairs: int64 ``[N, 2]`` (user, item).
        n_rows: number of users.

    Returns:
        (indptr int64 ``[n_rows + 1]``, indices int64 ``[N]``) with each row's items sorted.
    """
    p = torch.as_tensor(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    key = p[:, 0] * (int(p[:, 1].max()) + 1 if len(p) else 1) + p[:, 1]
    p = p[torch.argsort(key)]
    counts = torch.bincount(p[:, 0], minlength=n_rows)
    indptr = torch.zeros(n_rows + 1, dtype=torch.int64)
    indptr[1:] = torch.cumsum(counts, 0)
    return indptr, p[:, 1].contiguous()


def gather_rows(indptr: Tensor, indices: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """The entries of ``rows`` of a CSR index, vectorised.

    Returns:
        (local row position in ``rows`` ``[E]``, column ``[E]``).
    """
    start, end = indptr[rows], indptr[rows + 1]
    counts = end - start
    local = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
    first = torch.cumsum(counts, 0) - counts  # offset of each row's block in the output
    pos = torch.arange(int(counts.sum()), device=rows.device) - first[local] + start[local]
    return local, indices[pos]


def ideal_dcg(k: int, device: torch.device | None = None) -> Tensor:
    """``idcg[n] = sum_{r<n} 1 / log2(r + 2)`` for ``n = 0..k``. Shapes: ``[k + 1]``."""
    disc = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64, device=device) + 2.0)
    return torch.cat([torch.zeros(1, dtype=torch.float64, device=device), disc.cumsum(0)])


def topk_metrics(
    hits: Tensor, n_target: Tensor, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, Tensor]:
    """Per-user metrics from the hit pattern of each user's ranked top list.

    Args:
        hits: ``[B, K_max]`` bool/float, ``hits[b, r]`` = the item at rank ``r`` is a target.
        n_target: ``[B]`` number of target items of each user (``>= 1``).
        ks: cut-offs (default: ``(10, 20)``), each ``<= K_max``.

    Returns:
        ``{"precision@K", "recall@K", "ndcg@K", "hit@K", "mrr@K", "map@K"}`` -> float64
        ``[B]`` (the module's docstring has the formulas).
    """
    h = hits.to(torch.float64)
    n = n_target.to(torch.float64)
    kmax = h.shape[1]
    rank = torch.arange(1, kmax + 1, dtype=torch.float64, device=h.device)
    disc = 1.0 / torch.log2(rank + 1.0)
    idcg = ideal_dcg(kmax, h.device)
    out: dict[str, Tensor] = {}
    for k in ks:
        if k > kmax:
            raise ValueError(f"cut-off {k} beyond the ranked list ({kmax})")
        hk = h[:, :k]
        n_hit = hk.sum(1)
        n_ideal = torch.clamp(n_target.to(torch.int64), max=k)
        out[f"precision@{k}"] = n_hit / k
        out[f"recall@{k}"] = n_hit / n
        out[f"ndcg@{k}"] = (hk * disc[:k]).sum(1) / idcg[n_ideal]
        out[f"hit@{k}"] = (n_hit > 0).to(torch.float64)
        # hit_r / r is largest at the first hit
        out[f"mrr@{k}"] = (hk / rank[:k]).max(1).values
        precision_at = hk.cumsum(1) / rank[:k]
        out[f"map@{k}"] = (hk * precision_at).sum(1) / n_ideal.to(torch.float64)
    return out


def auc_batch(scores: Tensor, pos_local: Tensor, pos_items: Tensor, n_excluded: Tensor) -> Tensor:
    """Per-user AUC: the chance a target item outscores a candidate that is not a target.

    Mann-Whitney with ties counted one half; the excluded items must hold ``-inf`` in
    ``scores`` and are not candidates. Each target's score is compared with its row (no sort):
    with a few targets per user that is ``|target| * n_items`` comparisons instead of
    ``n_items * log(n_items)`` per user, in chunks of at most 16M cells.

    Args:
        scores: ``[B, n_items]`` with excluded items at ``-inf``.
        pos_local, pos_items: ``[P]`` row in the batch and item of every target pair.
        n_excluded: ``[B]`` excluded items per row.

    Returns:
        float64 ``[B]`` (NaN for a user with no target or no negative candidate).
    """
    b, n_items = scores.shape
    vals = scores[pos_local, pos_items]
    below = torch.empty(len(pos_local), dtype=torch.float64, device=scores.device)
    chunk = max(1, MAX_BATCH_CELLS // max(n_items, 1))
    for s in range(0, len(pos_local), chunk):
        rows = scores.index_select(0, pos_local[s : s + chunk])
        v = vals[s : s + chunk].unsqueeze(1)
        less = (rows < v).sum(1)
        ties = (rows == v).sum(1) - 1  # the target itself
        below[s : s + chunk] = less.to(torch.float64) + 0.5 * ties.to(torch.float64)
    n_pos = torch.bincount(pos_local, minlength=b).to(torch.float64)
    n_exc = n_excluded.to(torch.float64)
    # every target counted the -inf excluded items as below it, and each pair of targets
    # once in total (one below the other, or two halves on a tie)
    below_sum = torch.zeros(b, dtype=torch.float64, device=scores.device)
    below_sum.index_add_(0, pos_local, below)
    u_stat = below_sum - n_pos * n_exc - n_pos * (n_pos - 1) / 2
    n_neg = n_items - n_exc - n_pos
    return u_stat / (n_pos * n_neg)
