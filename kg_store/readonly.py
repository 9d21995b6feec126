"""The analysts' runner guards: what the servers do not refuse themselves, and the row cap.

Read-only execution is enforced by the servers: FalkorDB's ``GRAPH.RO_QUERY`` and a Neo4j
transaction in READ access mode reject every write (CREATE, MERGE, SET, DELETE, REMOVE, index
and constraint changes, writing subqueries), and the store turns that refusal into
:class:`ReadOnlyViolation` naming the clause (:func:`explain_refusal`). The lexical check here
covers only what a read-only server still runs:

* procedures: only those on :data:`READ_PROCEDURES` (an allow-list, the only safe direction:
  ``apoc.load.*``, ``dbms.*`` and the like read files or the server);
* ``LOAD CSV``, which reads files and URLs from the server's side even in read mode;
* administration commands (GRANT, DENY, REVOKE, ALTER, CREATE/DROP USER|ROLE|DATABASE,
  START/STOP DATABASE), which act on the system database.

Words are matched as clauses only: property keys (``v.set``), map keys (``{set: 1}``), labels,
parameters, strings, quoted names and comments are not clauses, so they are never refused.

:func:`cap_rows` rewrites a statement so that the server stops after a number of rows, instead
of the client fetching everything and cutting it afterwards.
"""

from __future__ import annotations

import re

from kg_store.errors import ReadOnlyViolation

_LITERAL = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|//[^\n]*|/\*.*?\*/""",
    re.DOTALL,
)
# What writes, for naming the clause in the message when a server refused the statement.
_WRITE_CLAUSES = [
    ("CREATE", r"CREATE"),
    ("MERGE", r"MERGE"),
    ("SET", r"SET"),
    ("DELETE", r"(?:DETACH\s+)?DELETE"),
    ("REMOVE", r"REMOVE"),
    ("DROP", r"DROP"),
    ("FOREACH", r"FOREACH"),
    ("IN TRANSACTIONS", r"IN\s+TRANSACTIONS"),
]
_ADMIN = re.compile(
    r"^\s*(?:GRANT|DENY|REVOKE|ALTER|(?:CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?"
    r"(?:USER|ROLE|DATABASE|ALIAS|COMPOSITE)|(?:START|STOP)\s+DATABASE|USING\s+PERIODIC)\b",
    re.IGNORECASE,
)
# a word used as a clause: not after '.', '$' or ':' (property, parameter, label) nor
# followed by ':' (a map key)
_CLAUSE = r"(?<![\w.$:]){}(?![\w])(?!\s*:)"
_CALL = re.compile(r"(?<![\w.$:])CALL\s+([A-Za-z_][\w.]*)", re.IGNORECASE)
_LOAD_CSV = re.compile(_CLAUSE.format(r"LOAD\s+CSV"), re.IGNORECASE)
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
    return _LITERAL.sub(" ", text)


def mask_literals(text: str) -> str:
    """``text`` with every string literal, quoted identifier and comment replaced by as many
    spaces (newlines kept), so that positions in the result are positions in ``text``."""
    return _LITERAL.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def check_read_only(text: str) -> None:
    """Raise :class:`ReadOnlyViolation` for what a read-only server would still run: a
    procedure not on the allow-list, ``LOAD CSV``, an administration command. Writes proper
    are refused by the server's read-only execution (see the module docstring)."""
    if not text.strip():
        raise ReadOnlyViolation("empty statement")
    bare = strip_literals(text)
    if _ADMIN.search(bare):
        raise ReadOnlyViolation(
            "refused: administration commands (users, roles, privileges, databases) do not "
            "run in the analysts' runner, which only reads"
        )
    if _LOAD_CSV.search(bare):
        raise ReadOnlyViolation(
            "refused: the statement contains LOAD CSV, which reads files on the server; "
            "the analysts' runner only reads the graph"
        )
    for m in _CALL.finditer(bare):
        proc = m.group(1).lower()
        if proc not in READ_PROCEDURES:
            raise ReadOnlyViolation(
                f"refused: procedure {m.group(1)!r} is not on the read-only allow-list "
                f"({', '.join(READ_PROCEDURES[:6])}, ...)"
            )


def write_clause(text: str) -> str | None:
    """The first clause of ``text`` that writes (``"SET"``, ``"DELETE"``, ...), or None."""
    bare = strip_literals(text)
    found: list[tuple[int, str]] = []
    for clause, pattern in _WRITE_CLAUSES:
        m = re.search(_CLAUSE.format(pattern), bare, re.IGNORECASE)
        if m:
            found.append((m.start(), clause))
    return min(found)[1] if found else None


def explain_refusal(text: str) -> str:
    """The message for a statement the server's read-only execution refused."""
    clause = write_clause(text)
    what = f"contains {clause}, which writes" if clause else "would write"
    return (
        f"refused: the statement {what} to the graph (the server's read-only execution "
        "rejected it); the analysts' runner only reads"
    )


def _top_level(masked: str) -> list[bool]:
    """Per character: True where it is outside every (), [] and {}."""
    depth = 0
    out = []
    for ch in masked:
        if ch in "([{":
            depth += 1
            out.append(False)
            continue
        if ch in ")]}":
            depth = max(0, depth - 1)
            out.append(False)
            continue
        out.append(depth == 0)
    return out


def _find_top(pattern: str, masked: str, top: list[bool]) -> list[re.Match[str]]:
    return [
        m for m in re.finditer(_CLAUSE.format(pattern), masked, re.IGNORECASE) if top[m.start()]
    ]


def _return_names(body: str) -> list[str] | None:
    """Column names of a RETURN clause's items (``body`` is the text after RETURN, up to ORDER
    BY / SKIP / LIMIT), or None when they cannot be told (``*``)."""
    masked = mask_literals(body)
    top = _top_level(masked)
    items, start = [], 0
    for i, ch in enumerate(masked):
        if ch == "," and top[i]:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    names = []
    for item in items:
        item = item.strip()
        if item.upper().startswith("DISTINCT "):
            item = item[9:].strip()
        if not item or item == "*":
            return None
        m = re.search(r"\s+AS\s+(`[^`]+`|[A-Za-z_][\w]*)\s*$", item, re.IGNORECASE)
        name = m.group(1) if m else item
        names.append(name[1:-1] if name.startswith("`") else name)
    return names


def cap_rows(text: str, limit: int, *, wrap: bool = True) -> tuple[str, list[str] | None]:
    """Rewrite ``text`` so that the server returns at most ``limit`` rows.

    * a statement ending in a RETURN without LIMIT gets ``LIMIT limit`` appended;
    * one ending in ``LIMIT n`` with a literal ``n`` gets ``LIMIT min(n, limit)``;
    * anything else that returns rows (a UNION, a parameterised LIMIT) is wrapped as
      ``CALL { text } RETURN * LIMIT limit`` when ``wrap`` (FalkorDB), and the column names
      its last RETURN gives are returned so the caller can restore their order (``RETURN *``
      sorts them);
    * a statement with no RETURN of its own (a bare procedure call) is left as it is.

    Returns:
        (the statement to run, the column order to restore or None).
    """
    text = text.strip().rstrip(";").rstrip()
    masked = mask_literals(text)
    top = _top_level(masked)
    returns = _find_top("RETURN", masked, top)
    if not returns:
        return text, None
    last = returns[-1]
    unions = _find_top(r"UNION", masked, top)
    tail = masked[last.end() :]
    tail_top = top[last.end() :]
    for kw in ("WITH", "MATCH", "UNWIND", "CALL", "RETURN"):
        # a RETURN inside a subquery written without braces cannot happen; a later clause
        # means the last RETURN is not the statement's end: leave it to the wrap below
        if _find_top(kw, tail, tail_top):
            break
    else:
        limits = _find_top("LIMIT", tail, tail_top)
        if not unions and not limits:
            return f"{text}\nLIMIT {limit}", None
        if not unions and len(limits) == 1:
            m = re.fullmatch(r"\s*(\d+)\s*", tail[limits[0].end() :])
            if m:
                n = int(m.group(1))
                start = last.end() + limits[0].end()
                return f"{text[:start]} {min(n, limit)}", None
    if not wrap:
        return text, None
    body = text[last.end() :]
    body_masked = masked[last.end() :]
    cut = len(body)
    for kw in (r"ORDER\s+BY", "SKIP", "LIMIT"):
        hits = _find_top(kw, body_masked, top[last.end() :])
        if hits:
            cut = min(cut, hits[0].start())
    wrapped = f"CALL {{\n{text}\n}}\nRETURN * LIMIT {limit}"  # layout: cypher (the cap itself)
    return wrapped, _return_names(body[:cut])
