"""Replacing one relationship type between two labels wholesale (e.g. the kNN similarity
relationships ``SIMILAR_VISUAL`` / ``SIMILAR_ACOUSTIC`` / ``SIMILAR_TEXTUAL`` that
``kgrec similar build`` materialises: rebuilt with another ``k``, the old edges must go)."""

from __future__ import annotations

from kg_store.base import GraphStore, LoadReport, Progress
from kg_store.graph_data import GraphData, RelSet


def replace_relationships(
    store: GraphStore, rels: RelSet, *, batch: int = 10_000, progress: Progress | None = None
) -> LoadReport:
    """Delete every ``(:src)-[:type]->(:dst)`` relationship, then load ``rels``.

    The deletion runs in batches of ``batch`` (``store/delete_rels``); the load is the store's
    ordinary upsert (atomic on FalkorDB: staged, then swapped in). If the load fails after
    the deletion, the graph holds none of these relationships: run it again.

    Args:
        store: an open store.
        rels: the new relationships (endpoints must be in the graph).
        batch: relationships deleted per statement (default: 10000).

    Returns:
        the load's report (``per_type[rels.type]`` relationships written).
    """
    slots = {"src": rels.src_label, "type": rels.type, "dst": rels.dst_label}
    with store.writing():
        while int(store.run("store/delete_rels", {"limit": batch}, **slots).scalar() or 0):
            pass
        if not len(rels.frame):
            return LoadReport()
        return store.load(GraphData(rels=[rels]), progress=progress)
