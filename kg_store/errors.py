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
