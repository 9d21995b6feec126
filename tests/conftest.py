"""Shared fixtures: one embedded FalkorDB server per test session, a fresh graph per test, and
the ``store`` fixture that runs contract tests against every reachable backend."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg_store import GraphStore, embedded
from kg_store.falkordb_store import FalkorDBStore
from tests.dataset_files import write_all


def _fixture_tree() -> Path:
    """``tests/fixtures`` plus the dataset-layout files :mod:`tests.dataset_files` writes (kept
    out of the repository), in a temporary folder removed when the session ends."""
    root = Path(tempfile.mkdtemp(prefix="kgrec-fixtures-")) / "fixtures"
    shutil.copytree(Path(__file__).parent / "fixtures", root)
    write_all(root)
    atexit.register(shutil.rmtree, root.parent, True)
    return root


FIXTURES = _fixture_tree()
_graph_names = itertools.count()


@pytest.fixture(scope="session")
def falkordb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.ServerInfo]:
    data_dir = tmp_path_factory.mktemp("falkordb")
    info = embedded.start(data_dir)
    yield info
    embedded.stop(data_dir)


@pytest.fixture
def falkordb_store(falkordb_server: embedded.ServerInfo) -> Iterator[FalkorDBStore]:
    """A FalkorDB store on an empty graph of its own."""
    store = FalkorDBStore.for_server(falkordb_server, f"test{next(_graph_names)}")
    yield store
    store.clear()
    store.close()


def _docker_reason() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        import docker

        docker.from_env().ping()
    except Exception as e:  # any failure means: no engine to run Neo4j in
        return f"no Docker engine answers ({type(e).__name__}: {str(e)[:80]})"
    return None


@pytest.fixture(scope="session")
def neo4j_uri() -> Iterator[tuple[str, tuple[str, str]]]:
    """A Neo4j 5 server: KGREC_TEST_NEO4J_URI if set, else a testcontainers container."""
    given = os.environ.get("KGREC_TEST_NEO4J_URI")
    if given:
        yield (
            given,
            (
                os.environ.get("KGREC_TEST_NEO4J_USER", "neo4j"),
                os.environ.get("KGREC_TEST_NEO4J_PASSWORD", "password"),
            ),
        )
        return
    reason = _docker_reason()
    if reason:
        pytest.skip(f"Neo4j contract tests skipped: {reason}")
    from testcontainers.neo4j import Neo4jContainer

    with Neo4jContainer("neo4j:5") as container:
        yield container.get_connection_url(), ("neo4j", container.password)


@pytest.fixture(params=["falkordb", "neo4j"])
def store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    """Contract fixture: the same test body against every reachable backend."""
    if request.param == "falkordb":
        yield request.getfixturevalue("falkordb_store")
        return
    from kg_store.neo4j_store import Neo4jStore

    uri, auth = request.getfixturevalue("neo4j_uri")
    s = Neo4jStore(uri, auth, "neo4j")
    s.clear()
    yield s
    s.clear()
    s.close()
