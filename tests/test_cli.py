"""The ``kgrec`` command as a user runs it: a subprocess with its own KGREC_HOME."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

KGREC = str(Path(sys.executable).with_name("kgrec"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kgrec-home")
    yield path
    subprocess.run([KGREC, "db", "stop"], env=_env(path), capture_output=True, timeout=60)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGREC_")}
    env.update(KGREC_HOME=str(home), KGREC_TEXT_BACKEND="hashing", COLUMNS="200")
    return env


def kgrec(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [KGREC, *args], env=_env(home), capture_output=True, text=True, timeout=300
    )
    if ok:
        assert proc.returncode == 0, f"kgrec {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def test_db_lifecycle(tmp_path: Path) -> None:
    assert kgrec(tmp_path, "db", "status", ok=False).returncode == 3
    assert "started" in kgrec(tmp_path, "db", "start").stdout
    assert "already running" in kgrec(tmp_path, "db", "start").stdout
    status = json.loads(kgrec(tmp_path, "db", "status", "--json").stdout)
    assert status["running"] and status["backend"] == "falkordb"
    assert "stopped" in kgrec(tmp_path, "db", "stop").stdout
    assert kgrec(tmp_path, "db", "status", ok=False).returncode == 3


def test_ingest_synthetic_stats_and_idempotence(home: Path) -> None:
    kgrec(home, "ingest", "synthetic", "--users", "40", "--videos", "30", "--graph", "syn")
    first = json.loads(kgrec(home, "stats", "--json", "--graph", "syn").stdout)
    assert first["nodes"]["User"] == 40 and first["nodes"]["Video"] == 30
    assert first["relationships"]["CLICKED"] > 0
    kgrec(home, "ingest", "synthetic", "--users", "40", "--videos", "30", "--graph", "syn")
    assert json.loads(kgrec(home, "stats", "--json", "--graph", "syn").stdout) == first


def test_ingest_movielens_fixture(home: Path) -> None:
    fixture = FIXTURES / "ml100k"
    if not fixture.is_dir():
        pytest.skip("no MovieLens fixture")
    kgrec(home, "ingest", "movielens", str(fixture), "--graph", "ml")
    stats = json.loads(kgrec(home, "stats", "--json", "--graph", "ml").stdout)
    assert stats["relationships"]["RATED"] > 0 and stats["nodes"]["Genre"] == 19


def test_malformed_file_names_file_and_line_and_keeps_graph(home: Path, tmp_path: Path) -> None:
    fixture = FIXTURES / "ml100k"
    if not fixture.is_dir():
        pytest.skip("no MovieLens fixture")
    kgrec(home, "ingest", "movielens", str(fixture), "--graph", "ml2")
    before = kgrec(home, "stats", "--json", "--graph", "ml2").stdout
    bad = tmp_path / "ml"
    shutil.copytree(fixture, bad)
    lines = (bad / "u.data").read_text().splitlines()
    lines[2] = "1\t2"  # line 3 loses two fields
    (bad / "u.data").write_text("\n".join(lines) + "\n")
    proc = kgrec(home, "ingest", "movielens", str(bad), "--graph", "ml2", ok=False)
    assert proc.returncode == 1
    assert "u.data" in proc.stderr and "line 3" in proc.stderr
    assert kgrec(home, "stats", "--json", "--graph", "ml2").stdout == before


def test_query_refuses_writes_and_runs_library(home: Path) -> None:
    kgrec(home, "ingest", "synthetic", "--users", "20", "--videos", "15", "--graph", "q")
    before = kgrec(home, "stats", "--json", "--graph", "q").stdout
    proc = kgrec(home, "query", "--graph", "q", "--cypher", "MATCH (n) DETACH DELETE n", ok=False)
    assert proc.returncode == 1 and "refused" in proc.stderr and "DELETE" in proc.stderr
    assert kgrec(home, "stats", "--json", "--graph", "q").stdout == before
    out = json.loads(
        kgrec(home, "query", "--graph", "q", "--json", "--cypher",
              "MATCH (u:User) RETURN u.id ORDER BY u.id LIMIT 3").stdout
    )  # fmt: skip
    assert out["columns"] == ["u.id"] and len(out["rows"]) == 3
    names = [q["name"] for q in json.loads(kgrec(home, "query", "--list", "--json").stdout)]
    assert "overview" in names
    overview = json.loads(kgrec(home, "query", "overview", "--graph", "q", "--json").stdout)
    assert overview["rows"]
    bad = kgrec(home, "query", "user_profile", "--graph", "q", "-p", "nope=1", ok=False)
    assert bad.returncode == 1 and "no parameter" in bad.stderr


def test_demo_prints_stats_and_three_queries(home: Path) -> None:
    out = kgrec(home, "demo", "--users", "60", "--videos", "40", "--no-train").stdout
    assert "graph statistics" in out
    for name in ("top_items_by_genre", "user_profile", "also_watched"):
        assert name in out
    assert "TransR" not in out and "recommendations" not in out


def test_demo_trains_and_recommends_with_reasons(home: Path) -> None:
    out = kgrec(
        home, "demo", "--users", "60", "--videos", "40", "--embed-epochs", "2", "--epochs", "2"
    ).stdout
    for step in ("5. TransR", "6. train the mmkgat", "7. top-5 recommendations for user"):
        assert step in out
    # the embeddings were written back: similar_entities answers with 5 other videos
    similar = out.split("similar_entities", 1)[1].split("6. train", 1)[0]
    assert "5 row(s)" in similar and "wrote 'embedding' on" in out
    assert "test metrics" in out and "recall@20" in out
    recs = out.split("7. top-5 recommendations", 1)[1].splitlines()
    items = [line for line in recs if re.match(r"[1-5]\. .+ \(v\d+\) score -?\d", line)]
    reasons = [line for line in recs if line.startswith("   - ")]
    assert len(items) == 5
    assert len(reasons) == 10 and all(len(r) > 20 for r in reasons)
    home_runs = list((home / "runs").glob("*-mmkgat-demo-s0"))
    assert home_runs and (home_runs[0] / "result.json").is_file()
