"""One interface over the graph backends: named Cypher, read-only runner, load, stats, export."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from kg_store import library
from kg_store.errors import StoreError
from kg_store.export import GraphExport, id_array, remap
from kg_store.graph_data import GraphData, NodeSet
from kg_store.readonly import check_read_only

DATASET_LABEL = "KgrecDataset"
"""Label of the one node per dataset loaded into a graph (its name, when, how much): the
store's own bookkeeping, left out of stats, labels and exports."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while loading."""


@dataclass
class QueryResult:
    """Rows of a query, with the cap that was applied."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    elapsed_s: float = 0.0

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=False)) for r in self.rows]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


@dataclass
class LoadReport:
    nodes: int = 0
    relationships: int = 0
    seconds: float = 0.0
    node_seconds: float = 0.0  # time spent writing nodes (the rest: schema, relationships, swap)
    rel_seconds: float = 0.0  # time spent writing relationships
    mode: str = ""
    per_label: dict[str, int] = field(default_factory=dict)
    per_type: dict[str, int] = field(default_factory=dict)


def prop_rows(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Property maps for each row, leaving out missing values (a graph stores no nulls)."""
    if not columns:
        return [{} for _ in range(len(frame))]
    values: list[list[Any]] = []
    masks: list[list[bool] | None] = []
    for c in columns:
        col = frame[c]
        missing = col.isna()
        masks.append(missing.tolist() if bool(missing.any()) else None)
        if col.dtype == object:
            values.append([v.tolist() if isinstance(v, np.ndarray) else v for v in col])
        else:
            values.append(col.astype(object).tolist() if masks[-1] else col.tolist())
    if all(m is None for m in masks):
        return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
    out = []
    for i, row in enumerate(zip(*values, strict=True)):
        out.append(
            {k: v for k, v, m in zip(columns, row, masks, strict=True) if m is None or not m[i]}
        )
    return out


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class GraphStore(ABC):
    """A graph database holding the knowledge graph.

    Backends implement the primitives (``_execute``, ``_execute_read``, ``load``, ``clear``);
    everything expressed in Cypher lives here once, run through named statements.
    """

    dialect: str = ""
    backend: str = ""

    def __init__(self, graph: str, *, write_batch: int = 20_000) -> None:
        self.graph = graph
        self.write_batch = write_batch

    # -- primitives -------------------------------------------------------------------------
    @abstractmethod
    def _execute(self, text: str, params: dict[str, Any] | None = None) -> QueryResult:
        """Run a statement that may write; raise :class:`QueryError` on failure."""

    @abstractmethod
    def _execute_read(
        self, text: str, params: dict[str, Any], max_rows: int, timeout: float
    ) -> QueryResult:
        """Run through the backend's read-only path with a row and time cap."""

    def load(
        self, data: GraphData, progress: Progress | None = None, *, merge: bool = False
    ) -> LoadReport:
        """Upsert ``data``; a failure leaves the graph as it was (see the backend).

        When ``data.dataset`` names its source, the graph records it (a ``KgrecDataset``
        node), and loading another dataset into a graph that holds one is refused unless
        ``merge``: nodes with the same label and id would silently become one.
        """
        with self.writing():
            if data.dataset:
                self._check_dataset(data.dataset, merge)
                data = self._with_record(data)
            return self._load(data, progress)

    @abstractmethod
    def _load(self, data: GraphData, progress: Progress | None = None) -> LoadReport:
        """The backend's upsert of ``data``."""

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the graph's writer lock for a block of writes and make them durable before
        it ends. Neo4j serialises and persists transactions itself: nothing to do."""
        yield

    def datasets(self) -> list[str]:
        """Names of the datasets loaded into this graph."""
        rows = self.run("store/datasets", label=DATASET_LABEL).rows
        return sorted(str(r[0]) for r in rows)

    def _check_dataset(self, name: str, merge: bool) -> None:
        if merge:
            return
        held = self.datasets()
        if held and name not in held:
            raise StoreError(
                f"graph {self.graph!r} already holds dataset {', '.join(held)}; loading "
                f"{name} into it would merge nodes with the same label and id across the two "
                "datasets. Load it into a graph of its own (--graph NAME), or pass --merge to "
                "merge them on purpose."
            )
        if not held and any(self.stats()["nodes"].values()):
            raise StoreError(
                f"graph {self.graph!r} holds data whose dataset was not recorded (loaded by an "
                f"earlier version or from Python); loading {name} into it would merge nodes "
                "with the same label and id. Load it into a graph of its own (--graph NAME), "
                "or pass --merge to merge them on purpose."
            )

    @staticmethod
    def _with_record(data: GraphData) -> GraphData:
        record = pd.DataFrame(
            {
                "id": [data.dataset],
                "loaded_at": [datetime.now(UTC).isoformat(timespec="seconds")],
                "nodes": [data.node_count()],
                "relationships": [data.rel_count()],
            }
        )
        return GraphData(
            [*data.nodes, NodeSet(DATASET_LABEL, record)], list(data.rels), dataset=data.dataset
        )

    @abstractmethod
    def clear(self) -> None:
        """Delete every node and relationship of this graph."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.backend} graph {self.graph!r}"

    # -- named statements -------------------------------------------------------------------
    def statement(self, name: str) -> library.Statement:
        return library.load(name, self.dialect)

    def run(self, name: str, params: dict[str, Any] | None = None, **slots: str) -> QueryResult:
        """Run a library statement (may write); ``slots`` fill checked label/type slots."""
        st = self.statement(name)
        return self._execute(st.render(**slots), st.bind(params or {}))

    def query(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        max_rows: int = 1000,
        timeout: float = 30.0,
        slots: dict[str, str] | None = None,
    ) -> QueryResult:
        """Run one of the analysts' library queries, read-only and capped; ``slots`` fill its
        ``{{label}}``-style slots with checked identifiers (a dataset spec's labels)."""
        st = self.statement(name)
        text = st.render(**(slots or {}))
        check_read_only(text)
        return self._timed_read(text, st.bind(params or {}), max_rows, timeout)

    def read_only(
        self,
        text: str,
        params: dict[str, Any] | None = None,
        *,
        max_rows: int = 1000,
        timeout: float = 30.0,
    ) -> QueryResult:
        """Run an analyst's own statement: refused if it could write, capped in rows and time."""
        check_read_only(text)
        return self._timed_read(text, params or {}, max_rows, timeout)

    def _timed_read(
        self, text: str, params: dict[str, Any], max_rows: int, timeout: float
    ) -> QueryResult:
        t0 = time.perf_counter()
        res = self._execute_read(text, params, max_rows, timeout)
        res.elapsed_s = time.perf_counter() - t0
        return res

    # -- graph-wide operations --------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, int]]:
        """``{"nodes": {label: count}, "relationships": {type: count}}``."""
        nodes = {
            str(k): int(v)
            for k, v in self.run("store/label_counts").rows
            if k is not None and k != DATASET_LABEL
        }
        rels = {str(k): int(v) for k, v in self.run("store/type_counts").rows}
        return {"nodes": dict(sorted(nodes.items())), "relationships": dict(sorted(rels.items()))}

    def labels(self) -> list[str]:
        return sorted(self.stats()["nodes"])

    # -- learned embeddings -----------------------------------------------------------------
    def write_embeddings(
        self,
        label: str,
        keys: list[str],
        vectors: np.ndarray,
        *,
        prop: str = "embedding",
        index: bool = True,
    ) -> int:
        """Store ``vectors[i]`` as property ``prop`` of the ``label`` node with key ``keys[i]``
        (FalkorDB: a float32 ``vecf32``; Neo4j: a list of floats), then build a cosine vector
        index on it (Neo4j's is named ``<prop>_<label>``). The index is dropped first, so a
        later write with another dimension replaces it. Re-running converges to the same state.

        Returns:
            the number of nodes written (keys not in the graph are skipped).
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(
                f"write_embeddings :{label}: {len(keys)} keys but vectors of shape {vectors.shape}"
            )
        if not bool(np.isfinite(vectors).all()):
            raise ValueError(f"write_embeddings :{label}: NaN or infinite values in the vectors")
        slots = {"label": label, "prop": prop, "index": f"{prop}_{label}"}
        with self.writing():
            self.drop_vector_index(label, prop)
            written = 0
            for sl in batches(len(keys), self.write_batch):
                rows = [[str(k), v] for k, v in zip(keys[sl], vectors[sl].tolist(), strict=True)]
                res = self.run("store/set_embeddings", {"rows": rows}, **slots)
                written += int(res.scalar() or 0)
            if index and written:
                self.run("store/vector_index", {"dim": int(vectors.shape[1])}, **slots)
        return written

    def drop_vector_index(self, label: str, prop: str = "embedding") -> None:
        """Drop the vector index on ``label.prop`` if there is one."""
        from kg_store.errors import QueryError

        # FalkorDB refuses to drop an index that does not exist
        with contextlib.suppress(QueryError):
            self.run("store/drop_vector_index", label=label, prop=prop, index=f"{prop}_{label}")

    def export(self, progress: Progress | None = None) -> GraphExport:
        """The whole graph as arrays (see :class:`GraphExport`)."""
        out = GraphExport()
        internal: dict[str, np.ndarray] = {}
        labels = self.labels()
        for i, label in enumerate(labels):
            rows = self.run("store/export_nodes", label=label).rows
            rows.sort(key=lambda r: str(r[1]))
            internal[label] = id_array([r[0] for r in rows])  # FalkorDB: int ids; Neo4j: keys
            out.ids[label] = pd.Index([str(r[1]) for r in rows], name=label)
            if progress:
                progress("export nodes", i + 1, len(labels))
        for label in labels:
            vec = self.run("store/export_vectors", label=label).rows
            if vec:
                pos = remap(id_array([r[0] for r in vec]), internal[label])
                dim = len(vec[0][1])
                mat = np.zeros((len(internal[label]), dim), dtype=np.float32)
                mat[pos] = np.asarray([list(r[1]) for r in vec], dtype=np.float32)
                out.features[label] = mat
        triples = self.run("store/edge_types").rows
        for j, (src, rel, dst) in enumerate(sorted(triples)):
            rows = self.run("store/export_edges", src=src, type=rel, dst=dst).rows
            a, b = id_array([r[0] for r in rows]), id_array([r[1] for r in rows])
            frame = pd.DataFrame({"src": remap(a, internal[src]), "dst": remap(b, internal[dst])})
            props = pd.DataFrame([r[2] or {} for r in rows], index=frame.index)
            for c in props.columns:
                frame[c] = props[c]
            out.edges[(src, rel, dst)] = frame.sort_values(["src", "dst"], ignore_index=True)
            if progress:
                progress("export edges", j + 1, len(triples))
        return out
