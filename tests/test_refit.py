"""Refitting a finished run on its training and validation pairs (``recommend.refit``,
``kgrec refit``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommend.data import Split
from recommend.refit import refit_split
from tests.test_cli import kgrec


def _split() -> Split:
    train = np.array([[0, 0], [0, 2], [1, 1]])
    valid = np.array([[0, 1], [1, 3]])
    test = np.array([[0, 3], [1, 0]])
    return Split(train, valid, test, source="given", user_keys=np.array(["a", "b"]))


def test_refit_split_trains_on_the_validation_pairs() -> None:
    s = _split()
    r = refit_split(s)
    assert r.train.tolist() == [[0, 0], [0, 1], [0, 2], [1, 1], [1, 3]]  # sorted, both parts
    assert r.valid.shape == (0, 2) and r.test.tolist() == s.test.tolist()
    assert r.source == "given+refit" and r.user_keys is not None and list(r.user_keys) == ["a", "b"]
    assert s.valid.shape == (2, 2)  # the parent's split is left as it was
    with pytest.raises(ValueError, match="no validation pairs"):
        refit_split(r)


def test_refit_run_in_process(tmp_path: Path) -> None:
    """The refit trains the parent's best epoch count on train + valid, tests its last
    weights, and compares with the parent user by user; a refit is not refitted again."""
    from kg_ingest.synthetic import generate
    from recommend.compare import compare_runs
    from recommend.data import export_from_graph_data
    from recommend.models import ModelConfig
    from recommend.refit import refit_init, start_refit
    from recommend.runs import SPLIT, Run
    from recommend.train import TrainConfig, start_run, train_run

    export = export_from_graph_data(generate(50, 30, seed=2, interactions_per_user=10,
                                             dims=(4, 4, 4)))  # fmt: skip
    tcfg = TrainConfig(epochs=4, batch_size=128, eval_every=1, patience=1, seed=3, device="cpu",
                       threads=1)  # fmt: skip
    parent = start_run(export, "bprmf", "syn", tmp_path, ModelConfig(dim=8), tcfg)
    with pytest.raises(ValueError, match="has not finished"):
        start_refit(parent, tmp_path)
    res = train_run(parent)
    assert res.best_epoch >= 1
    (parent.path / "names.json").write_text('{"Video": {"v0": "Toy Story"}}')
    refit = start_refit(parent, tmp_path)
    assert (refit.path / "names.json").read_text() == (parent.path / "names.json").read_text()
    cfg = refit.config
    assert cfg["refit"] == {"of": parent.name, "epochs": res.best_epoch}
    assert cfg["train_config"]["epochs"] == res.best_epoch and cfg["dataset"] == "syn"
    assert cfg["train_config"]["seed"] == 3 and cfg["model_config"]["dim"] == 8
    assert "syn-refit" in refit.name
    ps, rs = Split.load(parent.path / SPLIT), Split.load(refit.path / SPLIT)
    assert len(rs.train) == len(ps.train) + len(ps.valid) and len(rs.valid) == 0
    assert len(refit.data().train) == len(rs.train)
    out = train_run(refit)
    assert out.epochs == res.best_epoch == out.best_epoch and out.best_valid == {}
    assert 0.0 <= out.test["recall@20"] <= 1.0 and out.test["users"] == res.test["users"]
    cmp = compare_runs(parent, refit)  # same test users, same items left out of their ranking
    assert cmp.paired["recall@20"].diff == pytest.approx(
        out.test["recall@20"] - res.test["recall@20"]
    )
    with pytest.raises(ValueError, match="already a refit"):
        start_refit(Run(refit.path), tmp_path)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        start_refit(parent, tmp_path, epochs=0)
    two = start_refit(parent, tmp_path, epochs=2)
    assert two.config["refit"]["epochs"] == 2 and two.config["train_config"]["epochs"] == 2
    assert refit_init(parent, two) is None  # the parent started from its own initialisation
    cfg = parent.config
    cfg["init_from"] = {"run": str(tmp_path / "gone"), "model": "transr", "rows": {}}
    parent.write_config(cfg)
    with pytest.raises(ValueError, match="which is gone"):
        refit_init(parent, two)


def test_cli_refit(tmp_path: Path) -> None:
    kgrec(tmp_path, "ingest", "synthetic", "--users", "60", "--videos", "40", "--graph", "syn")
    try:
        first = json.loads(kgrec(tmp_path, "train", "--model", "bprmf", "--dataset", "syn",
                                 "--epochs", "3", "--eval-every", "1", "--threads", "1",
                                 "--json").stdout)  # fmt: skip
        proc = kgrec(tmp_path, "refit", first["run"], "--threads", "1", "--json")
        got = json.loads(proc.stdout)
        assert f"{first['run']} refitted on its training and validation pairs" in proc.stderr
        assert got["epochs"] == first["best_epoch"] and got["run"] != first["run"]
        assert got["users"] == first["users"] and 0.0 <= got["recall@20"] <= 1.0
        cmp = json.loads(kgrec(tmp_path, "compare", first["run"], got["run"], "--json").stdout)
        assert cmp["metrics"]["recall@20"]["b"] == pytest.approx(got["recall@20"])
        parent, new = (tmp_path / "runs" / first["run"], tmp_path / "runs" / got["run"])
        kept = [n for n in ("spec.toml", "names.json") if (parent / n).is_file()]
        assert "spec.toml" in kept
        for name in kept:  # it serves as its parent does
            assert (new / name).read_text() == (parent / name).read_text(), name
        answer = json.loads(kgrec(tmp_path, "recommend", "--user", "u0", "-k", "3", "--run",
                                  got["run"], "--json").stdout)  # fmt: skip
        assert answer["run"] == got["run"] and len(answer["items"]) == 3
        again = kgrec(tmp_path, "refit", "latest", ok=False)
        assert again.returncode == 1 and "already a refit" in again.stderr
        missing = kgrec(tmp_path, "refit", "no-such-run", ok=False)
        assert missing.returncode == 1 and "no-such-run" in missing.stderr
    finally:
        kgrec(tmp_path, "db", "stop")
