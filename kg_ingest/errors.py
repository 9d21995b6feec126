"""The one exception the loaders raise for bad input files."""

from __future__ import annotations


class IngestError(Exception):
    """A source file cannot be loaded; the message names the file, line and field.

    ``str(err)`` reads like ``"u.data line 17: expected 4 tab-separated fields, got 3"`` or
    ``"u.user line 5, field 'age': 'abc' is not an integer"``. The parse failure behind it, if
    any, is kept as ``__cause__`` (raise with ``from``).

    Args:
        file: the file's name (not its full path: messages stay short and readable).
        message: what is wrong, phrased so a user can fix the file.
        line: 1-based physical line number, when the problem is on one line.
        field: the column or field name, when the problem is in one field.
    """

    def __init__(
        self, file: str, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.detail = message
        where = file
        if line is not None:
            where += f" line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")
