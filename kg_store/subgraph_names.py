"""Display names of a spec export's nodes, read from the graph (see :mod:`kg_store.subgraph`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kg_store.export import GraphExport
from kg_store.subgraph import PAGE, _Exporter
from kgrec.spec import DatasetSpec

if TYPE_CHECKING:
    from kg_store.base import GraphStore


def export_names(
    store: GraphStore, spec: DatasetSpec, export: GraphExport, page: int = PAGE
) -> dict[str, dict[str, str]]:
    """Display names of the exported nodes, by role label then key: the user's and item's
    ``name`` property from the spec, ``title`` or else ``name`` for other labels."""
    out: dict[str, dict[str, str]] = {}
    ex = _Exporter(store, spec, None, page)
    for label, keys in export.ids.items():
        source = export.source_label(label)
        if source == spec.user.label:
            props = [spec.user.name] if spec.user.name else []
        elif source == spec.item.label:
            props = [spec.item.name] if spec.item.name else []
        else:
            props = ["title", "name"]
        got: dict[str, str] = {}
        for prop in props:
            values = [str(k) for k in keys if str(k) not in got]
            for lo in range(0, len(values), page):
                for k, v in ex.names(source, values[lo : lo + page], prop):
                    got.setdefault(str(k), str(v))
        if got:
            out[label] = got
    return out
