"""FalkorDB backend (native protocol through the ``falkordb`` client).

Atomic loads: FalkorDB has no multi-statement transactions, so a load writes into a staging
graph (a ``GRAPH.COPY`` of the target, or a new graph when the target is empty) and replaces
the target with one ``RENAME`` only when every batch succeeded. A failure deletes the staging
graph; the target is never touched half-way.

Fast writes: nodes are created/merged in UNWIND batches returning their internal ids, and
relationships are written between nodes found by internal id (``NodeByIdSeek``), which is
several times faster than matching endpoints through the key index.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
import pandas as pd
import redis
from falkordb import FalkorDB

from kg_store import literals
from kg_store.base import GraphStore, LoadReport, Progress, QueryResult, batches
from kg_store.errors import QueryError, StoreError, StoreUnavailable
from kg_store.graph_data import GraphData


class FalkorDBStore(GraphStore):
    dialect = "falkordb"
    backend = "FalkorDB"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        graph: str = "kg",
        *,
        write_batch: int = 20_000,
        socket_timeout: float | None = None,
    ) -> None:
        super().__init__(graph, write_batch=write_batch)
        self.host, self.port = host, port
        try:
            self.db = FalkorDB(host=host, port=port, socket_timeout=socket_timeout)
            self.db.connection.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            raise StoreUnavailable(f"FalkorDB at {host}:{port} is not reachable: {e}") from e
        self._graph = self.db.select_graph(graph)

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
            raise QueryError(f"FalkorDB refused the statement: {e}\n{text}") from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"FalkorDB connection lost: {e}") from e
        return QueryResult(_columns(res), [list(r) for r in res.result_set])

    def _execute_read(
        self, text: str, params: dict[str, Any], max_rows: int, timeout: float
    ) -> QueryResult:
        if not self.exists():
            return QueryResult([], [])
        try:
            res = self._graph.ro_query(text, params or None, timeout=int(timeout * 1000))
        except redis.ResponseError as e:
            msg = str(e)
            if "timed out" in msg.lower() or "timeout" in msg.lower():
                raise QueryError(f"query stopped after the {timeout:g} s time cap: {msg}") from e
            raise QueryError(f"FalkorDB refused the query: {msg}") from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"FalkorDB connection lost: {e}") from e
        rows = [list(r) for r in res.result_set]
        return QueryResult(_columns(res), rows[:max_rows], truncated=len(rows) > max_rows)

    def exists(self, name: str | None = None) -> bool:
        return (name or self.graph) in self.db.list_graphs()

    def clear(self) -> None:
        if self.exists():
            self._graph.delete()
        self._graph = self.db.select_graph(self.graph)

    def stats(self) -> dict[str, dict[str, int]]:
        if not self.exists():
            return {"nodes": {}, "relationships": {}}
        return super().stats()

    def save(self) -> None:
        """Persist the data directory now (the server also saves on stop and periodically)."""
        with contextlib.suppress(redis.ResponseError):  # a background save already running
            self.db.connection.execute_command("SAVE")

    # -- loading ----------------------------------------------------------------------------
    def load(self, data: GraphData, progress: Progress | None = None) -> LoadReport:
        t0 = time.perf_counter()
        data = data.merged()
        staging_name = f"{self.graph}__staging"
        if self.exists(staging_name):
            self.db.select_graph(staging_name).delete()
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
        self.save()
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
