"""Paired comparison of runs: the statistics, and ``kgrec compare`` as a user runs it."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from recommend.compare import compare_evaluations, paired_test
from recommend.data import Split
from recommend.metrics import Evaluation
from tests.test_cli import kgrec


def test_paired_test_by_hand() -> None:
    # differences 1..5, all positive: the Wilcoxon statistic min(W+, W-) = 0 and the exact
    # two-sided p = 2 * P(W+ = 15) = 2 / 2^5; the t statistic: mean 3 over the standard
    # error sqrt(var / n) = sqrt(2.5 / 5), so t = 3 / sqrt(0.5) = 3 * sqrt(2), 4 df
    a = np.zeros(5)
    b = np.arange(1.0, 6.0)
    t = paired_test(a, b)
    assert (t.n, t.a, t.b, t.diff) == (5, 0.0, 3.0, 3.0)
    assert t.wilcoxon_stat == 0.0 and t.wilcoxon_p == pytest.approx(2 / 2**5)
    assert t.t_stat == pytest.approx(3 * math.sqrt(2))
    assert t.ttest_p == pytest.approx(2 * stats.t.sf(3 * math.sqrt(2), df=4))
    # B worse than A: the sign of the statistic and of the difference turn, the p stays
    back = paired_test(b, a)
    assert back.diff == -3.0 and back.t_stat == pytest.approx(-3 * math.sqrt(2))
    assert back.ttest_p == pytest.approx(t.ttest_p)


def test_paired_test_matches_scipy_and_drops_nan() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(200)
    b = a + rng.normal(0.02, 0.1, 200)
    b[[3, 50]] = np.nan  # users without a value in B (an ILD, an AUC)
    t = paired_test(a, b)
    keep = ~np.isnan(b)
    w = stats.wilcoxon(b[keep], a[keep])
    tt = stats.ttest_rel(b[keep], a[keep])
    assert t.n == 198
    assert t.wilcoxon_p == pytest.approx(w.pvalue) and t.wilcoxon_stat == w.statistic
    assert t.ttest_p == pytest.approx(tt.pvalue) and t.t_stat == pytest.approx(tt.statistic)
    assert t.diff == pytest.approx(b[keep].mean() - a[keep].mean())


def test_paired_test_degenerate_cases() -> None:
    same = paired_test(np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0]))
    assert same.wilcoxon_p == 1.0 and same.ttest_p == 1.0 and same.diff == 0.0
    one = paired_test(np.array([0.0]), np.array([1.0]))
    assert one.n == 1 and one.wilcoxon_p is None and one.ttest_p is None
    none = paired_test(np.array([np.nan]), np.array([1.0]))
    assert none.n == 0 and math.isnan(none.diff)
    with pytest.raises(ValueError, match="lengths"):
        paired_test(np.zeros(2), np.zeros(3))


def test_compare_evaluations() -> None:
    users = np.array([0, 1, 2, 3])
    ev_a = Evaluation(users, {"recall@2": np.array([0.0, 0.5, 1.0, 0.0]),
                              "ild@2": np.array([0.5, 0.5, np.nan, 0.5])},
                      {"coverage@2": 0.25})  # fmt: skip
    ev_b = Evaluation(users, {"recall@2": np.array([1.0, 0.5, 1.0, 1.0])},
                      {"coverage@2": 0.75})  # fmt: skip
    cmp = compare_evaluations(ev_a, ev_b)
    doc = cmp.as_dict()
    assert list(doc["metrics"]) == ["recall@2", "coverage@2"]  # accuracy before coverage
    rec = doc["metrics"]["recall@2"]
    # means 0.375 -> 0.875 over 4 users, +0.5 (+133%)
    assert (rec["a"], rec["b"], rec["diff"], rec["n"]) == (0.375, 0.875, 0.5, 4)
    assert rec["relative"] == pytest.approx(0.5 / 0.375)
    assert rec["wilcoxon_p"] == pytest.approx(
        stats.wilcoxon(ev_b.per_user["recall@2"], ev_a.per_user["recall@2"]).pvalue
    )
    cov = doc["metrics"]["coverage@2"]
    assert cov["diff"] == 0.5 and cov["paired"] is False and cov["wilcoxon_p"] is None
    assert doc["not_compared"] == ["ild@2"]
    other = Evaluation(np.array([0, 1, 2, 5]), ev_b.per_user, ev_b.catalogue)
    with pytest.raises(ValueError, match="different users"):
        compare_evaluations(ev_a, other)


def test_finished_runs_save_per_user_values_and_compare(tmp_path: Path) -> None:
    """In process: Trainer.finish writes per_user_test.npz, its means are result.json's test
    metrics, and compare_runs pairs two runs of one split (a third split differs)."""
    from kg_ingest.synthetic import generate
    from recommend.compare import compare_runs
    from recommend.data import export_from_graph_data
    from recommend.models import ModelConfig
    from recommend.runs import PER_USER_TEST
    from recommend.train import TrainConfig, start_run, train_run

    export = export_from_graph_data(generate(50, 30, seed=2, interactions_per_user=10,
                                             dims=(4, 4, 4)))  # fmt: skip
    runs = []
    for model, seed in (("bprmf", 0), ("pop", 0), ("pop", 1)):
        tcfg = TrainConfig(epochs=2, batch_size=256, seed=seed, device="cpu", threads=1)
        run = start_run(export, model, "syn", tmp_path, ModelConfig(dim=8), tcfg)
        train_run(run)
        runs.append(run)
    a, b, other = runs
    assert (a.path / PER_USER_TEST).is_file()
    saved = a.evaluation()
    assert saved is not None and a.result is not None
    assert saved.means() == pytest.approx(a.result["test"])
    assert {"recall@20", "mrr@20", "map@20", "auc", "ild@20"} <= set(saved.per_user)
    cmp = compare_runs(a, b)
    assert cmp.users == len(saved.users)
    assert cmp.paired["ndcg@20"].diff == pytest.approx(
        b.result["test"]["ndcg@20"] - a.result["test"]["ndcg@20"]  # type: ignore[index]
    )
    with pytest.raises(ValueError, match="different splits"):
        compare_runs(a, other)
    with pytest.raises(ValueError, match="split must be"):
        compare_runs(a, b, "train")


def _train(home: Path, model: str, seed: int) -> dict[str, float]:
    proc = kgrec(home, "train", "--model", model, "--dataset", "syn", "--epochs", "2",
                 "--seed", str(seed), "--threads", "1", "--json")  # fmt: skip
    return dict(json.loads(proc.stdout))


@pytest.mark.slow  # two trainings, three comparisons in subprocesses: 1-3 min here
def test_cli_compare(tmp_path: Path) -> None:
    kgrec(tmp_path, "ingest", "synthetic", "--users", "60", "--videos", "40", "--graph", "syn")
    try:
        res_a = _train(tmp_path, "bprmf", 1)
        res_b = _train(tmp_path, "pop", 1)
        name_a, name_b = res_a["run"], res_b["run"]
        for key in ("mrr@20", "map@20", "coverage@20", "gini@20", "novelty@20", "arp@20"):
            assert key in res_a, key  # training's test result has the new measures
        run_b = tmp_path / "runs" / name_b
        assert (run_b / "per_user_test.npz").is_file()
        got = json.loads(kgrec(tmp_path, "compare", name_a, name_b, "--json").stdout)
        assert (got["a"], got["b"], got["split"]) == (name_a, name_b, "test")
        rec = got["metrics"]["recall@20"]
        assert rec["a"] == pytest.approx(res_a["recall@20"])
        assert rec["b"] == pytest.approx(res_b["recall@20"])
        assert rec["n"] == got["users"] == res_a["users"]
        for m in ("recall@20", "ndcg@10", "mrr@20", "map@20", "auc", "novelty@20"):
            for p in ("wilcoxon_p", "ttest_p"):
                value = got["metrics"][m][p]
                assert value is None or 0.0 <= value <= 1.0, (m, p)
        assert got["metrics"]["coverage@20"]["diff"] == pytest.approx(
            res_b["coverage@20"] - res_a["coverage@20"]
        )
        # an older run without the file: evaluated again, the same numbers
        (run_b / "per_user_test.npz").unlink()
        proc = kgrec(tmp_path, "compare", name_a, "latest", "--json")
        assert "evaluating its best weights" in proc.stderr
        again = json.loads(proc.stdout)["metrics"]
        assert list(again) == list(got["metrics"])
        for m, row in got["metrics"].items():
            for key in ("a", "b", "diff", "wilcoxon_p", "ttest_p"):
                assert again[m][key] == pytest.approx(row[key]), (m, key)
        table = kgrec(tmp_path, "compare", name_a, name_b).stdout
        assert "wilcoxon p" in table and "recall@20" in table and "coverage@20" in table
        # a run whose test pairs differ (as another seed would give) is refused
        other = tmp_path / "runs" / (name_b + "-other")
        shutil.copytree(run_b, other)
        split = Split.load(other / "split.npz")
        split.test = split.test[1:]
        split.save(other / "split.npz")
        bad = kgrec(tmp_path, "compare", name_a, other.name, ok=False)
        assert bad.returncode == 1 and "different splits: their test pairs" in bad.stderr
    finally:
        kgrec(tmp_path, "db", "stop")
