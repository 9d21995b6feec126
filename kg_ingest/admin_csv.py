"""neo4j-admin import CSV files (Neo4j Operations Manual, "Import": the header format of
``neo4j-admin database import``), every ``*.csv`` of one folder.

Each file's header row says what it holds (comma-separated, quoted as RFC 4180):

* a **node file** has an ``:ID`` column, written ``:ID``, ``name:ID`` or ``name:ID(space)``:
  the value is the node's key, its ``id`` property (a string); ``name:ID`` also keeps it as
  property ``name``; ``(space)`` is the ID space relationships name it by (default: the
  global space). The label is the ``:LABEL`` column (labels separated by ``;``), else the
  file's name (``Movie.csv`` -> ``Movie``). kgrec keeps one label per node: the first; any
  others are kept as the string list property ``extra_labels``.
* a **relationship file** has ``:START_ID`` and ``:END_ID`` (optionally ``:START_ID(space)``),
  and its type in a ``:TYPE`` column, else the file's name. A start or end id that no node
  file gives (in that ID space) is an error. Parallel relationships (same endpoints and type)
  become one, with the last line's properties.
* every other column is a property ``name:type``: ``int``, ``long``, ``short``, ``byte``
  (integers), ``float``, ``double`` (floats), ``boolean`` (``true``/``false``, any case),
  ``string``, ``char``, and ``date``, ``time``, ``localtime``, ``datetime``,
  ``localdatetime``, ``duration``, ``point`` (kept as their text); ``type[]`` is an array,
  its elements separated by ``;``; no type means ``string``; ``:IGNORE`` columns are
  skipped; ``{...}`` options after a type are ignored. An empty field means no property
  (an empty string is not kept, as neo4j-admin's ``--ignore-empty-strings``).

Not supported: separate header files (``movies-header.csv``; put the header on the first
line instead) and other delimiters than ``,``. Errors name the file, the line and the
header field (:class:`~kg_ingest.errors.IngestError`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kg_ingest.csvio import read_records
from kg_ingest.errors import IngestError
from kg_store.graph_data import GraphData, NodeSet, RelSet

ARRAY_SEP = ";"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE = re.compile(r"^(?P<type>[A-Za-z_]+)(?P<array>\[\])?(?:\((?P<space>[^)]*)\))?(?:\{.*\})?$")
_INTS = {"int", "long", "short", "byte"}
_FLOATS = {"float", "double"}
_TEXTS = {"string", "char", "date", "time", "localtime", "datetime", "localdatetime",
          "duration", "point"}  # fmt: skip
_ROLES = {"ID", "LABEL", "START_ID", "END_ID", "TYPE", "IGNORE"}
GLOBAL = ""  # the ID space of an ``:ID`` column without ``(space)``


@dataclass
class Column:
    """One header entry: a role (``ID``, ``LABEL``, ...) or a typed property."""

    entry: str
    name: str
    role: str = ""
    type: str = "string"
    array: bool = False
    space: str = GLOBAL


@dataclass
class Header:
    file: str
    line: int
    columns: list[Column] = field(default_factory=list)

    def role(self, role: str) -> tuple[int, Column] | None:
        found = [(k, c) for k, c in enumerate(self.columns) if c.role == role]
        if len(found) > 1:
            raise IngestError(self.file, f"the header has {len(found)} :{role} columns",
                              line=self.line, field=found[1][1].entry)  # fmt: skip
        return found[0] if found else None

    def props(self) -> list[tuple[int, Column]]:
        return [(k, c) for k, c in enumerate(self.columns) if not c.role]


def parse_header(file: str, entries: list[str], line: int) -> Header:
    """The header row of one file, each entry checked (see the module docstring)."""
    h = Header(file, line)
    seen: set[str] = set()
    for entry in entries:
        name, sep, spec = entry.strip().rpartition(":")
        if not sep:
            name, spec = entry.strip(), "string"
        m = _TYPE.match(spec)
        if m is None:
            raise IngestError(file, "cannot read the header entry (expected name:type, e.g. "
                              "year:int or :ID(Movie))", line=line, field=entry)  # fmt: skip
        ftype, array, space = m.group("type"), bool(m.group("array")), m.group("space")
        if ftype.upper() in _ROLES and not array:
            col = Column(entry, name, role=ftype.upper(), space=space or GLOBAL)
            if col.role not in ("ID", "START_ID", "END_ID") and space is not None:
                raise IngestError(file, f":{col.role} takes no ID space", line=line, field=entry)
        else:
            ftype = ftype.lower()
            if ftype not in _INTS | _FLOATS | _TEXTS | {"boolean"}:
                raise IngestError(file, f"unknown property type {ftype!r} (neo4j-admin's: int, "
                                  "long, float, double, boolean, string, date, datetime, ..., "
                                  "with [] for arrays)", line=line, field=entry)  # fmt: skip
            if not _IDENT.match(name):
                raise IngestError(file, "a property name must be letters, digits and _",
                                  line=line, field=entry)  # fmt: skip
            col = Column(entry, name, type=ftype, array=array)
        key = col.name if not col.role or col.role == "ID" else ":" + col.role
        if col.role != "IGNORE" and key and key in seen:
            raise IngestError(file, f"{key!r} appears twice in the header", line=line,
                              field=entry)  # fmt: skip
        seen.add(key)
        h.columns.append(col)
    return h


def _scalar(kind: str) -> Callable[[str], object]:
    if kind in _INTS:
        return int
    if kind in _FLOATS:
        return float
    if kind == "boolean":

        def boolean(s: str) -> bool:
            low = s.strip().lower()
            if low not in ("true", "false"):
                raise ValueError(s)
            return low == "true"

        return boolean
    return str


def convert(h: Header, col: Column, raw: str, line: int) -> object:
    """One field's value by its column's type; None when empty."""
    if raw == "":
        return None
    fn = _scalar(col.type)
    parts = raw.split(ARRAY_SEP) if col.array else [raw]
    out: list[object] = []
    for p in parts:
        try:
            out.append(fn(p.strip() if fn is not str else p))
        except ValueError as e:
            what = {int: "an integer", float: "a number"}.get(fn, "true or false")  # type: ignore[call-overload]
            raise IngestError(h.file, f"{p!r} is not {what} ({col.type}"
                              f"{'[]' if col.array else ''})", line=line,
                              field=col.entry) from e  # fmt: skip
    return out if col.array else out[0]


def load_admin_csv(path: Path) -> GraphData:
    """Parse and validate a folder of neo4j-admin import CSV files (see the module docstring).

    Raises:
        IngestError: a header, value or reference is wrong; the message names file, line and
            field.
    """
    path = Path(path)
    if not path.is_dir():
        raise IngestError(path.name, f"not a directory: {path}")
    files = sorted(path.glob("*.csv"))
    if not files:
        raise IngestError(path.name, f"no *.csv files in {path}")
    parsed = []
    for f in files:
        if re.search(r"[-_]header$", f.stem, re.IGNORECASE):
            raise IngestError(f.name, "separate header files are not supported: put the "
                              "header on the first line of each data file")  # fmt: skip
        entries, hline, records, lines = read_records(f)
        if not entries:
            raise IngestError(f.name, "file is empty (expected a neo4j-admin header row)")
        h = parse_header(f.name, entries, hline)
        is_node = h.role("ID") is not None
        is_rel = h.role("START_ID") is not None or h.role("END_ID") is not None
        if is_node == is_rel:
            raise IngestError(f.name, "the header needs an :ID column (a node file) or "
                              ":START_ID and :END_ID columns (a relationship file), not both",
                              line=hline)  # fmt: skip
        parsed.append((f, h, records.to_numpy().tolist(), lines.tolist(), is_node))
    g = GraphData(dataset=f"csv:{path.resolve().name}")
    spaces: dict[str, dict[str, tuple[str, str, int]]] = {}  # space -> id -> (label, file, line)
    nodes: dict[str, list[dict[str, object]]] = {}
    owner: dict[tuple[str, str], tuple[str, int]] = {}  # (label, id) -> (file, line)
    for f, h, rows, lines, is_node in parsed:
        if is_node:
            _nodes(f, h, rows, lines, spaces, nodes, owner)
    for label, recs in nodes.items():
        g.nodes.append(NodeSet(label, _frame(recs, ["id"])))
    rels: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    for f, h, rows, lines, is_node in parsed:
        if not is_node:
            _rels(f, h, rows, lines, spaces, rels)
    for (t, s, d), recs in rels.items():
        g.rels.append(RelSet(t, s, d, _frame(recs, ["src", "dst"])))
    return g


def _stem_name(f: Path, what: str, line: int) -> str:
    if not _IDENT.match(f.stem):
        raise IngestError(f.name, f"no :{what} column, and the file's name {f.stem!r} is no "
                          f"{what.lower()} (letters, digits and _)", line=line)  # fmt: skip
    return f.stem


def _nodes(
    f: Path,
    h: Header,
    rows: list[list[str]],
    lines: list[int],
    spaces: dict[str, dict[str, tuple[str, str, int]]],
    nodes: dict[str, list[dict[str, object]]],
    owner: dict[tuple[str, str], tuple[str, int]],
) -> None:
    id_pos, id_col = h.role("ID")  # type: ignore[misc]
    lab = h.role("LABEL")
    props = h.props()
    for _, c in props:
        if c.name == "id" or (c.name == "extra_labels" and lab is not None):
            raise IngestError(f.name, f"a property named {c.name} would clash with the node "
                              "key (the :ID column) or its extra labels", line=h.line,
                              field=c.entry)  # fmt: skip
    if id_col.name and id_col.name != "id" and id_col.name in {c.name for _, c in props}:
        raise IngestError(f.name, f"{id_col.name!r} is both the :ID column and a property",
                          line=h.line, field=id_col.entry)  # fmt: skip
    default_label = None if lab is not None else _stem_name(f, "LABEL", h.line)
    space = spaces.setdefault(id_col.space, {})
    for row, line in zip(rows, lines, strict=True):
        key = row[id_pos].strip()
        if not key:
            raise IngestError(f.name, "the node id is missing", line=line, field=id_col.entry)
        if lab is not None:
            labels = [x.strip() for x in row[lab[0]].split(ARRAY_SEP) if x.strip()]
            if not labels:
                raise IngestError(f.name, "the node has no label", line=line, field=lab[1].entry)
            bad = [x for x in labels if not _IDENT.match(x)]
            if bad:
                raise IngestError(f.name, f"label {bad[0]!r} is not letters, digits and _",
                                  line=line, field=lab[1].entry)  # fmt: skip
        else:
            labels = [str(default_label)]
        if key in space:
            _, file0, line0 = space[key]
            where = "" if not id_col.space else f" in ID space {id_col.space!r}"
            raise IngestError(f.name, f"duplicate node id {key!r}{where} (first in {file0} "
                              f"line {line0})", line=line, field=id_col.entry)  # fmt: skip
        first = owner.get((labels[0], key))
        if first is not None:  # given in another ID space
            raise IngestError(f.name, f":{labels[0]} node {key!r} is also given in {first[0]} "
                              f"line {first[1]} (another ID space); kgrec keys nodes by label "
                              "and id", line=line, field=id_col.entry)  # fmt: skip
        space[key] = (labels[0], f.name, line)
        owner[(labels[0], key)] = (f.name, line)
        rec: dict[str, object] = {"id": key}
        if id_col.name and id_col.name != "id":
            rec[id_col.name] = key
        if len(labels) > 1:
            rec["extra_labels"] = labels[1:]
        for k, c in props:
            v = convert(h, c, row[k], line)
            if v is not None:
                rec[c.name] = v
        nodes.setdefault(labels[0], []).append(rec)


def _rels(
    f: Path,
    h: Header,
    rows: list[list[str]],
    lines: list[int],
    spaces: dict[str, dict[str, tuple[str, str, int]]],
    rels: dict[tuple[str, str, str], list[dict[str, object]]],
) -> None:
    ends: list[tuple[int, Column]] = []
    for role in ("START_ID", "END_ID"):
        end = h.role(role)
        if end is None:
            raise IngestError(f.name, f"a relationship file needs a :{role} column",
                              line=h.line)  # fmt: skip
        ends.append(end)
    typ = h.role("TYPE")
    default_type = None if typ is not None else _stem_name(f, "TYPE", h.line)
    props = h.props()
    for _, c in props:
        if c.name in ("src", "dst"):
            raise IngestError(f.name, f"a relationship property may not be named {c.name}",
                              line=h.line, field=c.entry)  # fmt: skip
    for row, line in zip(rows, lines, strict=True):
        found: list[tuple[str, str]] = []
        for pos, col in ends:
            key = row[pos].strip()
            if not key:
                raise IngestError(f.name, "the node id is missing", line=line, field=col.entry)
            node = spaces.get(col.space, {}).get(key)
            if node is None:
                where = f"ID space {col.space!r}" if col.space else "the global ID space"
                raise IngestError(f.name, f"unknown node id {key!r}: no node file gives it in "
                                  f"{where}", line=line, field=col.entry)  # fmt: skip
            found.append((node[0], key))
        if typ is not None:
            rtype = row[typ[0]].strip()
            if not _IDENT.match(rtype):
                raise IngestError(f.name, f"relationship type {rtype!r} is not letters, digits "
                                  "and _", line=line, field=typ[1].entry)  # fmt: skip
        else:
            rtype = str(default_type)
        rec: dict[str, object] = {"src": found[0][1], "dst": found[1][1]}
        for k, c in props:
            v = convert(h, c, row[k], line)
            if v is not None:
                rec[c.name] = v
        rels.setdefault((rtype, found[0][0], found[1][0]), []).append(rec)


def _frame(records: list[dict[str, object]], first: list[str]) -> pd.DataFrame:
    columns = first + sorted({k for r in records for k in r} - set(first))
    # object columns: integers with gaps must not turn into floats
    return pd.DataFrame([[r.get(c) for c in columns] for r in records], columns=columns,
                        dtype=object)  # fmt: skip
