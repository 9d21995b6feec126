"""Parsing helpers shared by the loaders: tables that remember line numbers, typed columns
that fail with :class:`IngestError`, and builders for the node/relationship frames that every
source produces (attribute entities, Textual modality nodes)."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest import model
from kg_ingest.errors import IngestError
from kg_ingest.text import embed_texts
from kg_store.graph_data import NodeSet, RelSet

_SEP_NAMES = {"\t": "tab-separated", ",": "comma-separated", " ": "space-separated"}


def sep_name(sep: str | None) -> str:
    """How a separator reads in messages; ``None`` means runs of whitespace."""
    if sep is None:
        return "space-separated"
    return _SEP_NAMES.get(sep, f"{sep!r}-separated")


@dataclass
class Table:
    """Rows of one file as string columns, with the 1-based line number of each row."""

    file: str
    frame: pd.DataFrame
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    def error(self, pos: int, message: str, field: str | None = None) -> IngestError:
        return IngestError(self.file, message, line=int(self.lines[pos]), field=field)

    def require(self, col: str) -> pd.Series:
        """The column with surrounding whitespace removed; an empty value is an error."""
        s = self.frame[col].str.strip()
        empty = np.flatnonzero((s == "").to_numpy())
        if len(empty):
            raise self.error(int(empty[0]), "value is missing", col)
        return s

    def ints(self, col: str, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        """Column ``col`` as ``int64``, checked against the inclusive range [lo, hi]."""
        s = self.frame[col].str.strip()
        vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = np.isnan(vals) | (vals != np.floor(vals))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raw = str(s.iloc[pos])
            err = self.error(pos, f"{raw!r} is not an integer", col)
            try:
                int(raw)
            except ValueError as cause:
                raise err from cause
            raise err
        out = vals.astype(np.int64)
        self._check_range(out, col, lo, hi)
        return out

    def floats(self, col: str, lo: float | None = None, hi: float | None = None) -> np.ndarray:
        """Column ``col`` as finite ``float64``, checked against the inclusive range [lo, hi]."""
        s = self.frame[col].str.strip()
        vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(vals)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raw = str(s.iloc[pos])
            err = self.error(pos, f"{raw!r} is not a finite number", col)
            try:
                float(raw)
            except ValueError as cause:
                raise err from cause
            raise err
        self._check_range(vals, col, lo, hi)
        return vals

    def _check_range(self, vals: np.ndarray, col: str, lo: float | None, hi: float | None) -> None:
        bad = np.zeros(len(vals), dtype=bool)
        if lo is not None:
            bad |= vals < lo
        if hi is not None:
            bad |= vals > hi
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raw = self.frame[col].iloc[pos].strip()
            raise self.error(pos, f"{raw} is outside the range {lo}..{hi}", col)

    def check_refs(self, col: str, keys: pd.Series, known: pd.Index, what: str) -> None:
        """Every value of ``keys`` (row-aligned) must be in ``known``; else name the line."""
        bad = np.flatnonzero(~keys.isin(known).to_numpy())
        if len(bad):
            pos = int(bad[0])
            raise self.error(pos, f"unknown {what} {keys.iloc[pos]!r}", col)

    def check_unique(self, cols: Sequence[str], what: str) -> None:
        """No two rows may share the values of ``cols``; names both lines."""
        dup = self.frame.duplicated(list(cols), keep=False).to_numpy()
        if dup.any():
            key = self.frame.loc[dup, list(cols)].apply(tuple, axis=1)
            second = int(np.flatnonzero(key.duplicated().to_numpy())[0])
            pos = int(np.flatnonzero(dup)[second])
            first_pos = int(np.flatnonzero(dup)[int(np.flatnonzero(key == key.iloc[second])[0])])
            raise self.error(pos, f"duplicate {what} (first at line {self.lines[first_pos]})")


def require_file(path: Path, layout: str) -> Path:
    if not path.is_file():
        raise IngestError(path.name, f"required file is missing from {path.parent} ({layout})")
    return path


def read_delimited(
    path: Path,
    sep: str | None,
    columns: Sequence[str],
    *,
    encoding: str = "utf-8",
    header: bool = False,
    min_fields: int | None = None,
) -> Table:
    """Read a headerless (or header-skipping) delimited file whose fields hold no quoting.

    ``sep=None`` splits on runs of whitespace. Blank lines are skipped. Each row must have
    ``len(columns)`` fields (or at least ``min_fields``; missing trailing fields are then
    empty strings).
    """
    name = path.name
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as e:
        raise IngestError(name, f"not valid {encoding} text ({e.reason} at byte {e.start})") from e
    raw = text.splitlines()
    if header:
        raw = raw[1:]
    first = 2 if header else 1
    n = len(columns)
    lines: list[int] = []
    rows: list[list[str]] = []
    lo = n if min_fields is None else min_fields
    for i, line in enumerate(raw):
        if not line.strip():
            continue
        parts = line.split(sep)
        if not lo <= len(parts) <= n:
            want = str(n) if lo == n else f"{lo} to {n}"
            raise IngestError(
                name,
                f"expected {want} {sep_name(sep)} fields, got {len(parts)}",
                line=i + first,
            )
        if len(parts) < n:
            parts += [""] * (n - len(parts))
        rows.append(parts)
        lines.append(i + first)
    if not rows:
        raise IngestError(name, f"file has no data rows (expected {sep_name(sep)} {columns})")
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    return Table(name, frame, np.asarray(lines, dtype=np.int64))


def read_csv(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    encoding: str = "utf-8",
    allow_empty: bool = False,
) -> Table:
    """Read a quoted CSV file with a header row; every value is a string.

    Line numbers assume one record per physical line (no newlines inside quoted fields).
    Columns other than ``required`` and ``optional`` are kept too.
    """
    name = path.name
    expected = ",".join(required)
    try:
        with warnings.catch_warnings():
            # A first row longer than the header only warns (and loses data): make it fail.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding=encoding,
                index_col=False,
            )
    except pd.errors.EmptyDataError as e:
        raise IngestError(name, f"file is empty (expected a header {expected})") from e
    except (pd.errors.ParserError, pd.errors.ParserWarning) as e:
        raise _csv_shape_error(path, encoding) or IngestError(name, f"cannot parse CSV: {e}") from e
    except UnicodeDecodeError as e:
        raise IngestError(name, f"not valid {encoding} text ({e.reason} at byte {e.start})") from e
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise IngestError(
            name, f"missing column(s) {', '.join(missing)}; expected header {expected}", line=1
        )
    if frame.empty and not allow_empty:
        raise IngestError(name, f"file has no data rows (header {expected})")
    return Table(name, frame, np.arange(2, len(frame) + 2, dtype=np.int64))


def _csv_shape_error(path: Path, encoding: str) -> IngestError | None:
    """Find the first record whose field count differs from the header's (slow path)."""
    with path.open(encoding=encoding, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                return IngestError(
                    path.name,
                    f"expected {len(header)} comma-separated fields, got {len(row)}",
                    line=reader.line_num,
                )
    return None


# -- frame builders ---------------------------------------------------------------------------


def id_strings(values: Iterable[object]) -> pd.Series:
    return pd.Series([str(v) for v in values], dtype=object)


def entity_set(label: str, names: Iterable[str]) -> NodeSet:
    """Attribute entities keyed by their readable name (also stored as ``name``)."""
    uniq = list(dict.fromkeys(n for n in names if n))
    return NodeSet(label, pd.DataFrame({"id": uniq, "name": uniq}, dtype=object))


def link_set(
    rel: str,
    src_label: str,
    dst_label: str,
    src: Iterable[object],
    dst: Iterable[object],
    **props: object,
) -> RelSet:
    """Relationships ``src[i] -> dst[i]`` with property columns ``props`` (row-aligned)."""
    frame = pd.DataFrame({"src": list(src), "dst": list(dst), **props})
    return RelSet(rel, src_label, dst_label, frame)


def textual(video_ids: Sequence[str], texts: Sequence[str]) -> tuple[NodeSet, RelSet]:
    """Textual modality nodes (``id`` = video id, ``vector``, ``text``) and HAS_TEXTUAL links.

    ``vector`` holds a plain list of floats (``embed_texts``, default 384 wide).
    """
    vecs = embed_texts(list(texts))
    return modality(model.TEXTUAL, video_ids, vecs, texts=texts)


def modality(
    label: str,
    video_ids: Sequence[str],
    vectors: np.ndarray,
    texts: Sequence[str] | None = None,
) -> tuple[NodeSet, RelSet]:
    """Modality nodes for one label (row i of ``vectors`` belongs to ``video_ids[i]``)."""
    ids = list(video_ids)
    frame = pd.DataFrame({"id": ids})
    frame["vector"] = [row.astype(np.float64).tolist() for row in vectors]
    if texts is not None:
        frame["text"] = list(texts)
    rels = link_set(model.HAS_MODALITY[label], model.VIDEO, label, ids, ids)
    return NodeSet(label, frame), rels


def normalise_tag(tag: str) -> str:
    """Tags compare case-insensitively with runs of whitespace folded: ``" Dark  Comedy"`` ->
    ``"dark comedy"``."""
    return " ".join(str(tag).lower().split())


def split_multi(values: pd.Series, sep: str = "|") -> list[list[str]]:
    """Split multi-valued cells; empty parts are dropped."""
    return [[p.strip() for p in str(v).split(sep) if p.strip()] for v in values]


def explode_links(
    video_ids: Sequence[str], values: Sequence[Sequence[str]]
) -> tuple[list[str], list[str]]:
    src: list[str] = []
    dst: list[str] = []
    for vid, vals in zip(video_ids, values, strict=True):
        for v in dict.fromkeys(vals):  # a value repeated in one cell links once
            src.append(vid)
            dst.append(v)
    return src, dst
