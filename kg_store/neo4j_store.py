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
from typing import Any, Literal

from kg_store.base import GraphStore, LoadReport, Progress, QueryResult, batches, prop_rows
from kg_store.errors import QueryError, ReadOnlyViolation, StoreUnavailable, quote
from kg_store.graph_data import GraphData
from kg_store.readonly import cap_rows, explain_refusal, write_clause


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
        notifications_min_severity: Literal["OFF", "WARNING", "INFORMATION"] = "OFF",
    ) -> None:
        """Connect and check that ``database`` answers.

        ``notifications_min_severity`` (``"OFF"``, ``"WARNING"`` or ``"INFORMATION"``): the
        server's notifications (GQL status objects: deprecations, hints, "label not in the
        database", ...) that the driver asks for and then logs on the ``neo4j.notifications``
        logger. Off by default: the store's own statements are kept free of deprecated
        features by the tests (which turn them on), and nothing is printed for them.
        """
        import neo4j
        from neo4j.exceptions import AuthError, ClientError, ServiceUnavailable

        super().__init__(database, write_batch=write_batch)
        self.uri, self.database = uri, database
        self._neo4j = neo4j
        try:
            self.driver = neo4j.GraphDatabase.driver(
                uri, auth=auth, connection_timeout=connect_timeout,
                max_transaction_retry_time=15.0,
                notifications_min_severity=notifications_min_severity,
                # never turn notifications into Python warnings (the driver does in debug mode)
                warn_notification_severity="OFF",
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
            raise QueryError(
                f"Neo4j refused the statement: {quote(str(e.message))}\n{quote(text)}"
            ) from e
        return QueryResult(list(keys), [list(r.values()) for r in records])

    def _execute_read(
        self, text: str, params: dict[str, Any], max_rows: int, timeout: float
    ) -> QueryResult:
        from neo4j.exceptions import Neo4jError, ServiceUnavailable

        neo4j = self._neo4j
        # the server stops after max_rows + 1 rows: a LIMIT where the statement allows one,
        # and records pulled in batches no larger than that (the rest is never produced:
        # the transaction ends as soon as the cap is reached)
        capped, _ = cap_rows(text, max_rows + 1, wrap=False)

        def work(tx: Any) -> QueryResult:
            result = tx.run(capped, params)
            rows: list[list[Any]] = []
            for rec in result:
                if len(rows) == max_rows:
                    return QueryResult(list(result.keys()), rows, truncated=True)
                rows.append(list(rec.values()))
            return QueryResult(list(result.keys()), rows)

        try:
            with self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS,
                fetch_size=max(1, min(max_rows + 1, 1000)),
            ) as session:  # fmt: skip
                return session.execute_read(neo4j.unit_of_work(timeout=timeout)(work))
        except ServiceUnavailable as e:
            raise StoreUnavailable(f"Neo4j connection lost: {e}") from e
        except Neo4jError as e:
            code = str(e.code or "")
            if "AccessMode" in code or "ForbiddenDueToTransactionType" in code:
                raise ReadOnlyViolation(explain_refusal(text)) from e
            if "TransactionTimedOut" in code or "Timeout" in code:
                raise QueryError(
                    f"query stopped after the {timeout:g} s time cap: {quote(str(e.message))}"
                ) from e
            if "MemoryPoolOutOfMemory" in code or "OutOfMemory" in code:
                raise QueryError(
                    f"query stopped: it needed more memory than the server allows a "
                    f"transaction (dbms.memory.transaction.max): {quote(str(e.message))}"
                ) from e
            if "SyntaxError" in code and write_clause(text):
                raise ReadOnlyViolation(
                    f"{explain_refusal(text)} ({quote(str(e.message), 200)})"
                ) from e
            raise QueryError(f"Neo4j refused the query: {quote(str(e.message))}") from e

    def clear(self) -> None:
        while self.run("store/delete_batch", {"limit": 10_000}).scalar():
            pass

    def _load(self, data: GraphData, progress: Progress | None = None) -> LoadReport:
        """Write ``data`` as Neo4j recommends for bulk writes: the uniqueness constraint on
        every label's key first, then UNWIND batches of ``write_batch`` rows per managed
        transaction, the rows a plain list parameter (the statement text is the same for every
        batch, so it is planned once). Nodes are merged on their constrained key; relationships
        are written between endpoints found through that key's index. Into an empty database
        (``fresh``) nodes and relationships are CREATEd, which skips MERGE's existence checks
        (``data`` is deduplicated first); otherwise both are MERGEd, and a re-run converges.
        Relationship endpoints that are neither in ``data`` nor in the graph are refused before
        anything is written."""
        t0 = time.perf_counter()
        data = data.merged()
        labels = sorted(
            {n.label for n in data.nodes}
            | {r.src_label for r in data.rels}
            | {r.dst_label for r in data.rels}
        )
        for label in labels:
            self.run("store/schema_node", label=label)
        fresh = not int(self.run("store/node_count").scalar() or 0)
        report = LoadReport(mode="create" if fresh else "merge")
        self._check_endpoints(data, fresh)
        total, done = data.node_count() + data.rel_count(), 0
        t_nodes = time.perf_counter()
        node_stmt = self.statement("store/create_nodes" if fresh else "store/merge_nodes")
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
        report.node_seconds = time.perf_counter() - t_nodes
        t_rels = time.perf_counter()
        rel_stmt = self.statement("store/create_rels" if fresh else "store/merge_rels")
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
        report.rel_seconds = time.perf_counter() - t_rels
        report.seconds = time.perf_counter() - t0
        return report

    def _check_endpoints(self, data: GraphData, fresh: bool) -> None:
        """Raise before any write when relationships name nodes neither loaded nor stored (the
        key MATCH of the relationship statements would skip them silently)."""
        from kg_store.errors import StoreError

        loaded = {ns.label: set(ns.frame["id"].tolist()) for ns in data.nodes}
        for rs in data.rels:
            for label, col in ((rs.src_label, "src"), (rs.dst_label, "dst")):
                missing = sorted(set(rs.frame[col].unique().tolist()) - loaded.get(label, set()))
                if missing and not fresh:
                    text = self.statement("store/node_ids").render(label=label)
                    found: set[str] = set()
                    for sl in batches(len(missing), self.write_batch):
                        res = self._execute(text, {"keys": missing[sl]})
                        found.update(str(r[0]) for r in res.rows)
                    missing = [k for k in missing if k not in found]
                if missing:
                    raise StoreError(
                        f"{rs.type} relationships point to {len(missing)} :{label} node(s) "
                        f"that are neither loaded nor in the graph, e.g. {missing[:3]}"
                    )
                # found nodes count as loaded for the next relationship set of this label
                loaded.setdefault(label, set()).update(rs.frame[col].unique().tolist())


__all__ = ["Neo4jStore", "QueryError"]
