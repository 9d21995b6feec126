"""The API's connection to the graph database: opened lazily, dropped on failure, reopened on
the next request, so the service recovers by itself when the database comes back.

The embedded FalkorDB is looked up (never started) through its ``server.json``: a restarted
server listens on a new port, and the next request finds it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kg_store import GraphStore, QueryError, StoreUnavailable, open_running
from kgrec.settings import Settings

T = TypeVar("T")

_DOWN: tuple[type[BaseException], ...] = (StoreUnavailable, ConnectionError, TimeoutError)


class GraphUnavailable(Exception):
    """The graph database cannot be reached now (the API answers 503)."""


class GraphGateway:
    """One shared store connection for every request thread.

    Args:
        settings: where the database is (``KGREC_GRAPH_URI`` or the embedded store).
        graph: graph name (default: ``settings.graph``).
        socket_timeout: seconds before a silent server counts as down (default: 5).
    """

    def __init__(
        self, settings: Settings, graph: str | None = None, socket_timeout: float = 5.0
    ) -> None:
        self.settings = settings
        self.graph = graph or settings.graph
        self.socket_timeout = socket_timeout
        self._store: GraphStore | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        if self.settings.graph_uri:
            return f"Neo4j {self.settings.neo4j_target()[0]}"
        return f"embedded FalkorDB ({self.settings.store_dir}) graph {self.graph!r}"

    def _connect(self) -> GraphStore:
        return open_running(self.settings, self.graph, socket_timeout=self.socket_timeout)

    def store(self) -> GraphStore:
        with self._lock:
            if self._store is None:
                self._store = self._connect()
            return self._store

    def reset(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            # a broken connection may fail to close; it is dropped either way
            with contextlib.suppress(Exception):
                store.close()

    def call(self, fn: Callable[[GraphStore], T]) -> T:
        """Run ``fn`` on the store; a lost connection becomes :class:`GraphUnavailable`."""
        try:
            return fn(self.store())
        except _DOWN as e:
            self.reset()
            raise GraphUnavailable(
                f"the graph database ({self.describe()}) is not reachable: {e}. "
                "Retry when it is back; the service reconnects by itself."
            ) from e
        except QueryError as e:
            if "LOADING" in str(e):  # a restarted server still reading its data
                raise GraphUnavailable(
                    f"the graph database ({self.describe()}) is loading its data; retry shortly"
                ) from e
            raise

    def ping(self) -> None:
        """Raise :class:`GraphUnavailable` unless the database answers a trivial read."""

        def probe(store: GraphStore) -> Any:
            return store.read_only("RETURN 1", max_rows=1, timeout=self.socket_timeout)

        self.call(probe)

    def close(self) -> None:
        self.reset()
