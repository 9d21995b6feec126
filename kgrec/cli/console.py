"""What every ``kgrec`` command shares: the two consoles, the common options, the one-line
error and its exit code, progress bars and JSON-safe values.

Light on purpose (typer and rich only): every command imports it, ``kgrec --help`` too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kgrec.settings import Settings

out = Console()
"""stdout: tables and results (a command's ``--json`` prints with plain ``print``)."""
err = Console(stderr=True, soft_wrap=True)
"""stderr: errors, warnings, progress, status lines."""

GraphOpt = Annotated[
    str | None, typer.Option("--graph", help="Graph name (default: KGREC_GRAPH or 'kg').")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def settings() -> Settings:
    return Settings()


# -- errors ------------------------------------------------------------------------------------
def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; the exit to raise: ``raise fail(...)``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def failing(*kinds: type[BaseException], strip_quotes: bool = False) -> Iterator[None]:
    """Turn an exception of ``kinds`` raised inside into its message on one line (quotes
    around it stripped with ``strip_quotes``: a ``KeyError`` shows its key quoted) and exit
    code 1. The exit of a :func:`fail` inside passes through: a ``typer.Exit`` is a
    ``RuntimeError``."""
    try:
        yield
    except typer.Exit:
        raise
    except kinds as e:
        message = str(e)
        raise fail(message.strip("'\"") if strip_quotes else message) from e


def domain_errors() -> AbstractContextManager[None]:
    """The store's, the loaders' and bad values' errors as one line and exit code 1."""
    from kg_ingest.errors import IngestError
    from kg_store import StoreError

    return failing(StoreError, ValueError, IngestError)


def run_errors() -> AbstractContextManager[None]:
    """For the commands that train or read runs: also a missing run or file, an unknown name
    (``KeyError``) and what torch raises (``RuntimeError``)."""
    from kg_store import StoreError

    return failing(
        StoreError, FileNotFoundError, ValueError, KeyError, RuntimeError, strip_quotes=True
    )


# -- progress ----------------------------------------------------------------------------------
def progress(*, transient: bool = False) -> Progress:
    """A progress bar on stderr: done/total and the time left, kept on screen when done; or,
    ``transient``, a percentage, removed when done (a load, the demo's steps)."""
    columns: tuple[ProgressColumn, ...]
    if transient:
        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                   TimeElapsedColumn())  # fmt: skip
    else:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    return Progress(*columns, console=err, transient=transient)


# -- values ------------------------------------------------------------------------------------
def jsonable(v: Any) -> Any:
    """A query result value as JSON can carry it: :func:`kgrec.runs.jsonsafe` with nodes and
    relationships from the drivers becoming their properties."""
    from kgrec.runs import jsonsafe  # here: kgrec.runs loads numpy, every command loads this

    return jsonsafe(v, unwrap=True)
