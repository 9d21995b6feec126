"""A graph's nodes and relationships with all their properties, read page by page.

:class:`~kg_store.GraphExport` holds what training needs (keys, edges, feature vectors); a
file export (``kgrec export csv``) needs every property. These generators read one label or
relationship type at a time in pages (keyset paging on the node key, ``WHERE n.id > $after
ORDER BY n.id LIMIT $page``: no page re-reads the ones before it), so no statement returns
more than a page. The store's bookkeeping nodes (``KgrecDataset``) are left out.

Every frame has object columns holding the values as the backend returned them (``None``
where a node or relationship has no such property): nodes ``id`` plus one column per
property; relationships ``src``, ``dst`` (the endpoints' keys) plus one per property.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from kg_store.base import DATASET_LABEL, GraphStore
from kg_store.export import EdgeKey

PAGE = 10_000


def labels(store: GraphStore) -> list[str]:
    """The graph's node labels (bookkeeping left out), sorted."""
    return store.labels()


def edge_keys(store: GraphStore) -> list[EdgeKey]:
    """The graph's ``(source label, type, target label)`` triples, sorted."""
    rows = store.run("store/edge_types").rows
    return sorted((str(s), str(t), str(d)) for s, t, d in rows if DATASET_LABEL not in (s, d))


def node_pages(store: GraphStore, label: str, page: int = PAGE) -> Iterator[pd.DataFrame]:
    """The nodes of ``label`` in key order, ``page`` at a time: ``id`` and property columns."""
    after: str | None = None
    while True:
        rows = store.run("store/dump_nodes", {"after": after, "page": page}, label=label).rows
        if not rows:
            return
        yield _frame([{**_props(r[1]), "id": str(r[0])} for r in rows], ["id"])
        if len(rows) < page:
            return
        after = str(rows[-1][0])


def rel_pages(store: GraphStore, key: EdgeKey, page: int = PAGE) -> Iterator[pd.DataFrame]:
    """The relationships of ``key`` (source label, type, target label), those of ``page``
    source nodes at a time in source key order (a frame may hold more or fewer than ``page``
    rows): ``src``, ``dst`` and property columns; pages without relationships are skipped."""
    src, rel, dst = key
    after: str | None = None
    while True:
        rows = store.run(
            "store/dump_rels", {"after": after, "page": page}, src=src, type=rel, dst=dst
        ).rows
        if not rows:
            return
        found = [
            {**_props(r[2]), "src": str(r[0]), "dst": str(r[1])} for r in rows if r[1] is not None
        ]
        if found:
            yield _frame(found, ["src", "dst"]).sort_values(["src", "dst"], ignore_index=True)
        sources = {str(r[0]) for r in rows}
        if len(sources) < page:
            return
        after = max(sources)


def _props(value: Any) -> dict[str, Any]:
    """A property map from either driver (FalkorDB gives an OrderedDict, Neo4j a dict)."""
    return dict(value or {})


def _frame(records: list[dict[str, Any]], first: list[str]) -> pd.DataFrame:
    columns = first + sorted({k for r in records for k in r} - set(first))
    # object columns: integers with gaps must not turn into floats
    return pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns,
                        dtype=object)  # fmt: skip
