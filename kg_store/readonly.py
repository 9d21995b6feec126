"""Refuses statements that would write, before they reach the server.

This is the first of two guards: the statement is also sent through the backend's read-only
path (FalkorDB ``GRAPH.RO_QUERY``, a Neo4j READ transaction), which rejects writes on the
server. The lexical check gives the analyst a clear message naming the clause.
"""

from __future__ import annotations

import re

from kg_store.errors import ReadOnlyViolation

_STRIP = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|//[^\n]*|/\*.*?\*/""",
    re.DOTALL,
)
_WRITE_CLAUSES = [
    ("CREATE", r"\bCREATE\b"),
    ("MERGE", r"\bMERGE\b"),
    ("SET", r"\bSET\b"),
    ("DELETE", r"\bDELETE\b"),
    ("REMOVE", r"\bREMOVE\b"),
    ("DROP", r"\bDROP\b"),
    ("LOAD CSV", r"\bLOAD\s+CSV\b"),
    ("FOREACH", r"\bFOREACH\b"),
    ("IN TRANSACTIONS", r"\bIN\s+TRANSACTIONS\b"),
    ("USING PERIODIC COMMIT", r"\bPERIODIC\s+COMMIT\b"),
    ("ALTER", r"\bALTER\b"),
    ("GRANT", r"\bGRANT\b"),
    ("REVOKE", r"\bREVOKE\b"),
    ("DENY", r"\bDENY\b"),
    ("START DATABASE", r"\bSTART\s+DATABASE\b"),
    ("STOP DATABASE", r"\bSTOP\s+DATABASE\b"),
]
_CALL = re.compile(r"\bCALL\s+([A-Za-z_][\w.]*)", re.IGNORECASE)
# Procedures that only read. Anything else (apoc.create.*, db.create.*, gds.*.write, ...) is
# refused: an allow-list is the only safe direction.
READ_PROCEDURES = (
    "db.labels",
    "db.relationshiptypes",
    "db.propertykeys",
    "db.indexes",
    "db.constraints",
    "db.schema.visualization",
    "db.schema.nodetypeproperties",
    "db.schema.reltypeproperties",
    "db.idx.vector.querynodes",
    "db.idx.vector.queryrelationships",
    "db.idx.fulltext.querynodes",
    "db.index.vector.querynodes",
    "db.index.fulltext.querynodes",
    "db.index.fulltext.queryrelationships",
    "db.meta.stats",
    "dbms.components",
    "algo.bfs",
    "algo.pagerank",
    "algo.wcc",
    "algo.betweenness",
    "algo.spath",
    "algo.sspath",
    "algo.labelpropagation",
)


def strip_literals(text: str) -> str:
    """Replace string literals, quoted identifiers and comments by a space."""
    return _STRIP.sub(" ", text)


def check_read_only(text: str) -> None:
    """Raise :class:`ReadOnlyViolation` if ``text`` could write to the graph."""
    if not text.strip():
        raise ReadOnlyViolation("empty statement")
    bare = strip_literals(text)
    upper = bare.upper()
    for clause, pattern in _WRITE_CLAUSES:
        if re.search(pattern, upper):
            raise ReadOnlyViolation(
                f"refused: the statement contains {clause}, which writes to the graph; "
                "the analysts' runner only reads"
            )
    for m in _CALL.finditer(bare):
        proc = m.group(1).lower()
        if proc not in READ_PROCEDURES:
            raise ReadOnlyViolation(
                f"refused: procedure {m.group(1)!r} is not on the read-only allow-list "
                f"({', '.join(READ_PROCEDURES[:6])}, ...)"
            )
