"""Reading the loaders' text files: tables that remember the line number of each row, typed
columns that fail with :class:`~kg_ingest.errors.IngestError` naming file, line and field,
strict quoted CSV (RFC 4180) and headerless delimited files."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest.errors import IngestError

_SEP_NAMES = {"\t": "tab-separated", ",": "comma-separated", " ": "space-separated"}


def sep_name(sep: str | None) -> str:
    """How a separator reads in messages; ``None`` means runs of whitespace."""
    if sep is None:
        return "space-separated"
    return _SEP_NAMES.get(sep, f"{sep!r}-separated")


@dataclass
class Table:
    """Rows of one file as string columns, with the 1-based line number of each row.

    ``columns`` maps a column name to its 1-based position on the line, for files without a
    header (where the names are ours, not the file's): errors about such a column give both.
    """

    file: str
    frame: pd.DataFrame
    lines: np.ndarray
    columns: dict[str, int] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def error(self, pos: int, message: str, field: str | None = None) -> IngestError:
        column = self.columns.get(field) if field is not None else None
        return IngestError(
            self.file, message, line=int(self.lines[pos]), field=field, column=column
        )

    def subset(self, mask: np.ndarray) -> Table:
        """The rows where ``mask`` is True, keeping their line numbers and column positions."""
        return Table(self.file, self.frame.loc[mask], self.lines[mask], self.columns)

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
            if lo is not None and hi is not None:
                rule = f"is outside the range {lo}..{hi}"
            elif lo is not None:
                rule = f"is below the minimum {lo}"
            else:
                rule = f"is above the maximum {hi}"
            raise self.error(pos, f"{raw} {rule}", col)

    def check_refs(self, col: str, keys: pd.Series, known: pd.Index, what: str) -> None:
        """Every value of ``keys`` (row-aligned) must be in ``known``; else name the line."""
        bad = np.flatnonzero(~keys.isin(known).to_numpy())
        if len(bad):
            pos = int(bad[0])
            raise self.error(pos, f"unknown {what} {keys.iloc[pos]!r}", col)

    def check_unique(self, cols: Sequence[str], what: str) -> None:
        """No two rows may share the values of ``cols``; names both lines (and, for a key of
        several columns, its values)."""
        dup = self.frame.duplicated(list(cols), keep=False).to_numpy()
        if dup.any():
            key = self.frame.loc[dup, list(cols)].apply(tuple, axis=1)
            second = int(np.flatnonzero(key.duplicated().to_numpy())[0])
            pos = int(np.flatnonzero(dup)[second])
            first_pos = int(np.flatnonzero(dup)[int(np.flatnonzero(key == key.iloc[second])[0])])
            first = f"first at line {self.lines[first_pos]}"
            if len(cols) == 1:
                raise self.error(pos, f"duplicate {what} {key.iloc[second][0]!r} ({first})",
                                 cols[0])  # fmt: skip
            values = ", ".join(f"{c} {v!r}" for c, v in zip(cols, key.iloc[second], strict=True))
            raise self.error(pos, f"duplicate {what} ({values}; {first})")


def require_file(path: Path, layout: str) -> Path:
    if not path.is_file():
        raise IngestError(path.name, f"required file is missing from {path.parent} ({layout})")
    return path


def read_text(path: Path, encoding: str = "utf-8", name: str | None = None) -> str:
    """The whole file as text; bad bytes raise :class:`IngestError` with their line number.

    Line ends are left as they are (split them with :func:`text_lines`).
    """
    name = name or path.name
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise IngestError(
            name, f"not valid {encoding} text ({e.reason} at byte {e.start})", line=line
        ) from e


def text_lines(text: str) -> list[str]:
    """Physical lines split at ``\\n``, ``\\r\\n`` or ``\\r`` only (``str.splitlines`` also
    splits at characters such as U+0085, which latin-1 files hold as byte 0x85)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


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
    empty strings). Errors about a column give its position on the line too.
    """
    name = path.name
    raw = text_lines(read_text(path, encoding))
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
    positions = {c: k + 1 for k, c in enumerate(columns)}
    return Table(name, frame, np.asarray(lines, dtype=np.int64), positions)


def read_csv(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    encoding: str = "utf-8",
    allow_empty: bool = False,
) -> Table:
    """Read a quoted CSV file with a header row (RFC 4180); every value is a string.

    Parsing is strict: a field that opens with ``"`` must close with ``"`` followed by ``,`` or
    the end of the line, and a quote inside it must be doubled (``""``); every record must have
    as many fields as the header. A quoted field may span lines; a record's line number is the
    line it starts on. Blank lines are skipped. Columns other than ``required`` and
    ``optional`` are kept too.
    """
    name = path.name
    expected = ",".join(required)
    text = read_text(path, encoding)
    if text.startswith("\ufeff"):  # a byte-order mark (spreadsheet exports write one)
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1  # the physical line the record being read starts on
    try:
        for row in reader:
            here, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if header is None:
                header = [c.strip() for c in row]
                header_line = here
                continue
            if len(row) != len(header):
                raise IngestError(
                    name, f"expected {len(header)} comma-separated fields, got {len(row)}",
                    line=here,
                )  # fmt: skip
            rows.append(row)
            lines.append(here)
    except csv.Error as e:
        raise _quote_error(name, text, start, reader.line_num, header, str(e)) from e
    if header is None:
        raise IngestError(name, f"file is empty (expected a header {expected})")
    seen: set[str] = set()
    for c in header:
        if c in seen:
            raise IngestError(name, f"column {c!r} appears twice in the header", line=header_line)
        seen.add(c)
    missing = [c for c in required if c not in header]
    if missing:
        raise IngestError(
            name,
            f"missing column(s) {', '.join(missing)}; expected header {expected}",
            line=header_line,
        )
    if not rows and not allow_empty:
        raise IngestError(name, f"file has no data rows (header {expected})")
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return Table(name, frame, np.asarray(lines, dtype=np.int64))  # the header names columns


def read_records(
    path: Path, delimiter: str = ",", *, encoding: str = "utf-8"
) -> tuple[list[str], int, pd.DataFrame, np.ndarray]:
    """A delimited file with a header row, parsed by :mod:`csv` (strict quoting, RFC 4180):
    the header's fields as written, the header's line, the records (string columns by
    position) and the physical line each starts on. Every record must have as many fields as
    the header; blank lines are skipped; a byte-order mark is dropped. An empty file gives an
    empty header. A file without quotes or blank lines is split in bulk (same result)."""
    name = path.name
    text = read_text(path, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    first = text.split("\n", 1)[0].rstrip("\r")
    if '"' not in text and first.strip() and delimiter in first:
        # bulk, by pandas' C parser: a longer line raises ParserError, and the delimiters
        # counted show a shorter or blank one; then csv below names the line
        with contextlib.suppress(pd.errors.ParserError):
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=0, dtype=str,
                                keep_default_na=False, quoting=csv.QUOTE_NONE,
                                skip_blank_lines=False, engine="c")  # fmt: skip
            names = first.split(delimiter)
            width = len(names)
            if frame.shape[1] == width and text.count(delimiter) == (width - 1) * (len(frame) + 1):
                at = np.arange(2, len(frame) + 2, dtype=np.int64)
                return names, 1, frame.set_axis(range(width), axis=1).astype(object), at
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for row in reader:
            here, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header is None:
                header, header_line = row, here
                continue
            if len(row) != len(header):
                raise IngestError(
                    name, f"expected {len(header)} {sep_name(delimiter)} fields, got {len(row)}",
                    line=here,
                )  # fmt: skip
            rows.append(row)
            lines.append(here)
    except csv.Error as e:
        if delimiter == ",":
            raise _quote_error(name, text, start, reader.line_num, header, str(e)) from e
        raise IngestError(name, f"malformed quoting ({e}): a field that opens with a double "
                          'quote must close with one, and a quote inside it be doubled ("")',
                          line=start) from e  # fmt: skip
    frame = pd.DataFrame(rows, columns=range(len(header or [])), dtype=object)
    return header or [], header_line, frame, np.asarray(lines, dtype=np.int64)


def _quote_error(
    name: str, text: str, start: int, end: int, header: list[str] | None, problem: str
) -> IngestError:
    """An :class:`IngestError` for what :mod:`csv` rejected in the record on lines
    ``start..end``: the line and field of the bad quote, and how to write it."""
    record = "\n".join(text_lines(text)[start - 1 : max(end, start)])
    found = _bad_quote(record)
    if found is None:
        return IngestError(name, f"malformed CSV record: {problem}", line=start)
    col, line_off, after = found
    field = header[col] if header is not None and col < len(header) else None
    if after is None:
        msg = 'malformed quoting: a quoted field opened here is never closed (no closing ")'
    else:
        msg = (
            'malformed quoting: a quote inside a quoted field must be doubled (""); the '
            f"quote before {after!r} is not (or text follows the field's closing quote)"
        )
    if field is None:  # a record longer than the header: say which field
        return IngestError(name, msg, line=start + line_off, column=col + 1)
    return IngestError(name, msg, line=start + line_off, field=field)


def _bad_quote(record: str) -> tuple[int, int, str | None] | None:
    """The first quoting error of one CSV record (lines joined by ``\\n``): (0-based field,
    0-based line within the record, the text after a lone quote that ends a quoted field
    early, or None for a quoted field never closed); None when there is none."""
    col = line = i = 0
    n = len(record)
    while i < n:
        if record[i] == '"':  # a quoted field
            open_line = line
            i += 1
            while True:
                if i >= n:
                    return col, open_line, None
                ch = record[i]
                if ch == "\n":
                    line += 1
                elif ch == '"':
                    if i + 1 < n and record[i + 1] == '"':
                        i += 1  # a doubled quote
                    elif i + 1 < n and record[i + 1] not in ",\r\n":
                        return col, line, record[i + 1 : i + 13].split("\n")[0]
                    else:
                        i += 1
                        break
                i += 1
        while i < n and record[i] not in ",\n":  # the (rest of an) unquoted field
            i += 1
        if i < n and record[i] == "\n":
            line += 1
        i += 1
        col += 1
    return None
