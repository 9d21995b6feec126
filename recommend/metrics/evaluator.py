"""Full-ranking evaluation in user batches: accuracy and beyond-accuracy measures at K.

Every user with at least one target (validation or test) item is ranked against all items
except those excluded for them (their training items): one ``score_all`` matmul per user batch,
an index fill of ``-inf`` over the excluded items, one ``topk``. Nothing loops over users in
Python, so ML-100K is a handful of batches and amazon-book (70k users x 25k items) stays within
a bounded batch of ``[B, n_items]`` scores. The measures are :mod:`recommend.metrics.ranking`'s
(precision, recall, NDCG, hit, MRR, MAP, AUC) and :mod:`recommend.metrics.beyond`'s (novelty,
ARP, ILD per user; coverage and Gini over the catalogue).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recommend.metrics.beyond import CATALOGUE_METRICS, TopLists, item_attributes, list_metrics
from recommend.metrics.ranking import (
    DEFAULT_KS,
    MAX_BATCH_CELLS,
    auc_batch,
    csr,
    gather_rows,
    topk_metrics,
)


@dataclass
class Evaluation:
    """One evaluation, user by user.

    Attributes:
        users: int64 ``[U]`` the evaluated users (contiguous ids), ascending.
        per_user: metric name -> float64 ``[U]`` (NaN where a user has no value: the AUC of
            a user with no non-target candidate, the ILD of a list with fewer than two items
            with attributes).
        catalogue: the measures of all lists together (``coverage@K``, ``gini@K``).
    """

    users: np.ndarray
    per_user: dict[str, np.ndarray]
    catalogue: dict[str, float]

    def means(self) -> dict[str, float]:
        """Each per-user metric's mean over the users with a value (a metric no user has is
        left out), the catalogue measures, and ``users``: the number of users evaluated."""
        out: dict[str, float] = {}
        for name, v in self.per_user.items():
            defined = v[~np.isnan(v)]
            if len(defined) or not len(v):
                out[name] = float(defined.mean()) if len(defined) else 0.0
        out.update({k: v for k, v in self.catalogue.items() if not math.isnan(v)})
        out["users"] = float(len(self.users))
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """As named arrays for a file: ``users``, one ``[U]`` array per per-user metric, one
        0-d array per catalogue measure (:meth:`from_arrays` reads them back)."""
        out = {"users": self.users, **self.per_user}
        out.update({k: np.array(v, np.float64) for k, v in self.catalogue.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Evaluation:
        if "users" not in arrays:
            raise ValueError("per-user values without a 'users' array")
        users = np.asarray(arrays["users"], np.int64)
        per_user, catalogue = {}, {}
        for name, a in arrays.items():
            if name == "users":
                continue
            if a.ndim == 0:
                catalogue[name] = float(a)
            elif a.shape == users.shape:
                per_user[name] = np.asarray(a, np.float64)
            else:
                raise ValueError(f"per-user values {name!r}: {a.shape}, expected {users.shape}")
        return cls(users, per_user, catalogue)


class Evaluator:
    """Ranks every user that has target items against all non-excluded items.

    Build once per (train, target) pair and call every epoch: the CSR indexes are made here.
    Calling it gives the means (:meth:`Evaluation.means`); :meth:`run` gives the values user by
    user, and :attr:`last` keeps the latest call's.

    Args:
        n_users, n_items: sizes.
        train: int64 ``[N, 2]`` pairs excluded from each user's ranking (the training items);
            also the item popularity of novelty and ARP.
        target: int64 ``[M, 2]`` pairs to find (validation or test).
        ks: cut-offs (default: ``(10, 20)``).
        batch_users: users per ``score_all`` call (default: as many as keep ``B * n_items``
            under 16M scores, at most 4096).
        auc: also compute AUC (default: False; it costs ``|target| * n_items`` comparisons).
        extra_exclude: more pairs to exclude (default: none). The test protocol
            (:func:`split_evaluator`) excludes the validation pairs too: they are interactions
            the user is known to have, not candidates, as in RecBole's full ranking.
        attributes: int64 ``[P, 2]`` (item, KG attribute) pairs for ILD (default: None, no
            ILD; :func:`split_evaluator` passes the item KG's,
            :func:`~recommend.metrics.beyond.item_attributes`).
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
        attributes: np.ndarray | None = None,
    ) -> None:
        self.n_users, self.n_items = n_users, n_items
        self.ks = tuple(ks)
        self.auc = auc
        train = np.asarray(train, np.int64).reshape(-1, 2)
        parts = [np.asarray(p, np.int64).reshape(-1, 2) for p in (train, *extra_exclude)]
        excl = np.concatenate(parts)
        if len(extra_exclude):
            excl = np.unique(excl, axis=0)
        self.excl_ptr, self.excl_idx = csr(excl, n_users)
        self.tgt_ptr, self.tgt_idx = csr(target, n_users)
        self.users = torch.nonzero(self.tgt_ptr[1:] > self.tgt_ptr[:-1]).flatten()
        self.batch_users = batch_users or int(
            min(4096, max(64, MAX_BATCH_CELLS // max(n_items, 1)))
        )
        popularity = torch.bincount(torch.as_tensor(train[:, 1]), minlength=n_items)
        self.list_metrics = list_metrics(popularity, n_users, attributes, n_items)
        self.last: Evaluation | None = None

    def _to(self, device: torch.device) -> None:
        if self.excl_ptr.device != device:
            for name in ("excl_ptr", "excl_idx", "tgt_ptr", "tgt_idx", "users"):
                setattr(self, name, getattr(self, name).to(device))
            for m in self.list_metrics:
                m.to(device)

    @torch.no_grad()
    def run(
        self, score_fn: Callable[[Tensor], Tensor], device: torch.device | str = "cpu"
    ) -> Evaluation:
        """Every metric of every user with target items.

        Args:
            score_fn: users ``[B]`` -> scores ``[B, n_items]`` (e.g. ``model.score_all`` after
                ``model.prepare_scoring()``).
            device: where the index tensors and the users go.
        """
        dev = torch.device(device)
        self._to(dev)
        kmax = min(max(self.ks), self.n_items)
        parts: dict[str, list[Tensor]] = {}
        counts = {k: torch.zeros(self.n_items, dtype=torch.int64, device=dev) for k in self.ks}
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
            top_scores, top = torch.topk(scores, kmax, dim=1, sorted=True)
            target = torch.zeros(scores.shape, dtype=torch.bool, device=dev)
            target[tg_row, tg_col] = True
            hits = torch.gather(target, 1, top)
            batch = topk_metrics(hits, n_target, self.ks)
            candidate = top_scores > float("-inf")
            for k in self.ks:
                lists = TopLists(top[:, :k], candidate[:, :k])
                for m in self.list_metrics:
                    batch[f"{m.name}@{k}"] = m(lists)
                counts[k] += torch.bincount(lists.items[lists.valid], minlength=self.n_items)
            if self.auc:
                n_ex = self.excl_ptr[users + 1] - self.excl_ptr[users]
                batch["auc"] = auc_batch(scores, tg_row, tg_col, n_ex)
            for name, v in batch.items():
                parts.setdefault(name, []).append(v)
        catalogue = {
            f"{m.name}@{k}": m(counts[k]) for k in self.ks for m in CATALOGUE_METRICS
        }  # fmt: skip
        per_user = {name: torch.cat(v).cpu().numpy() for name, v in parts.items()}
        self.last = Evaluation(self.users.cpu().numpy(), per_user, catalogue)
        return self.last

    def __call__(
        self, score_fn: Callable[[Tensor], Tensor], device: torch.device | str = "cpu"
    ) -> dict[str, float]:
        """Mean metrics over the users with target items (see :meth:`run`).

        Returns:
            ``{"precision@10", "recall@10", "ndcg@10", "hit@10", "mrr@10", "map@10", ...,
            "novelty@10", "arp@10", "ild@10"?, ..., "auc"?, "coverage@10", "gini@10", ...,
            "users"}``.
        """
        return self.run(score_fn, device).means()


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
    attributes: np.ndarray | None = None,
) -> dict[str, float]:
    """One-shot :class:`Evaluator` (see there for the arguments)."""
    ev = Evaluator(n_users, n_items, train, target, ks, batch_users=batch_users, auc=auc,
                   attributes=attributes)  # fmt: skip
    return ev(score_fn, device)


def split_evaluator(data: Any, split: str, **kwargs: Any) -> Evaluator:
    """The project's protocol for a :class:`recommend.data.RecData`.

    ``valid``: rank all items minus the user's training items. ``test``: rank all items minus
    the user's training and validation items (the interactions known before the test), as
    RecBole's full-ranking evaluation does; the published figures we compare with use it.
    ILD reads the attributes of ``data.item_kg`` (where it has one).
    """
    kg = getattr(data, "item_kg", None)
    if kg is not None and "attributes" not in kwargs:
        kwargs["attributes"] = item_attributes(kg, data.n_items)
    if split == "valid":
        return Evaluator(data.n_users, data.n_items, data.train, data.valid, **kwargs)
    if split == "test":
        return Evaluator(
            data.n_users, data.n_items, data.train, data.test, extra_exclude=[data.valid], **kwargs
        )
    raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
