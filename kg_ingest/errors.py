"""The one exception the loaders raise for bad input files."""

from __future__ import annotations


class IngestError(Exception):
    """A source file cannot be loaded; the message names the file, line and field.

    ``str(err)`` reads like ``"u.data line 17: expected 4 tab-separated fields, got 3"`` or
    ``"u.user line 5, field 'age': 'abc' is not an integer"`` (files without a header row also
    give the 1-based column: ``"u.item line 12, field 'genre Western' (column 24): ..."``). The
    parse failure behind it, if any, is kept as ``__cause__`` (raise with ``from``).

    Args:
        file: the file's name (not its full path: messages stay short and readable).
        message: what is wrong, phrased so a user can fix the file.
        line: 1-based physical line number, when the problem is on one line.
        field: the column or field name, when the problem is in one field.
        column: the field's 1-based position on the line, when that helps find it.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.column = column
        self.detail = message
        where = file
        if line is not None:
            where += f" line {line}"
        if field is not None:
            where += f", field {field!r}"
        if column is not None:
            where += f" (column {column})"
        super().__init__(f"{where}: {message}")
