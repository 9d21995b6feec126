"""Graph store: one interface over FalkorDB (embedded default) and Neo4j 5."""

from __future__ import annotations

from kg_store import dump, embedded
from kg_store.base import GraphStore, LoadReport, QueryResult
from kg_store.errors import (
    QueryError,
    ReadOnlyViolation,
    StoreError,
    StoreUnavailable,
    UnknownQuery,
)
from kg_store.export import EdgeKey, GraphExport
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kg_store.library import library_names
from kg_store.readonly import check_read_only
from kgrec.settings import Settings, get_settings


def open_store(settings: Settings | None = None, graph: str | None = None) -> GraphStore:
    """Connect to the configured backend, starting the embedded server if needed.

    ``KGREC_GRAPH_URI`` unset: the embedded FalkorDB for ``KGREC_HOME`` (started, or reused
    when already running). Set: Neo4j at that URI.
    """
    s = settings or get_settings()
    if s.graph_uri:
        from kg_store.neo4j_store import Neo4jStore

        uri, auth, database = s.neo4j_target()
        return Neo4jStore(uri, auth, database, connect_timeout=s.connect_timeout)
    from kg_store.falkordb_store import FalkorDBStore

    info = embedded.start(s.store_dir, timeout=s.startup_timeout, query_memory_mb=s.query_memory_mb)
    return FalkorDBStore.for_server(
        info, graph or s.graph, write_batch=s.write_batch, lock_timeout=s.lock_timeout
    )


def open_running(
    settings: Settings | None = None, graph: str | None = None, *, socket_timeout: float = 5.0
) -> GraphStore:
    """Like :func:`open_store`, but never starts the embedded server: a service (the API)
    looks it up on every reconnect, so a restarted server is found on its new port.

    Raises:
        StoreUnavailable: the embedded server is not running, or the backend does not answer.
    """
    s = settings or get_settings()
    if s.graph_uri:
        return open_store(s, graph)
    from kg_store.falkordb_store import FalkorDBStore

    info = embedded.status(s.store_dir)
    if info is None:
        raise StoreUnavailable(
            f"the embedded FalkorDB for {s.store_dir} is not running "
            "(start it with `kgrec db start`)"
        )
    return FalkorDBStore.for_server(info, graph or s.graph, socket_timeout=socket_timeout)


__all__ = [
    "EdgeKey",
    "GraphData",
    "GraphExport",
    "GraphStore",
    "LoadReport",
    "NodeSet",
    "QueryError",
    "QueryResult",
    "ReadOnlyViolation",
    "RelSet",
    "StoreError",
    "StoreUnavailable",
    "UnknownQuery",
    "check_read_only",
    "dump",
    "embedded",
    "library_names",
    "open_running",
    "open_store",
]
