"""``kgrec embed`` as a user runs it (a subprocess with its own KGREC_HOME) on a synthetic graph:
train, write back, query by similarity, resume, and start a recommender from the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import kgrec


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kgrec-embed")
    kgrec(path, "ingest", "synthetic", "--users", "50", "--videos", "30", "--graph", "syn")
    yield path
    kgrec(path, "db", "stop")


@pytest.fixture(scope="module")
def first(home: Path) -> dict[str, Any]:
    proc = kgrec(
        home, "embed", "--model", "transr", "--graph", "syn", "--dim", "8", "--epochs", "3",
        "--relations", "HAS_GENRE,HAS_TAG", "--relations", "CLICKED", "--device", "auto",
        "--threads", "1", "--json",
    )  # fmt: skip
    return dict(json.loads(proc.stdout))  # one JSON object on stdout, nothing else


def test_embed_write_back_and_similar(home: Path, first: dict[str, Any]) -> None:
    for key in ("mrr", "hits@1", "hits@3", "hits@10"):
        assert 0.0 < first[key] <= 1.0, key
    assert first["hits@1"] <= first["hits@3"] <= first["hits@10"]
    assert first["mr"] >= 1.0 and first["epochs"] == 3 and first["device"] == "cpu"
    stats = json.loads(kgrec(home, "stats", "--json", "--graph", "syn").stdout)
    assert first["written"] == {
        label: stats["nodes"][label] for label in ("Genre", "Tag", "User", "Video")
    }
    config = json.loads((home / "embeddings" / first["run"] / "config.json").read_text())
    assert config["relations"] == ["CLICKED", "HAS_GENRE", "HAS_TAG"]

    similar = kgrec(home, "query", "similar_entities", "-p", "id=v1", "-p", "label=Video",
                    "-p", "limit=4", "--graph", "syn", "--json")  # fmt: skip
    rows = json.loads(similar.stdout)["rows"]
    assert len(rows) == 4 and all(r[0] == "Video" and r[1] != "v1" for r in rows)
    sims = [r[3] for r in rows]
    assert sims == sorted(sims, reverse=True) and all(-1.0 <= x <= 1.0 for x in sims)

    bad = kgrec(home, "embed", "--graph", "syn", "--relations", "NOPE", ok=False)
    assert bad.returncode == 1 and "NOPE" in bad.stderr and "HAS_GENRE" in bad.stderr


@pytest.mark.slow
def test_embed_resume_and_init_from(home: Path, first: dict[str, Any]) -> None:
    more = kgrec(home, "embed", "--resume", "latest", "--epochs", "5", "--no-write-back",
                 "--json")  # fmt: skip
    resumed = json.loads(more.stdout)
    assert resumed["run"] == first["run"] and resumed["epochs"] == 5
    history = (home / "embeddings" / first["run"] / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in history] == [1, 2, 3, 4, 5]

    rec = kgrec(
        home, "train", "--model", "mmkgat", "--dataset", "syn", "--dim", "8", "--layers", "1",
        "--epochs", "1", "--threads", "1", "--init-from", str(first["run"]), "--json",
    )  # fmt: skip
    trained = json.loads(rec.stdout)
    init = json.loads((home / "runs" / trained["run"] / "config.json").read_text())["init_from"]
    assert init["model"] == "transr" and init["rows"]["emb_i:Video"] == 30
    assert init["rows"]["emb_u:User"] == 50 and init["rows"]["emb_i:Genre"] > 0
    # a refit starts from the same vectors as the run it refits
    refit = json.loads(kgrec(home, "refit", trained["run"], "--epochs", "1", "--threads", "1",
                             "--json").stdout)  # fmt: skip
    again = json.loads((home / "runs" / refit["run"] / "config.json").read_text())["init_from"]
    assert again == init
    wrong = kgrec(home, "train", "--model", "mmkgat", "--dataset", "syn", "--dim", "16",
                  "--epochs", "1", "--init-from", str(first["run"]), ok=False)  # fmt: skip
    assert wrong.returncode == 1 and "dimension 8" in wrong.stderr
