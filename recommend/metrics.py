"""Full-ranking evaluation: Precision, Recall, NDCG, Hit at K and AUC, in user batches.

Every user with at least one target (validation or test) item is ranked against all items
except those excluded for them (their training items): one ``score_all`` matmul per user batch,
an index fill of ``-inf`` over the excluded items, one ``topk``. Nothing loops over users in
Python, so ML-100K is a handful of batches and amazon-book (70k users x 25k items) stays within
a bounded batch of ``[B, n_items]`` scores.

NDCG is the standard one: ``DCG@K = sum_{r<K} hit_r / log2(r + 2)`` over the top-K list, divided
by the ideal DCG of ``min(|target|, K)`` hits. (KGAT's published NDCG divided by the DCG of the
hits sorted within the top K, which is not comparable.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from recommend.data import RecData
    from recommend.models.base import Recommender

DEFAULT_KS = (10, 20)
# scores per batch: bounds the [B, n_items] working set (scores, mask, AUC sort) to a few
# hundred MB whatever the catalogue size
_MAX_BATCH_CELLS = 1 << 24


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
        ``{"precision@K", "recall@K", "ndcg@K", "hit@K"}`` -> float64 ``[B]``.
    """
    h = hits.to(torch.float64)
    n = n_target.to(torch.float64)
    kmax = h.shape[1]
    disc = 1.0 / torch.log2(torch.arange(kmax, dtype=torch.float64, device=h.device) + 2.0)
    idcg = ideal_dcg(kmax, h.device)
    out: dict[str, Tensor] = {}
    for k in ks:
        if k > kmax:
            raise ValueError(f"cut-off {k} beyond the ranked list ({kmax})")
        hk = h[:, :k]
        n_hit = hk.sum(1)
        ideal = idcg[torch.clamp(n_target.to(torch.int64), max=k)]
        out[f"precision@{k}"] = n_hit / k
        out[f"recall@{k}"] = n_hit / n
        out[f"ndcg@{k}"] = (hk * disc[:k]).sum(1) / ideal
        out[f"hit@{k}"] = (n_hit > 0).to(torch.float64)
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
    chunk = max(1, _MAX_BATCH_CELLS // max(n_items, 1))
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


class Evaluator:
    """Ranks every user that has target items against all non-excluded items.

    Build once per (train, target) pair and call every epoch: the CSR indexes are made here.

    Args:
        n_users, n_items: sizes.
        train: int64 ``[N, 2]`` pairs excluded from each user's ranking (the training items).
        target: int64 ``[M, 2]`` pairs to find (validation or test).
        ks: cut-offs (default: ``(10, 20)``).
        batch_users: users per ``score_all`` call (default: as many as keep ``B * n_items``
            under 16M scores, at most 4096).
        auc: also compute AUC (default: False; it costs ``|target| * n_items`` comparisons).
        extra_exclude: more pairs to exclude (default: none). The test protocol
            (:func:`split_evaluator`) excludes the validation pairs too: they are interactions
            the user is known to have, not candidates, as in RecBole's full ranking.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        train: np.ndarray,
        target: np.ndarray,
        ks: Sequence[int] = DEFAULT_KS,
        batch_users: int | None = None,
        auc: bool = False,
        extra_exclude: Sequence[np.ndarray] = (),
    ) -> None:
        self.n_users, self.n_items = n_users, n_items
        self.ks = tuple(ks)
        self.auc = auc
        parts = [np.asarray(p, np.int64).reshape(-1, 2) for p in (train, *extra_exclude)]
        excl = np.concatenate(parts)
        if len(extra_exclude):
            excl = np.unique(excl, axis=0)
        self.excl_ptr, self.excl_idx = csr(excl, n_users)
        self.tgt_ptr, self.tgt_idx = csr(target, n_users)
        self.users = torch.nonzero(self.tgt_ptr[1:] > self.tgt_ptr[:-1]).flatten()
        self.batch_users = batch_users or int(
            min(4096, max(64, _MAX_BATCH_CELLS // max(n_items, 1)))
        )

    def _to(self, device: torch.device) -> None:
        if self.excl_ptr.device != device:
            for name in ("excl_ptr", "excl_idx", "tgt_ptr", "tgt_idx", "users"):
                setattr(self, name, getattr(self, name).to(device))

    @torch.no_grad()
    def __call__(
        self, score_fn: Callable[[Tensor], Tensor], device: torch.device | str = "cpu"
    ) -> dict[str, float]:
        """Mean metrics over the users with target items.

        Args:
            score_fn: users ``[B]`` -> scores ``[B, n_items]`` (e.g. ``model.score_all`` after
                ``model.prepare_scoring()``).
            device: where the index tensors and the users go.

        Returns:
            ``{"precision@10", "recall@10", "ndcg@10", "hit@10", ... , "auc"?, "users"}``.
        """
        dev = torch.device(device)
        self._to(dev)
        kmax = min(max(self.ks), self.n_items)
        sums: dict[str, Tensor] = {}
        for start in range(0, len(self.users), self.batch_users):
            users = self.users[start : start + self.batch_users]
            scores = score_fn(users).detach().to(dev, torch.float32)
            # the fill below writes in place: copy a view (e.g. a popularity row expanded)
            if scores._base is not None or not scores.is_contiguous():
                scores = scores.clone()
            ex_row, ex_col = gather_rows(self.excl_ptr, self.excl_idx, users)
            scores[ex_row, ex_col] = float("-inf")
            tg_row, tg_col = gather_rows(self.tgt_ptr, self.tgt_idx, users)
            n_target = self.tgt_ptr[users + 1] - self.tgt_ptr[users]
            top = torch.topk(scores, kmax, dim=1, sorted=True).indices
            target = torch.zeros(scores.shape, dtype=torch.bool, device=dev)
            target[tg_row, tg_col] = True
            hits = torch.gather(target, 1, top)
            batch = topk_metrics(hits, n_target, self.ks)
            if self.auc:
                n_ex = self.excl_ptr[users + 1] - self.excl_ptr[users]
                batch["auc"] = auc_batch(scores, tg_row, tg_col, n_ex)
            for name, v in batch.items():
                s = torch.nan_to_num(v, nan=0.0).sum() if name == "auc" else v.sum()
                sums[name] = sums.get(name, torch.zeros((), dtype=torch.float64, device=dev)) + s
        n = len(self.users)
        out = {name: float(v) / max(n, 1) for name, v in sums.items()}
        out["users"] = float(n)
        return out


def evaluate(
    score_fn: Callable[[Tensor], Tensor],
    n_users: int,
    n_items: int,
    train: np.ndarray,
    target: np.ndarray,
    ks: Sequence[int] = DEFAULT_KS,
    auc: bool = True,
    device: torch.device | str = "cpu",
    batch_users: int | None = None,
) -> dict[str, float]:
    """One-shot :class:`Evaluator` (see there for the arguments)."""
    ev = Evaluator(n_users, n_items, train, target, ks, batch_users=batch_users, auc=auc)
    return ev(score_fn, device)


def split_evaluator(data: Any, split: str, **kwargs: Any) -> Evaluator:
    """The project's protocol for a :class:`recommend.data.RecData`.

    ``valid``: rank all items minus the user's training items. ``test``: rank all items minus
    the user's training and validation items (the interactions known before the test), as
    RecBole's full-ranking evaluation does; the published figures we compare with use it.
    """
    if split == "valid":
        return Evaluator(data.n_users, data.n_items, data.train, data.valid, **kwargs)
    if split == "test":
        return Evaluator(
            data.n_users, data.n_items, data.train, data.test, extra_exclude=[data.valid], **kwargs
        )
    raise ValueError(f"split must be 'valid' or 'test', got {split!r}")


# -- paper 003's metrics (GCFA) ----------------------------------------------------------


@torch.no_grad()
def paper_metrics(model: Recommender, data: RecData, seed: int = 0) -> dict[str, float]:
    """AUC and NDCG@1/@2 as paper 003 reports them, two ways, on the test split.

    * ``auc``, ``ndcg@1``, ``ndcg@2``: our full-ranking protocol (every item but the user's
      training and validation items is a candidate; :func:`split_evaluator`).
    * ``pair_auc``, ``pair_ndcg@1``, ``pair_ndcg@2``: each test pair against one sampled item
      the user never interacted with (seeded), the setting in which NDCG@2 near 0.95 is
      possible: NDCG@1 is the chance that the positive ranks first (= the pair AUC, ties
      counted one half), NDCG@2 adds ``1 / log2(3)`` when it ranks second.

    Works for any trained :class:`~recommend.models.base.Recommender`.
    """
    from recommend.models.base import device_of  # here: recommend.models imports this module

    dev = device_of(model)
    model.eval()
    model.prepare_scoring()
    full = split_evaluator(data, "test", ks=(1, 2), auc=True)(model.score_all, dev)
    out = {"auc": full["auc"], "ndcg@1": full["ndcg@1"], "ndcg@2": full["ndcg@2"]}
    test = np.asarray(data.test, dtype=np.int64).reshape(-1, 2)
    if not len(test):
        return out
    seen = np.concatenate([data.train, data.valid, test]).astype(np.int64)
    keys = np.sort(seen[:, 0] * data.n_items + seen[:, 1])
    rng = np.random.default_rng(seed)
    neg = rng.integers(0, data.n_items, len(test))
    for _ in range(100):  # redraw the negatives that are interactions
        bad = np.isin(test[:, 0] * data.n_items + neg, keys)
        if not bad.any():
            break
        neg[bad] = rng.integers(0, data.n_items, int(bad.sum()))
    users = torch.as_tensor(test[:, 0], device=dev)
    s_pos = torch.empty(len(test), device=dev)
    s_neg = torch.empty(len(test), device=dev)
    order = torch.argsort(users)
    uniq, inverse = torch.unique(users[order], return_inverse=True)
    step = 1024
    for start in range(0, len(uniq), step):
        part = uniq[start : start + step]
        scores = model.score_all(part).float()
        sel = (inverse >= start) & (inverse < start + len(part))
        rows = inverse[sel] - start
        idx = order[sel]
        s_pos[idx] = scores[rows, torch.as_tensor(test[:, 1], device=dev)[idx]]
        s_neg[idx] = scores[rows, torch.as_tensor(neg, device=dev)[idx]]
    first = (s_pos > s_neg).double() + 0.5 * (s_pos == s_neg).double()
    out["pair_auc"] = float(first.mean())
    out["pair_ndcg@1"] = out["pair_auc"]
    out["pair_ndcg@2"] = float((first + (1 - first) / np.log2(3)).mean())
    return out
