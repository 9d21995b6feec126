"""One interaction table (CSV, TSV or Parquet), with optional item attributes and KG triples.

``kgrec ingest table FILE --user-col U --item-col I [--rating-col R] [--time-col T]``:

* ``FILE``: a delimited text file with a header row (``--sep``, default: tab for ``.tsv`` /
  ``.tab``, comma for ``.csv``, else sniffed from the header line; ``tab`` and ``\\t`` name
  the tab) or a Parquet file (``.parquet``/``.pq``, read by pandas with pyarrow). One row per
  interaction: ``(User)-[:RATED {rating, ts?}]->(Video)`` with ``--rating-col``, else
  ``INTERACTED {ts?}``. ``--time-col`` holds unix seconds or dates/datetimes (ISO 8601, read
  as UTC), stored as integer seconds in ``ts``. A repeated (user, item) pair keeps its latest
  row (by time, else the last).
* ``--items FILE`` (same formats) with ``--item-key COL`` (default: the ``--item-col`` name):
  one row per item, every interaction's item among them. Its other columns become ``Video``
  properties (integers, floats or strings, by what every value of the column parses as);
  each ``--multi COL`` (repeatable) is a ``|``-separated list instead, whose values become
  attribute entities labelled after the column as the RecBole loader names them (``genres``
  -> ``Genre`` by ``HAS_GENRE``).
* ``--triples FILE`` (same formats) with columns ``head``, ``relation``, ``tail``: KG triples;
  a head or tail that is an item id is that ``Video``, any other is an ``Entity``; one
  relationship type ``KG_<relation>`` per relation.

Errors name the file, line and column (for Parquet, the line is the 1-based row).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest.csvio import Table, read_records, read_text, text_lines
from kg_ingest.errors import IngestError
from kg_ingest.recbole import entity_label, has_type, knowledge
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SEPS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def read_table(path: Path, sep: str | None = None, need: tuple[str, ...] = ()) -> Table:
    """A table file as string columns with 1-based line (row) numbers; ``need``: columns it
    must have."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises several kinds for a file that is not Parquet
            raise IngestError(path.name, f"cannot read as Parquet: {e}") from e
        frame.columns = [str(c) for c in frame.columns]
        strings = frame.astype(object).where(frame.notna(), None)
        strings = strings.map(lambda v: "" if v is None else str(v))
        t = Table(path.name, strings.astype(object).reset_index(drop=True),
                  np.arange(1, len(frame) + 1, dtype=np.int64))  # fmt: skip
        hline = None
    else:
        delim = _delimiter(path, sep)
        header, hline, records, lines = read_records(path, delim)
        if not header:
            raise IngestError(path.name, "file is empty (expected a header row)")
        names = [h.strip() for h in header]
        dup = next((n for k, n in enumerate(names) if n in names[:k]), None)
        if dup is not None:
            raise IngestError(path.name, "column appears twice in the header", line=hline,
                              field=dup)  # fmt: skip
        t = Table(path.name, records.set_axis(names, axis=1), lines)
    missing = [c for c in need if c not in t.frame.columns]
    if missing:
        raise IngestError(path.name, f"no such column (the header has "
                          f"{', '.join(map(str, t.frame.columns))})", line=hline,
                          field=missing[0])  # fmt: skip
    return t


def _delimiter(path: Path, sep: str | None) -> str:
    if sep:
        sep = _SEPS.get(sep.lower(), sep)
        if len(sep) != 1:
            raise IngestError(path.name, f"--sep must be one character (or tab), got {sep!r}")
        return sep
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    lines = text_lines(read_text(path))
    try:
        return csv.Sniffer().sniff(lines[0] if lines else "", delimiters=",\t;|").delimiter
    except csv.Error as e:
        raise IngestError(path.name, "cannot tell the separator from the header line; give "
                          "--sep", line=1) from e  # fmt: skip


def seconds(t: Table, col: str) -> np.ndarray:
    """A time column as int64 unix seconds: numbers as they are, else dates read as UTC."""
    s = t.require(col)
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return np.floor(num.to_numpy(np.float64)).astype(np.int64)
    when = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
    bad = np.flatnonzero(when.isna().to_numpy())
    if len(bad):
        raise t.error(int(bad[0]), f"{s.iloc[bad[0]]!r} is neither unix seconds nor a date",
                      col)  # fmt: skip
    epoch = pd.Timestamp(0, tz="UTC")
    return ((when - epoch) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def typed(t: Table, col: str) -> pd.Series:
    """A property column: integers or floats when every value is written as one (``"01234"``
    is not: a zip code stays text), else strings; None where empty."""
    s = t.frame[col].astype(str).str.strip()
    empty = s == ""
    num = pd.to_numeric(s.where(~empty, None), errors="coerce")
    if not (num.isna() & ~empty).any() and (~empty).any():
        # integers only where the text is exactly the number: "01234" (a zip code) stays text
        ints = s[~empty].str.fullmatch(r"-?(0|[1-9][0-9]{0,17})").all()
        if ints:
            return pd.Series([None if e else int(v) for v, e in zip(s, empty, strict=True)],
                             dtype=object)  # fmt: skip
        if not s[~empty].str.fullmatch(r"-?0[0-9].*").any():
            return pd.Series([None if e else float(v) for v, e in zip(num, empty, strict=True)],
                             dtype=object)  # fmt: skip
    return pd.Series([None if e else v for v, e in zip(s, empty, strict=True)], dtype=object)


def load_table(
    path: Path,
    user_col: str,
    item_col: str,
    rating_col: str | None = None,
    time_col: str | None = None,
    sep: str | None = None,
    items: Path | None = None,
    item_key: str | None = None,
    multi: list[str] | None = None,
    triples: Path | None = None,
) -> GraphData:
    """Parse and validate an interaction table and its optional item and triple tables
    (see the module docstring).

    Raises:
        IngestError: a file or column is missing, or a value is malformed; the message names
            the file, line and column.
    """
    path = Path(path)
    need = tuple(c for c in (user_col, item_col, rating_col, time_col) if c)
    t = read_table(path, sep, need)
    if not len(t):
        raise IngestError(t.file, "the table has no rows")
    g = GraphData()
    frame = pd.DataFrame({"src": t.require(user_col).to_numpy(),
                          "dst": t.require(item_col).to_numpy()})  # fmt: skip
    if rating_col:
        frame["rating"] = t.floats(rating_col)
    if time_col:
        frame["ts"] = seconds(t, time_col)
        frame = frame.iloc[np.argsort(frame["ts"].to_numpy(), kind="stable")]
    item_ids = pd.Index(pd.unique(frame["dst"].to_numpy()))
    if items is not None:
        item_ids = _items(g, t, items, item_key or item_col, sep, multi or [], item_col)
    elif multi:
        raise IngestError(t.file, "--multi names columns of the --items table; give --items")
    else:
        g.nodes.append(NodeSet(model.VIDEO, pd.DataFrame({"id": item_ids}, dtype=object)))
    users = pd.unique(frame["src"].to_numpy())
    g.nodes.append(NodeSet(model.USER, pd.DataFrame({"id": users}, dtype=object)))
    rel = model.RATED if rating_col else model.INTERACTED
    g.rels.append(RelSet(rel, model.USER, model.VIDEO, frame.reset_index(drop=True)))
    if triples is not None:
        k = read_table(Path(triples), sep, ("head", "relation", "tail"))
        nodes, rels = knowledge(k.require("head"), k.require("relation"), k.require("tail"),
                                {str(i): str(i) for i in item_ids})  # fmt: skip
        g.nodes += nodes
        g.rels += rels
    return g


def _items(
    g: GraphData,
    t: Table,
    path: Path,
    key: str,
    sep: str | None,
    multi: list[str],
    item_col: str,
) -> pd.Index:
    it = read_table(Path(path), sep, (key, *multi))
    ids = it.require(key)
    it.check_unique([key], "item")
    known = pd.Index(ids)
    t.check_refs(item_col, t.frame[item_col].str.strip(), known, f"item (not in {it.file})")
    frame = pd.DataFrame({"id": ids.to_numpy()})
    for col in it.frame.columns:
        if col == key or col in multi:
            continue
        if not _PROPERTY.match(col) or col == "id":
            raise IngestError(it.file, "a column that becomes a property needs a name of "
                              "letters, digits and _ (and not id)", line=1, field=col)  # fmt: skip
        frame[col] = typed(it, col).to_numpy()
    taken = {model.USER, model.VIDEO, model.ENTITY}
    for col in multi:
        label = entity_label(col)
        if not label or label in taken:
            raise IngestError(it.file, f"--multi {col}: its entities' label would be "
                              f"{label or 'empty'!r}, which is taken", field=col)  # fmt: skip
        taken.add(label)
        src: list[str] = []
        dst: list[str] = []
        for i, cell in zip(ids, it.frame[col].astype(str), strict=True):
            for v in dict.fromkeys(p.strip() for p in cell.split("|") if p.strip()):
                src.append(i)
                dst.append(v)
        uniq = list(dict.fromkeys(dst))
        g.nodes.append(NodeSet(label, pd.DataFrame({"id": uniq, "name": uniq}, dtype=object)))
        g.rels.append(RelSet(has_type(label), model.VIDEO, label,
                             pd.DataFrame({"src": src, "dst": dst}, dtype=object)))  # fmt: skip
    g.nodes.append(NodeSet(model.VIDEO, frame))
    return known
