"""The Cypher that shows one explanation path in the graph it came from.

Each reason carries ``{"statement", "params"}``: a read-only statement (``cypher/explain/
path_<L>.cypher``) matching exactly the path's nodes (by the graph's own label and key) and
relationships (by type and direction), so an analyst can run it in Neo4j Browser (``:param``
the values) or with ``kgrec query --cypher``. Labels and relationship types enter the text only
through the library's checked identifier slots; node keys and directions are parameters.

Relationships the explainer makes itself have no counterpart in the graph until
``kgrec similar build`` has written them (``SIMILAR_*``); such a path's statement then matches
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kg_store import library

KEY_PROPERTY = "id"
"""The property that keys nodes in the graph (kgrec.schema: every node has a string ``id``)."""


def path_cypher(
    labels: list[str],
    keys: list[str],
    relations: list[str],
    forward: list[bool],
    source_label: Callable[[str], str] = lambda label: label,
    key: str = KEY_PROPERTY,
    dialect: str = "falkordb",
) -> dict[str, Any]:
    """``{"statement", "params"}`` for a path of ``len(relations)`` hops.

    Args:
        labels, keys: each node's role label (``User``) and key, user first.
        relations, forward: each relationship's type, and whether it points from node k to
            node k+1.
        source_label: role label -> the graph's own label (``GraphExport.source_label``).
        key: the key property.

    Raises:
        ValueError: a length outside 1..4, mismatched lists, or a label, type or key that is
            not a plain identifier.
    """
    n = len(relations)
    if not 1 <= n <= 4 or len(labels) != n + 1 or len(keys) != n + 1 or len(forward) != n:
        raise ValueError(f"a path of {n} relationship(s) needs {n + 1} labels and keys")
    text = _statement(tuple(source_label(lab) for lab in labels), tuple(relations), key, dialect)
    params: dict[str, Any] = {f"k{k}": str(v) for k, v in enumerate(keys)}
    params["forward"] = [bool(f) for f in forward]
    return {"statement": text, "params": params}


@lru_cache(maxsize=4096)
def _statement(labels: tuple[str, ...], relations: tuple[str, ...], key: str, dialect: str) -> str:
    """The statement's text for one sequence of labels and types (a few dozen per graph)."""
    st = library.load(f"explain/path_{len(relations)}", dialect)
    slots = {f"label{k}": lab for k, lab in enumerate(labels)}
    slots.update({f"type{k + 1}": rel for k, rel in enumerate(relations)})
    return st.render(key=key, **slots)
