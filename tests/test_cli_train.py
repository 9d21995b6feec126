"""``kgrec train`` / ``evaluate`` / ``runs`` as a user runs them, on the synthetic graph."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import kgrec


def test_train_evaluate_runs(tmp_path: Path) -> None:
    kgrec(tmp_path, "ingest", "synthetic", "--users", "60", "--videos", "40", "--graph", "syn")
    try:
        proc = kgrec(
            tmp_path, "train", "--model", "lightgcn", "--dataset", "syn", "--epochs", "3",
            "--seed", "1", "--threads", "1", "--json",
        )  # fmt: skip
        result = json.loads(proc.stdout)  # one JSON object on stdout, nothing else
        for key in ("recall@20", "ndcg@20", "precision@10", "recall@10", "ndcg@10"):
            assert 0.0 <= result[key] <= 1.0, key
        again = json.loads(kgrec(tmp_path, "evaluate", "latest", "--json").stdout)
        assert again["recall@20"] == result["recall@20"]  # the run reproduces its test score
        listed = json.loads(kgrec(tmp_path, "runs", "--json").stdout)
        assert len(listed) == 1 and "lightgcn" in json.dumps(listed[0])
        bad = kgrec(tmp_path, "train", "--model", "nope", "--dataset", "syn", ok=False)
        assert bad.returncode != 0 and "nope" in bad.stderr
    finally:
        kgrec(tmp_path, "db", "stop")
