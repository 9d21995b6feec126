"""FalkorDB backend (native protocol through the ``falkordb`` client).

Atomic loads: FalkorDB has no multi-statement transactions, so a load writes into a staging
graph of its own (a ``GRAPH.COPY`` of the target, or a new graph when the target is empty,
named ``<graph>__staging_<pid>_<random>``) and replaces the target with one ``RENAME`` only
when every batch succeeded. A failure deletes the staging graph; the target is never touched
half-way.

Writers are serialised: every write (load, embedding write-back, relationship replacement,
clear) holds an exclusive ``flock`` on ``<data dir>/locks/<graph>.lock``, which the kernel
releases when its holder dies, so a crashed writer never blocks the next one. Under that lock
any staging graph left by an interrupted load is stale and is deleted. A write reports success
only after ``SAVE`` has put it on disk.
Fast writes: UNWIND batches of nodes return their internal ids, and relationships are written
between nodes found by id (``NodeByIdSeek``, several times faster than the key index).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from falkordb import FalkorDB

from kg_store import literals
from kg_store.base import GraphStore, LoadReport, Progress, QueryResult, batches
from kg_store.errors import QueryError, ReadOnlyViolation, StoreError, StoreUnavailable, quote
from kg_store.graph_data import GraphData
from kg_store.readonly import cap_rows, explain_refusal, write_clause

log = logging.getLogger(__name__)
STAGING = "__staging"
_RO_REFUSAL = "to be executed only on read-only queries"


class FalkorDBStore(GraphStore):
    dialect = "falkordb"
    backend = "FalkorDB"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        graph: str = "kg",
        *,
        password: str | None = None,
        write_batch: int = 20_000,
        socket_timeout: float | None = None,
        lock_dir: Path | None = None,
        lock_timeout: float = 3600.0,
    ) -> None:
        super().__init__(graph, write_batch=write_batch)
        self.host, self.port = host, port
        try:
            self.db = FalkorDB(
                host=host, port=port, password=password, socket_timeout=socket_timeout
            )
            self.db.connection.ping()
        except redis.AuthenticationError as e:
            raise StoreUnavailable(
                f"FalkorDB at {host}:{port} refused the password: {e} (the embedded server "
                "reads it from the 'password' file of its data directory)"
            ) from e
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            raise StoreUnavailable(f"FalkorDB at {host}:{port} is not reachable: {e}") from e
        self._graph = self.db.select_graph(graph)
        self._lock_dir = lock_dir or self._default_lock_dir()
        self.lock_timeout = lock_timeout
        self._lock_fh: Any = None
        self._lock_depth = 0

    @classmethod
    def for_server(cls, info: Any, graph: str = "kg", **kwargs: Any) -> FalkorDBStore:
        """A store on the embedded server ``info`` (an :class:`embedded.ServerInfo`)."""
        return cls(
            port=info.port, graph=graph, password=info.password,
            lock_dir=Path(info.data_dir) / "locks", **kwargs,
        )  # fmt: skip

    def _default_lock_dir(self) -> Path:
        """``<server data dir>/locks`` when this machine can write there, else a folder of the
        temporary directory keyed by host and port (writers on this machine still meet)."""
        with contextlib.suppress(redis.ResponseError, redis.ConnectionError, OSError):
            served = self.db.connection.config_get("dir").get("dir")
            if served and os.access(served, os.W_OK):
                return Path(served) / "locks"
        return Path(tempfile.gettempdir()) / f"kgrec-locks-{self.host}-{self.port}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.connection.close()

    def describe(self) -> str:
        return f"FalkorDB {self.host}:{self.port} graph {self.graph!r}"

    # -- primitives -------------------------------------------------------------------------
    def _execute(self, text: str, params: dict[str, Any] | None = None) -> QueryResult:
        return self._on(self._graph, text, params)

    @staticmethod
    def _on(graph: Any, text: str, params: dict[str, Any] | None) -> QueryResult:
        try:
            res = graph.query(text, params or None)
        except redis.ResponseError as e:
            raise QueryError(
                f"FalkorDB refused the statement: {quote(str(e))}\n{quote(text)}"
            ) from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"FalkorDB connection lost: {e}") from e
        return QueryResult(_columns(res), [list(r) for r in res.result_set])

    def _execute_read(
        self, text: str, params: dict[str, Any], max_rows: int, timeout: float
    ) -> QueryResult:
        """``GRAPH.RO_QUERY`` with the row cap applied by the server (the statement is
        rewritten to stop after ``max_rows + 1`` rows, see :func:`readonly.cap_rows`), the
        time cap as the query's timeout and the server's per-query memory cap."""
        if not self.exists():
            return QueryResult([], [])
        capped, order = cap_rows(text, max_rows + 1, wrap=True)
        try:
            res = self._graph.ro_query(capped, params or None, timeout=int(timeout * 1000))
        except redis.ResponseError as e:
            msg = str(e)
            if _RO_REFUSAL in msg:
                raise ReadOnlyViolation(explain_refusal(text)) from e
            if "timed out" in msg.lower() or "timeout" in msg.lower():
                raise QueryError(f"query stopped after the {timeout:g} s time cap: {msg}") from e
            if "mem consumption exceeded" in msg.lower():
                raise QueryError(
                    f"query stopped: it needed more memory than the server's per-query cap "
                    f"(KGREC_QUERY_MEMORY_MB): {msg}"
                ) from e
            if write_clause(text):  # a write the parser could not even read: still a write
                raise ReadOnlyViolation(f"{explain_refusal(text)} ({quote(msg, 200)})") from e
            raise QueryError(f"FalkorDB refused the query: {quote(msg)}") from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"FalkorDB connection lost: {e}") from e
        columns = _columns(res)
        rows = [list(r) for r in res.result_set]
        if order and sorted(order) == sorted(columns) and len(set(order)) == len(order):
            pos = [columns.index(c) for c in order]
            columns = list(order)
            rows = [[r[i] for i in pos] for r in rows]
        return QueryResult(columns, rows[:max_rows], truncated=len(rows) > max_rows)

    def exists(self, name: str | None = None) -> bool:
        return (name or self.graph) in self.graphs()

    def graphs(self) -> list[str]:
        """Every graph on this server (the client's errors translated into ours)."""
        try:
            return list(self.db.list_graphs())
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            raise StoreUnavailable(f"FalkorDB connection lost: {e}") from e

    def clear(self) -> None:
        with self.writing():
            if self.exists():
                self._graph.delete()
            self._graph = self.db.select_graph(self.graph)

    def stats(self) -> dict[str, dict[str, int]]:
        if not self.exists():
            return {"nodes": {}, "relationships": {}}
        return super().stats()

    def datasets(self) -> list[str]:
        return super().datasets() if self.exists() else []

    def save(self, timeout: float = 600.0) -> None:
        """Put the data set on disk now, waiting out a background save that is running (its
        snapshot may predate the last write). Raises :class:`StoreError` if it cannot."""
        conn = self.db.connection
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn.execute_command("SAVE")
                return
            except redis.ResponseError as e:
                if "in progress" not in str(e).lower() or time.monotonic() > deadline:
                    raise StoreError(f"FalkorDB could not save the graph to disk: {e}") from e
                time.sleep(0.05)
            except (redis.ConnectionError, redis.TimeoutError) as e:
                raise StoreUnavailable(f"FalkorDB connection lost while saving: {e}") from e

    # -- writers ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this graph's writer lock (re-entrant); on success, save before returning."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self._acquire()
        self._lock_depth = 1
        try:
            self._drop_stale_staging()
            yield
            self.save()
        finally:
            self._lock_depth = 0
            self._release()

    def lock_path(self) -> Path:
        return self._lock_dir / f"{self.graph}.lock"

    def _acquire(self) -> None:
        path = self.lock_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(path, "a+")  # noqa: SIM115 - held until _release
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            log.warning("waiting for %s, which is writing to graph %r", holder, self.graph)
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        fh.close()
                        raise StoreError(
                            f"graph {self.graph!r} is still being written by {holder} after "
                            f"{self.lock_timeout:g} s (lock {path}); try again when it is done"
                        ) from None
                    time.sleep(0.05)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._lock_fh = fh

    def _release(self) -> None:
        fh, self._lock_fh = self._lock_fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def staging_graphs(self, every: bool = False) -> list[str]:
        """Staging graphs of this graph, or of ``every`` graph on the server (a load in
        progress, or left by an interrupted one)."""
        prefix = f"{self.graph}{STAGING}"
        return sorted(
            g for g in self.graphs()
            if (STAGING in g if every else g == prefix or g.startswith(prefix + "_"))
        )  # fmt: skip

    def _drop_stale_staging(self) -> list[str]:
        """Delete staging graphs: under the writer lock no load is running, so they are stale."""
        stale = self.staging_graphs()
        for name in stale:
            with contextlib.suppress(redis.ResponseError):
                self.db.select_graph(name).delete()
        return stale

    def drop_stale_staging(self) -> list[str]:
        """Delete staging graphs left by interrupted loads (waits for a running writer)."""
        with self.writing():
            return self._drop_stale_staging()

    # -- loading ----------------------------------------------------------------------------
    def _load(self, data: GraphData, progress: Progress | None = None) -> LoadReport:
        t0 = time.perf_counter()
        data = data.merged()
        staging_name = f"{self.graph}{STAGING}_{os.getpid()}_{secrets.token_hex(4)}"
        fresh = not self.exists() or not any(self.stats()["nodes"].values())
        if fresh:
            staging = self.db.select_graph(staging_name)
        else:
            staging = self._graph.copy(staging_name)
        report = LoadReport(mode="create" if fresh else "merge")
        try:
            self._write(staging, data, fresh, report, progress)
            conn = self.db.connection
            conn.execute_command("RENAME", staging_name, self.graph)
        except BaseException:
            with contextlib.suppress(Exception):
                if self.exists(staging_name):
                    self.db.select_graph(staging_name).delete()
            raise
        self._graph = self.db.select_graph(self.graph)
        report.seconds = time.perf_counter() - t0
        return report

    def _write(
        self,
        g: Any,
        data: GraphData,
        fresh: bool,
        report: LoadReport,
        progress: Progress | None,
    ) -> None:
        labels = sorted(
            {n.label for n in data.nodes}
            | {r.src_label for r in data.rels}
            | {r.dst_label for r in data.rels}
        )
        for label in labels:
            try:
                g.query(self.statement("store/schema_node").render(label=label))
            except redis.ResponseError as e:
                if "already indexed" not in str(e):
                    raise QueryError(f"schema for :{label} failed: {e}") from e
        total = data.node_count() + data.rel_count()
        done = 0
        nid: dict[str, pd.Series] = {}
        t_nodes = time.perf_counter()
        node_stmt = self.statement("store/create_nodes" if fresh else "store/merge_nodes")
        for ns in data.nodes:
            text = node_stmt.render(label=ns.label)
            keys = ns.frame["id"].tolist()
            key_lits = [literals.quote(str(k)) for k in keys]
            props = literals.maps(ns.frame, [c for c in ns.frame.columns if c != "id"])
            got_k: list[str] = []
            got_v: list[int] = []
            for sl in batches(len(keys), self.write_batch):
                res = self._with_rows(g, text, literals.rows(key_lits[sl], props[sl]))
                got_k.extend(r[0] for r in res.rows)
                got_v.extend(int(r[1]) for r in res.rows)
                done += sl.stop - sl.start
                if progress:
                    progress("nodes", done, total)
            nid[ns.label] = pd.Series(got_v, index=got_k, dtype=np.int64)
            report.per_label[ns.label] = len(keys)
            report.nodes += len(keys)
        report.node_seconds = time.perf_counter() - t_nodes
        t_rels = time.perf_counter()
        rel_stmt = self.statement("store/create_rels" if fresh else "store/merge_rels")
        for rs in data.rels:
            src = self._ids(g, nid, rs.src_label, rs.frame["src"], rs.type)
            dst = self._ids(g, nid, rs.dst_label, rs.frame["dst"], rs.type)
            src_lits, dst_lits = src.astype(str).tolist(), dst.astype(str).tolist()
            props = literals.maps(
                rs.frame, [c for c in rs.frame.columns if c not in ("src", "dst")]
            )
            text = rel_stmt.render(type=rs.type, src=rs.src_label, dst=rs.dst_label)
            for sl in batches(len(src), self.write_batch):
                self._with_rows(g, text, literals.rows(src_lits[sl], dst_lits[sl], props[sl]))
                done += sl.stop - sl.start
                if progress:
                    progress("relationships", done, total)
            report.per_type[rs.type] = report.per_type.get(rs.type, 0) + len(src)
            report.relationships += len(src)
        report.rel_seconds = time.perf_counter() - t_rels

    def _with_rows(self, g: Any, text: str, rows_literal: str) -> QueryResult:
        """Run ``text`` with ``$rows`` given as an already encoded literal."""
        return self._on(g, f"CYPHER rows={rows_literal} {text}", None)

    def _ids(
        self, g: Any, nid: dict[str, pd.Series], label: str, keys: pd.Series, rel: str
    ) -> np.ndarray:
        """Internal ids of relationship endpoints; looks up nodes not in this load."""
        known = nid.get(label, pd.Series(dtype=np.int64))
        missing = pd.Index(keys.unique()).difference(known.index)
        if len(missing):
            text = self.statement("store/node_ids").render(label=label)
            found: dict[str, int] = {}
            for sl in batches(len(missing), self.write_batch):
                res = self._on(g, text, {"keys": missing[sl].tolist()})
                found.update((str(r[0]), int(r[1])) for r in res.rows)
            absent = [k for k in missing if k not in found]
            if absent:
                raise StoreError(
                    f"{rel} relationships point to {len(absent)} :{label} node(s) that are "
                    f"neither loaded nor in the graph, e.g. {absent[:3]}"
                )
            known = pd.concat([known, pd.Series(found, dtype=np.int64)])
            nid[label] = known
        return known.reindex(keys.to_numpy()).to_numpy(np.int64)


def _columns(res: Any) -> list[str]:
    header = getattr(res, "header", None) or []
    out = []
    for h in header:
        name = h[1] if isinstance(h, list | tuple) and len(h) > 1 else h
        out.append(name.decode() if isinstance(name, bytes) else str(name))
    return out
