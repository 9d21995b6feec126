"""The dashboard's access to the graph store and the run directories.

Every statement comes from the ``cypher/`` library through :mod:`kg_store` (the dashboard's own
ones live in ``cypher/ui/``); every one runs on the read-only, capped runner. Answers of library
queries are cached for a minute (``st.cache_data``), the store connection for the process
(``st.cache_resource``); free Cypher typed by a user is never cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from kg_store import GraphStore, QueryResult, StoreError, library, open_store
from kgrec.settings import Settings

CACHE_TTL_S = 60


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Settings read once from the environment ``kgrec ui`` passed on."""
    return Settings()


@st.cache_resource(show_spinner="Connecting to the graph store…")
def store(graph: str | None = None) -> GraphStore:
    """The configured store (the embedded FalkorDB is started if it is not running), on
    ``graph`` (default: the configured graph, ``KGREC_GRAPH``)."""
    return open_store(settings(), graph)


def statement(name: str) -> library.Statement:
    return library.load(name, store().dialect)


def library_names() -> list[str]:
    """The analysts' library (top level of ``cypher/``)."""
    return library.library_names()


def has_query(name: str) -> bool:
    try:
        statement(name)
    except StoreError:
        return False
    return True


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=500)
def query(
    name: str, params: dict[str, Any] | None = None, max_rows: int = 0, graph: str | None = None
) -> QueryResult:
    """A library statement, read-only and capped (``max_rows`` 0: the configured cap), on
    ``graph`` (default: the configured one)."""
    s = settings()
    return store(graph).query(
        name, params or {}, max_rows=max_rows or s.max_rows, timeout=s.query_timeout
    )


def frame(name: str, params: dict[str, Any] | None = None, max_rows: int = 0) -> pd.DataFrame:
    res = query(name, params, max_rows)
    return pd.DataFrame(res.rows, columns=res.columns)


def run_cypher(text: str, max_rows: int = 0) -> QueryResult:
    """A user's own statement: refused before it reaches the server if it could write."""
    s = settings()
    return store().read_only(text, {}, max_rows=max_rows or s.max_rows, timeout=s.query_timeout)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def stats() -> dict[str, dict[str, int]]:
    return store().stats()


def example_id(label: str) -> str:
    """Some node id of ``label`` (the most connected one is not needed: any will do)."""
    rows = query("ui/find_nodes", {"text": "", "label": label, "limit": 1}).rows
    return str(rows[0][1]) if rows else ""


def plain_error(e: BaseException) -> str:
    """A message for people: the project's errors are already written for them."""
    text = str(e).strip()
    if isinstance(e, StoreError) and "\n" in text:
        text = text.split("\n", 1)[0]  # the statement text follows; it is shown elsewhere
    return text or type(e).__name__


@contextmanager
def shown_errors(what: str) -> Iterator[None]:
    """Show a failure of ``what`` in plain words on the page and stop the page there."""
    try:
        yield
    except (StoreError, ValueError, FileNotFoundError, KeyError) as e:
        st.error(f"{what} failed: {plain_error(e)}")
        st.stop()
