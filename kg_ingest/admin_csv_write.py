"""Writing a graph as neo4j-admin import CSV files (the format :mod:`kg_ingest.admin_csv`
reads, and ``neo4j-admin database import full --nodes=... --relationships=...`` takes).

:func:`write_admin_csv` writes, in one folder:

* one node file per label, ``<Label>.csv``: ``id:ID(<Label>)`` (the key, also the ``id``
  property; the label is the ID space), ``:LABEL`` (the label, then a node's
  ``extra_labels`` if it has any, ``;``-separated), then one typed column per property;
* one relationship file per (source label, type, target label), ``<Src>-<TYPE>-<Dst>.csv``:
  ``:START_ID(<Src>)``, ``:END_ID(<Dst>)``, ``:TYPE``, then one typed column per property.

A property column's type follows its values: ``boolean``, ``long`` (integers), ``double``
(floats, or integers mixed with floats), ``string`` (strings, or values of mixed kinds, as
text); lists as arrays of the same (``long[]``, ``string[]``, ...), float lists as ``float[]``
when every element is exactly a 32-bit float (feature vectors, learned embeddings), else
``double[]``. Floats are written with all their digits (``repr``), so reading the files back
gives the same values. A node or relationship without a property leaves its field empty.
Values are quoted by :mod:`csv` (RFC 4180) where they need it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest.admin_csv import ARRAY_SEP

EdgeKey = tuple[str, str, str]


def column_type(values: Iterable[object]) -> str | None:
    """The neo4j-admin type of a property column (None: no node has the property)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    lists = [isinstance(v, list | tuple | np.ndarray) for v in vals]
    if all(lists):
        elems = [x for v in vals for x in v]  # type: ignore[attr-defined]
        kind = _scalar_type(elems) if elems else "string"
        if kind == "double" and all(float(np.float32(x)) == float(x) for x in elems):
            kind = "float"
        return kind + "[]"
    if any(lists):
        return "string"
    return _scalar_type(vals)


def _scalar_type(vals: list[object]) -> str:
    if all(isinstance(v, bool | np.bool_) for v in vals):
        return "boolean"
    if any(isinstance(v, bool | np.bool_) for v in vals):
        return "string"
    if all(isinstance(v, int | np.integer) for v in vals):
        return "long"
    if all(isinstance(v, int | float | np.integer | np.floating) for v in vals):
        return "double"
    return "string"


def format_value(v: object, ftype: str, where: str) -> str:
    """One value as neo4j-admin reads it back as ``ftype``; ``where`` names it in errors."""
    if v is None:
        return ""
    if ftype.endswith("[]"):
        kind = ftype[:-2]
        parts = [format_value(x, kind, where) for x in v]  # type: ignore[attr-defined]
        if kind == "string" and any(ARRAY_SEP in p for p in parts):
            raise ValueError(f"{where}: a string list element holds {ARRAY_SEP!r}, the array "
                             "separator of neo4j-admin files; it cannot be written")  # fmt: skip
        return ARRAY_SEP.join(parts)
    if ftype == "boolean":
        return "true" if v else "false"
    if ftype == "long":
        return str(int(v))  # type: ignore[call-overload]
    if ftype in ("double", "float"):
        return repr(float(v))  # type: ignore[arg-type]
    if isinstance(v, list | tuple | np.ndarray):
        return ARRAY_SEP.join(str(x) for x in v)
    return str(v)


def write_admin_csv(
    nodes: Iterable[tuple[str, Iterable[pd.DataFrame]]],
    rels: Iterable[tuple[EdgeKey, Iterable[pd.DataFrame]]],
    directory: str | Path,
) -> dict[str, int]:
    """Write node and relationship frames (pages of them, as :mod:`kg_store.dump` yields) as
    neo4j-admin import files in ``directory`` (created if missing); see the module docstring.

    Args:
        nodes: per label, frames with ``id`` and property columns (None: no property).
        rels: per (source label, type, target label), frames with ``src``, ``dst`` and
            property columns.

    Returns:
        rows written per file name.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for label, pages in nodes:
        frame = _concat(pages, ["id"])
        extra = frame.pop("extra_labels") if "extra_labels" in frame.columns else None
        labels = [
            label if not isinstance(x, list | tuple) or not x else ARRAY_SEP.join([label, *x])
            for x in (extra if extra is not None else [None] * len(frame))
        ]
        header = [f"id:ID({label})", ":LABEL"]
        cols = [frame["id"].astype(str).tolist(), labels]
        _typed(frame.drop(columns=["id"]), f":{label}", frame["id"], header, cols)
        written[f"{label}.csv"] = _write(d / f"{label}.csv", header, cols)
    for (src, rel, dst), pages in rels:
        frame = _concat(pages, ["src", "dst"])
        header = [f":START_ID({src})", f":END_ID({dst})", ":TYPE"]
        cols = [frame["src"].astype(str).tolist(), frame["dst"].astype(str).tolist(),
                [rel] * len(frame)]  # fmt: skip
        keys = frame["src"].astype(str) + "->" + frame["dst"].astype(str)
        _typed(frame.drop(columns=["src", "dst"]), f"{src}-[:{rel}]->{dst}", keys, header, cols)
        name = f"{src}-{rel}-{dst}.csv"
        written[name] = _write(d / name, header, cols)
    return written


def _concat(pages: Iterable[pd.DataFrame], first: list[str]) -> pd.DataFrame:
    frames = [p for p in pages if len(p)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in first})
    # pages may differ in their columns: a property no node of a page has is missing (None)
    frame = pd.concat(frames, ignore_index=True).astype(object)
    return frame.where(frame.notna(), None)


def _typed(
    props: pd.DataFrame, what: str, keys: pd.Series, header: list[str], cols: list[list[str]]
) -> None:
    for c in sorted(props.columns):
        values = props[c].tolist()
        ftype = column_type(values)
        if ftype is None:
            continue
        header.append(f"{c}:{ftype}")
        cols.append([format_value(v, ftype, f"{what} {k!r} property {c!r}")
                     for v, k in zip(values, keys, strict=True)])  # fmt: skip


def _write(path: Path, header: list[str], cols: list[list[str]]) -> int:
    rows = list(zip(*cols, strict=True)) if cols and cols[0] else []
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return len(rows)
