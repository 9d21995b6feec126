"""Neo4j 5 backend through the official driver.

Managed transactions with retry (``execute_query``), the database always named, READ routing
and a READ session for analysts' queries, connectivity verified with a short timeout.

Loads: every file is parsed and validated before the first write; the write itself is
idempotent UNWIND batches of MERGE, each a managed transaction. A batch that fails after
retries leaves earlier batches written, and re-running the same ingest converges to the same
graph (MERGE on keys; one relationship per source, target and type).
"""

from __future__ import annotations

import time
from typing import Any

from kg_store.base import GraphStore, LoadReport, Progress, QueryResult, batches, prop_rows
from kg_store.errors import QueryError, StoreUnavailable
from kg_store.graph_data import GraphData


class Neo4jStore(GraphStore):
    dialect = "neo4j"
    backend = "Neo4j"

    def __init__(
        self,
        uri: str,
        auth: tuple[str, str] | None,
        database: str = "neo4j",
        *,
        write_batch: int = 10_000,
        connect_timeout: float = 5.0,
    ) -> None:
        import neo4j
        from neo4j.exceptions import AuthError, ClientError, ServiceUnavailable

        super().__init__(database, write_batch=write_batch)
        self.uri, self.database = uri, database
        self._neo4j = neo4j
        try:
            self.driver = neo4j.GraphDatabase.driver(
                uri, auth=auth, connection_timeout=connect_timeout,
                max_transaction_retry_time=15.0,
            )  # fmt: skip
            self.driver.verify_connectivity()
            # the named database must exist too, not only the server
            self.driver.execute_query("RETURN 1", database_=database)
        except (ServiceUnavailable, AuthError, ClientError, OSError, ValueError) as e:
            raise StoreUnavailable(
                f"Neo4j at {uri} (database {database!r}) is not reachable within "
                f"{connect_timeout:g} s: {e}"
            ) from e

    def describe(self) -> str:
        return f"Neo4j {self.uri} database {self.database!r}"

    def close(self) -> None:
        self.driver.close()

    def _execute(self, text: str, params: dict[str, Any] | None = None) -> QueryResult:
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        try:
            records, _, keys = self.driver.execute_query(
                text, params or {}, database_=self.database,
                routing_=self._neo4j.RoutingControl.WRITE,
            )  # fmt: skip
        except ServiceUnavailable as e:
            raise StoreUnavailable(f"Neo4j connection lost: {e}") from e
        except Neo4jError as e:
            raise QueryError(f"Neo4j refused the statement: {e.message}\n{text}") from e
        return QueryResult(list(keys), [list(r.values()) for r in records])

    def _execute_read(
        self, text: str, params: dict[str, Any], max_rows: int, timeout: float
    ) -> QueryResult:
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        neo4j = self._neo4j

        def work(tx: Any) -> QueryResult:
            result = tx.run(text, params)
            rows: list[list[Any]] = []
            for rec in result:
                if len(rows) == max_rows:
                    return QueryResult(list(result.keys()), rows, truncated=True)
                rows.append(list(rec.values()))
            return QueryResult(list(result.keys()), rows)

        try:
            with self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                return session.execute_read(neo4j.unit_of_work(timeout=timeout)(work))
        except ServiceUnavailable as e:
            raise StoreUnavailable(f"Neo4j connection lost: {e}") from e
        except Neo4jError as e:
            raise QueryError(f"Neo4j refused the query: {e.message}") from e

    def clear(self) -> None:
        while self.run("store/delete_batch", {"limit": 10_000}).scalar():
            pass

    def load(self, data: GraphData, progress: Progress | None = None) -> LoadReport:
        t0 = time.perf_counter()
        data = data.merged()
        report = LoadReport(mode="merge")
        labels = sorted(
            {n.label for n in data.nodes}
            | {r.src_label for r in data.rels}
            | {r.dst_label for r in data.rels}
        )
        for label in labels:
            self.run("store/schema_node", label=label)
        total, done = data.node_count() + data.rel_count(), 0
        node_stmt = self.statement("store/merge_nodes")
        for ns in data.nodes:
            text = node_stmt.render(label=ns.label)
            keys = ns.frame["id"].tolist()
            props = prop_rows(ns.frame, [c for c in ns.frame.columns if c != "id"])
            for sl in batches(len(keys), self.write_batch):
                rows = [[k, p] for k, p in zip(keys[sl], props[sl], strict=True)]
                self._execute(text, {"rows": rows})
                done += sl.stop - sl.start
                if progress:
                    progress("nodes", done, total)
            report.per_label[ns.label] = len(keys)
            report.nodes += len(keys)
        rel_stmt = self.statement("store/merge_rels")
        for rs in data.rels:
            text = rel_stmt.render(type=rs.type, src=rs.src_label, dst=rs.dst_label)
            src, dst = rs.frame["src"].tolist(), rs.frame["dst"].tolist()
            props = prop_rows(rs.frame, [c for c in rs.frame.columns if c not in ("src", "dst")])
            for sl in batches(len(src), self.write_batch):
                rows = [[a, b, p] for a, b, p in zip(src[sl], dst[sl], props[sl], strict=True)]
                self._execute(text, {"rows": rows})
                done += sl.stop - sl.start
                if progress:
                    progress("relationships", done, total)
            report.per_type[rs.type] = report.per_type.get(rs.type, 0) + len(src)
            report.relationships += len(src)
        report.seconds = time.perf_counter() - t0
        return report


__all__ = ["Neo4jStore", "QueryError"]
