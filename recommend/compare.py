"""Two runs on the same split, metric by metric, with paired tests over the users.

For each per-user metric (recall@K, NDCG@K, ..., AUC, novelty@K, ARP@K, ILD@K) the users with a
value in both runs are paired, and the difference ``B - A`` of the means is tested two-sided:

* Wilcoxon signed-rank (``scipy.stats.wilcoxon``, its defaults: users with no difference are
  left out of the ranks, an exact p-value for small samples without ties);
* paired t-test (``scipy.stats.ttest_rel``).

Identical per-user values give ``p = 1``; fewer than two pairs (or a degenerate sample) give no
p-value. The catalogue measures (coverage@K, Gini@K) are one number per run: their difference is
reported without a test. The p-values are per metric, not corrected for testing many metrics.

The per-user values of a run's final test are saved with it (``per_user_test.npz``, written by
:meth:`recommend.train.Trainer.finish`); a run without them (from before the file existed, or a
``valid`` comparison) is evaluated again from its best weights.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from recommend.data import Split
from recommend.metrics import Evaluation, split_evaluator
from recommend.runs import SPLIT, Run
from recommend.split import sort_pairs

# the order of the rows: accuracy, then beyond accuracy, each by cut-off
ORDER = ("precision", "recall", "ndcg", "hit", "mrr", "map", "auc",
         "coverage", "gini", "novelty", "arp", "ild")  # fmt: skip


@dataclass
class PairedTest:
    """A paired two-sided comparison of ``b`` against ``a`` over the same users.

    Attributes:
        n: pairs with a value on both sides.
        a, b: the means of each side over those pairs; ``diff = b - a``.
        wilcoxon_stat/wilcoxon_p, t_stat/ttest_p: the tests (None where they say nothing).
    """

    n: int
    a: float
    b: float
    diff: float
    wilcoxon_stat: float | None = None
    wilcoxon_p: float | None = None
    t_stat: float | None = None
    ttest_p: float | None = None


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def paired_test(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """Wilcoxon signed-rank and paired t-test of ``b`` vs ``a`` (pairs with a NaN dropped).

    Args:
        a, b: float ``[U]`` per-user values of the two runs, user ``i`` at position ``i``.
    """
    from scipy.stats import ttest_rel, wilcoxon  # here: scipy only for a comparison

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values of different lengths: {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = len(a)
    if n == 0:
        return PairedTest(0, math.nan, math.nan, math.nan)
    res = PairedTest(n, float(a.mean()), float(b.mean()), float(b.mean() - a.mean()))
    d = b - a
    if not d.any():  # the same values everywhere: no evidence of a difference
        res.wilcoxon_stat, res.wilcoxon_p, res.t_stat, res.ttest_p = 0.0, 1.0, 0.0, 1.0
    elif n >= 2:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # degenerate samples: scipy warns, we say None
            w = wilcoxon(b, a)
            t = ttest_rel(b, a)
        res.wilcoxon_stat, res.wilcoxon_p = _finite(w.statistic), _finite(w.pvalue)
        res.t_stat, res.ttest_p = _finite(t.statistic), _finite(t.pvalue)
    return res


@dataclass
class Comparison:
    """Run B against run A on one split.

    Attributes:
        paired: per-user metric -> its :class:`PairedTest`.
        catalogue: list-level metric -> ``{"a", "b", "diff"}`` (no test).
        only_one: metrics one of the runs does not have (not compared).
    """

    split: str
    users: int
    paired: dict[str, PairedTest]
    catalogue: dict[str, dict[str, float]]
    only_one: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per metric in :data:`ORDER`: ``metric``, ``a``, ``b``, ``diff``,
        ``relative`` (``diff / |a|``, None where ``a`` is 0), ``paired`` and the tests."""
        rows = [{"metric": m, "paired": True, **asdict(t)} for m, t in self.paired.items()]
        untested = {k: None for k in asdict(PairedTest(0, 0.0, 0.0, 0.0))}
        rows += [{"metric": m, "paired": False, **untested, **v}
                 for m, v in self.catalogue.items()]  # fmt: skip
        for r in rows:
            a, d = r["a"], r["diff"]
            r["relative"] = d / abs(a) if a and math.isfinite(a) and math.isfinite(d) else None
        return sorted(rows, key=lambda r: _order(r["metric"]))

    def as_dict(self) -> dict[str, Any]:
        return {"split": self.split, "users": self.users, "metrics": {
            r.pop("metric"): r for r in self.rows()}, "not_compared": self.only_one}  # fmt: skip


def _order(metric: str) -> tuple[int, int, str]:
    base, _, k = metric.partition("@")
    pos = ORDER.index(base) if base in ORDER else len(ORDER)
    return pos, int(k) if k.isdigit() else 0, metric


def compare_evaluations(a: Evaluation, b: Evaluation, split: str = "test") -> Comparison:
    """Pair the users of two evaluations (they must be the same users) metric by metric."""
    if not np.array_equal(a.users, b.users):
        raise ValueError(
            f"the evaluations have different users ({len(a.users)} and {len(b.users)}, "
            f"{len(np.intersect1d(a.users, b.users))} in common): not the same split"
        )
    paired = {
        m: paired_test(a.per_user[m], b.per_user[m]) for m in a.per_user if m in b.per_user
    }  # fmt: skip
    catalogue = {
        m: {"a": a.catalogue[m], "b": b.catalogue[m], "diff": b.catalogue[m] - a.catalogue[m]}
        for m in a.catalogue if m in b.catalogue
    }  # fmt: skip
    names_a = set(a.per_user) | set(a.catalogue)
    names_b = set(b.per_user) | set(b.catalogue)
    only = sorted(names_a ^ names_b, key=_order)
    return Comparison(split, len(a.users), paired, catalogue, only)


def _seen(split: Split) -> np.ndarray:
    return sort_pairs(np.concatenate([split.train, split.valid]))


def check_same_split(a: Run, b: Run, split: str = "test") -> None:
    """Raise ``ValueError`` unless both runs rank the same users for the same ``split`` pairs
    with the same items excluded (same graph ids, same train / valid / test pairs)."""
    sa, sb = Split.load(a.path / SPLIT), Split.load(b.path / SPLIT)
    for what, ka, kb in (("user", sa.user_keys, sb.user_keys),
                         ("video", sa.item_keys, sb.item_keys)):  # fmt: skip
        if ka is not None and kb is not None and not np.array_equal(ka, kb):
            raise ValueError(
                f"{a.name} and {b.name} were trained on different graphs ({what} ids differ: "
                f"{len(ka)} and {len(kb)}): they cannot be compared user by user"
            )
    # a test ranks every item but the user's training and validation pairs: runs that split
    # those two differently (a refit trains on both, recommend.refit) rank the test alike
    if split == "test":
        parts = {"training and validation": (_seen(sa), _seen(sb)), "test": (sa.test, sb.test)}
    else:
        parts = {p: (getattr(sa, p), getattr(sb, p)) for p in ("train", "valid")}
    for part, (pa, pb) in parts.items():
        if not np.array_equal(pa, pb):
            raise ValueError(
                f"{a.name} and {b.name} have different splits: their {part} pairs differ "
                f"({len(pa)} and {len(pb)} pairs); compare runs of the same graph made with "
                f"the same seed and split"
            )


def run_evaluation(
    run: Run,
    split: str = "test",
    device: Any = "cpu",
    on_recompute: Callable[[Run], None] | None = None,
) -> Evaluation:
    """The per-user values of ``run`` on ``split``: the saved ones (``per_user_<split>.npz``)
    or, where there are none, an evaluation of its best weights (``on_recompute(run)`` is
    called first, e.g. to say so)."""
    saved = run.evaluation(split)
    if saved is not None:
        return saved
    if on_recompute is not None:
        on_recompute(run)
    data = run.data()
    model = run.load_model("best", data, device)
    with torch.no_grad():
        model.prepare_scoring()
        return split_evaluator(data, split, auc=True).run(model.score_all, device)


def compare_runs(
    a: Run,
    b: Run,
    split: str = "test",
    device: Any = "cpu",
    on_recompute: Callable[[Run], None] | None = None,
) -> Comparison:
    """:func:`check_same_split`, then :func:`compare_evaluations` of the two runs' values."""
    if split not in ("test", "valid"):
        raise ValueError(f"split must be 'test' or 'valid', got {split!r}")
    check_same_split(a, b, split)
    ev_a = run_evaluation(a, split, device, on_recompute)
    ev_b = run_evaluation(b, split, device, on_recompute)
    return compare_evaluations(ev_a, ev_b, split)
