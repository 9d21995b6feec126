"""``kgrec ui``: start the Streamlit dashboard against the configured store.

Added to the main app by :func:`register`. The store is opened first (the embedded FalkorDB is
started when it is not running), so a store that does not answer fails here with one line, not
inside the browser. Streamlit runs headless (no browser opened, no usage statistics sent).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

APP = Path(__file__).resolve().with_name("app.py")


def streamlit_command(port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line for the dashboard."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port),
        "--server.address", address,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--theme.base", "light",
    ]  # fmt: skip


def ui(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    graph: Annotated[
        str | None, typer.Option("--graph", help="Graph name (default: KGREC_GRAPH or 'kg').")
    ] = None,
) -> None:
    """Start the dashboard (Overview, Explore, Query, Recommend, Models, Similar)."""
    from kg_store import StoreError, open_store
    from kgrec.cli import fail, settings

    s = settings()
    try:
        import streamlit  # noqa: F401
    except ImportError as e:
        raise fail("the dashboard needs the ui extra: pip install -e '.[ui]'") from e
    try:
        store = open_store(s, graph)
        where = store.describe()
        store.close()
    except StoreError as e:
        raise fail(str(e)) from e
    env = dict(os.environ)
    env["KGREC_HOME"] = str(s.home)
    if graph:
        env["KGREC_GRAPH"] = graph
    print(f"kgrec dashboard on http://{address}:{port} ({where}); Ctrl-C stops it", flush=True)
    cmd = streamlit_command(port, address)
    # become the Streamlit server, so that signals (Ctrl-C, a service manager's SIGTERM) reach it
    os.execve(cmd[0], cmd, env)


def register(app: typer.Typer) -> None:
    """Add ``kgrec ui`` to the main app."""
    app.command("ui")(ui)
