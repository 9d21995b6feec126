"""Domain errors of the graph store; driver errors are kept as ``__cause__``."""


class StoreError(Exception):
    """Any failure talking to a graph database, with a message a user can act on."""


class StoreUnavailable(StoreError):
    """The server cannot be started or reached."""


class ReadOnlyViolation(StoreError):
    """An analyst's statement would write to the graph; it was not run."""


class QueryError(StoreError):
    """A statement failed on the server (syntax, missing parameter, timeout, ...)."""


class UnknownQuery(StoreError):
    """No file of that name in the Cypher library."""


QUOTE_LIMIT = 600
"""Most characters of a statement or server message that an error message quotes."""


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out: an error about a
    batched statement must not carry the whole batch."""
    text = str(text)
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]} … [{len(text) - limit:,} characters left out] … {text[-tail:]}"
