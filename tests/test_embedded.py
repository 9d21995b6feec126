"""The embedded FalkorDB server's life cycle, and Neo4j's unreachable-server error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kg_store import StoreUnavailable, embedded
from kg_store.falkordb_store import FalkorDBStore


def test_start_reuse_persist_stop(tmp_path: Path) -> None:
    data = tmp_path / "db"
    first = embedded.start(data)
    try:
        again = embedded.start(data)  # a second command reuses the running server
        assert (again.pid, again.port) == (first.pid, first.port)
        assert embedded.status(data) == first
        store = FalkorDBStore.for_server(first, "g")
        store._execute("CREATE (:User {id: 'persisted'})")
    finally:
        assert embedded.stop(data) is True
    assert embedded.status(data) is None
    assert embedded.stop(data) is False
    restarted = embedded.start(data)  # the data directory survives a restart
    try:
        store = FalkorDBStore.for_server(restarted, "g")
        assert store.read_only("MATCH (u:User) RETURN u.id").rows == [["persisted"]]
    finally:
        embedded.stop(data)


def test_stale_state_file_is_replaced(tmp_path: Path) -> None:
    data = tmp_path / "db"
    data.mkdir()
    (data / embedded.STATE_FILE).write_text('{"pid": 999999, "port": 1, "data_dir": "x"}')
    info = embedded.start(data)
    try:
        assert info.port != 1 and embedded.status(data) == info
    finally:
        embedded.stop(data)


def test_start_timeout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="did not answer .* within 0 s"):
        embedded.start(tmp_path / "db", timeout=0.0)


def test_unreachable_falkordb_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match="not reachable"):
        FalkorDBStore(port=1)


def test_unreachable_neo4j_fails_fast_with_a_clear_error() -> None:
    from kg_store.neo4j_store import Neo4jStore

    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"Neo4j at bolt://127\.0\.0\.1:1 .*not reachable"):
        Neo4jStore("bolt://127.0.0.1:1", ("neo4j", "x"), "neo4j", connect_timeout=1.0)
    assert time.monotonic() - t0 < 20
