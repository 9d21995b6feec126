"""Paper 003's (GCFA) metrics: AUC and NDCG@1/@2, in our protocol and in the paper's."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from recommend.metrics.evaluator import split_evaluator

if TYPE_CHECKING:
    from recommend.data import RecData
    from recommend.models.base import Recommender


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
    # here: importing recommend.models loads every model, which the other metrics never need
    from recommend.models.base import device_of

    dev = device_of(model)
    model.eval()
    model.prepare_scoring()
    full = split_evaluator(data, "test", ks=(1, 2), auc=True)(model.score_all, dev)
    # no AUC where no test user has a candidate that is not a target
    auc = full.get("auc", math.nan)
    out = {"auc": auc, "ndcg@1": full["ndcg@1"], "ndcg@2": full["ndcg@2"]}
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
