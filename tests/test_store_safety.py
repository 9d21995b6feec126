"""Data safety of the embedded store, tried with real processes: concurrent writers, ``kill -9``
of the server after a command reported its write, interrupted loads, datasets that must not
merge by accident, and a server no other local process can write to."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redis

from kg_ingest.movielens import load_movielens
from kg_ingest.synthetic import generate
from kg_store import GraphData, NodeSet, StoreError, embedded
from kg_store.falkordb_store import FalkorDBStore
from tests.conftest import FIXTURES
from tests.test_cli import KGREC, _env, kgrec

SYN_A = ("synthetic", "--users", "120", "--videos", "80", "--seed", "1")
SYN_B = ("synthetic", "--users", "150", "--videos", "60", "--seed", "2")
ML = ("movielens", str(FIXTURES / "ml100k"))


def _stats(home: Path, graph: str = "kg") -> dict[str, dict[str, int]]:
    return dict(json.loads(kgrec(home, "stats", "--json", "--graph", graph).stdout))


def _start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [KGREC, *args], env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _kill9_server(home: Path) -> None:
    """``kill -9`` the embedded server: no save on the way out."""
    state = json.loads((home / "falkordb" / embedded.STATE_FILE).read_text())
    os.kill(int(state["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while embedded._alive(int(state["pid"])) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    subprocess.run([KGREC, "db", "stop"], env=_env(tmp_path), capture_output=True, timeout=60)


def test_concurrent_ingests_lose_nothing(home: Path) -> None:
    """Two ingests at once into a graph that holds data end with what running them one after
    the other gives (writers are serialised, each load stages a graph of its own)."""
    kgrec(home, "ingest", *SYN_A)
    info = embedded.status(home / "falkordb")
    assert info is not None
    ref = FalkorDBStore.for_server(info, "ref")  # the same loads one after the other
    ref.load(generate(120, 80, 1))
    ref.load(generate(150, 60, 2))
    ref.load(load_movielens(FIXTURES / "ml100k"))
    reference = ref.stats()

    procs = [_start(home, "ingest", *SYN_B, "--merge"), _start(home, "ingest", *ML, "--merge")]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert len(err) < 2000, "no error message quotes a whole statement"
    assert _stats(home) == reference
    status = json.loads(kgrec(home, "db", "status", "--json").stdout)
    assert status["staging"] == []


def test_concurrent_ingests_of_other_datasets_are_refused_not_merged(home: Path) -> None:
    """Without --merge one of two different datasets loaded at once wins and the other is
    refused with a message; the graph is never empty or mixed."""
    procs = [_start(home, "ingest", *SYN_A), _start(home, "ingest", *ML)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outs
    refused = next(err for p, (_, err) in zip(procs, outs, strict=True) if p.returncode)
    assert "already holds dataset" in refused and "--merge" in refused
    assert "Encountered different graph value" not in refused
    winner = _stats(home)
    assert winner["nodes"], "the graph holds the dataset that won"
    # a re-run of the same dataset is still an idempotent upsert
    won_ml = "Genre" in winner["nodes"] and "Tag" not in winner["nodes"]
    kgrec(home, "ingest", *(ML if won_ml else SYN_A))
    assert _stats(home) == winner


def test_second_dataset_is_refused_unless_merged(home: Path) -> None:
    kgrec(home, "ingest", *SYN_A)
    before = _stats(home)
    proc = kgrec(home, "ingest", *ML, ok=False)
    assert proc.returncode == 1
    assert "synthetic:users=120,videos=80,seed=1" in proc.stderr
    assert "movielens:ml100k" in proc.stderr
    assert _stats(home) == before
    kgrec(home, "ingest", *ML, "--graph", "other")  # a graph of its own is fine
    kgrec(home, "ingest", *ML, "--merge")
    merged = _stats(home)
    assert merged["nodes"]["User"] >= before["nodes"]["User"]
    assert "KgrecDataset" not in merged["nodes"]


def test_acknowledged_writes_survive_kill9_of_the_server(home: Path) -> None:
    """After each writing command returns (ingest, embedding write-back, similar build), a
    kill -9 of the server loses nothing that command reported written."""

    def count(probe: str) -> int:
        rows = json.loads(kgrec(home, "query", "--cypher", probe, "--json").stdout)["rows"]
        return int(rows[0][0])

    kgrec(home, "ingest", *SYN_A)
    expected = _stats(home)
    _kill9_server(home)
    assert _stats(home) == expected

    kgrec(home, "embed", "--model", "transe", "--dim", "8", "--epochs", "1",
          "--threads", "1", "--json")  # fmt: skip
    embedded_q = "MATCH (v:Video) WHERE v.embedding IS NOT NULL RETURN count(v)"
    assert count(embedded_q) == expected["nodes"]["Video"]
    _kill9_server(home)
    assert count(embedded_q) == expected["nodes"]["Video"]

    built = json.loads(kgrec(home, "similar", "build", "--k", "3", "--json").stdout)
    similar_q = "MATCH (:Video)-[r:SIMILAR_VISUAL]->(:Video) RETURN count(r)"
    assert count(similar_q) == built["relationships"]["SIMILAR_VISUAL"] > 0
    _kill9_server(home)
    assert count(similar_q) == built["relationships"]["SIMILAR_VISUAL"]


def test_interrupted_load_leaves_no_staging_graph(home: Path) -> None:
    kgrec(home, "ingest", *SYN_A)
    info = embedded.status(home / "falkordb")
    assert info is not None
    store = FalkorDBStore.for_server(info, "kg")
    # what a killed client leaves: a staging copy the next writer finds stale
    store.db.select_graph("kg__staging_999999_dead").query("CREATE (:User {id: 'ghost'})")
    status = json.loads(kgrec(home, "db", "status", "--json").stdout)
    assert status["staging"] == ["kg__staging_999999_dead"] and status["graphs"] == ["kg"]
    before = _stats(home)
    kgrec(home, "ingest", *SYN_A)
    assert json.loads(kgrec(home, "db", "status", "--json").stdout)["staging"] == []
    assert _stats(home) == before


def test_killed_ingest_client_leaves_graph_intact(home: Path) -> None:
    """kill -9 of the ingesting command while it writes: the graph is as it was, and the next
    write removes the staging copy it left."""
    kgrec(home, "ingest", *SYN_A)
    before = _stats(home)
    info = embedded.status(home / "falkordb")
    assert info is not None
    store = FalkorDBStore.for_server(info, "kg")
    proc = _start(home, "ingest", "synthetic", "--users", "3000", "--videos", "1500",
                  "--seed", "1", "--merge")  # fmt: skip
    deadline = time.monotonic() + 240
    while not store.staging_graphs() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.kill()
    proc.communicate(timeout=60)
    assert _stats(home) == before
    store.drop_stale_staging()
    assert store.staging_graphs() == []
    assert _stats(home) == before


def test_server_is_private_and_needs_its_password(tmp_path: Path) -> None:
    data = tmp_path / "db"
    info = embedded.start(data)
    try:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for name in (embedded.PASSWORD_FILE, embedded.CONFIG_FILE, embedded.STATE_FILE):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
        assert info.password and info.password not in (data / embedded.STATE_FILE).read_text()
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().decode(errors="replace")
        assert info.password not in cmdline
        anonymous = redis.Redis(host="127.0.0.1", port=info.port, socket_timeout=5)
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
            anonymous.execute_command("GRAPH.QUERY", "g", "CREATE (:Intruder)")
        with pytest.raises(StoreError, match="password"):
            FalkorDBStore(port=info.port, graph="g", password="wrong")
        users = GraphData([NodeSet("User", pd.DataFrame({"id": ["a"]}))])
        FalkorDBStore.for_server(info, "g").load(users)
    finally:
        embedded.stop(data)
    for name in (embedded.DB_FILE, embedded.LOG_FILE):  # written by the server itself
        assert stat.S_IMODE((data / name).stat().st_mode) & 0o077 == 0, name


def test_compose_publishes_neo4j_on_loopback_with_a_password_from_the_environment() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((Path(__file__).parents[1] / "docker-compose.yml").read_text())
    neo4j = compose["services"]["neo4j"]
    assert neo4j["ports"] and all(str(p).startswith("127.0.0.1:") for p in neo4j["ports"])
    auth = neo4j["environment"]["NEO4J_AUTH"]
    assert "${NEO4J_PASSWORD:?" in auth, "no default password: compose stops when it is unset"
    password = compose["services"]["kgrec"]["environment"]["KGREC_GRAPH_PASSWORD"]
    assert password.startswith("${NEO4J_PASSWORD:?")
