"""Display names of graph nodes (a Video's title, a Person's name), cached in a run directory."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kgrec.schema import USER

NAMES_FILE = "names.json"
"""Display names cached in a run directory (see :func:`save_names`)."""

Names = dict[str, dict[str, str]]
"""label -> node key -> display name (a Video's title, a Person's name, ...)."""


def names_from_graph_data(graph: Any) -> Names:
    """Display names from a :class:`kg_store.GraphData` (``title`` or ``name`` properties)."""
    out: Names = {}
    for ns in graph.nodes:
        frame = ns.frame
        for col in ("title", "name"):
            if col in frame.columns:
                sel = frame[["id", col]].dropna()
                out.setdefault(ns.label, {}).update(
                    {str(k): str(v) for k, v in zip(sel["id"], sel[col], strict=True)}
                )
                break
    return out


def save_names(directory: str | Path, names: Names) -> Path:
    """Cache display names in a run directory as ``names.json`` (atomically)."""
    path = Path(directory) / NAMES_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(names, ensure_ascii=False))
    tmp.replace(path)
    return path


def load_names(directory: str | Path) -> Names | None:
    """The cached display names of a run, or None when it has none."""
    path = Path(directory) / NAMES_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return {str(lab): {str(k): str(v) for k, v in m.items()} for lab, m in raw.items()}


def display_name(
    label: str, key: str, names: Mapping[str, Mapping[str, str]], source_label: str | None = None
) -> str:
    """A node's name for people: its title/name when known, ``user 42`` for a user (``customer
    42`` where the graph's own label of the user role, ``source_label``, is Customer), else its
    id. Names are looked up under the role label, then the graph's own label."""
    known = names.get(label, {}).get(key)
    if not known and source_label:
        known = names.get(source_label, {}).get(key)
    if known:
        return known
    if label == USER:
        return f"{(source_label or 'user').lower()} {key}"
    return key
