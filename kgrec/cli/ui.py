"""``kgrec ui``: start the Streamlit dashboard against the configured store.

The store is opened first (the embedded FalkorDB is started when it is not running), so a
store that does not answer fails here with one line, not inside the browser. Streamlit runs
headless (no browser opened, no usage statistics sent).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli.console import GraphOpt, fail, failing, settings


def dashboard_app() -> Path:
    """The dashboard's Streamlit script, ``ui/app.py``."""
    spec = importlib.util.find_spec("ui.app")
    assert spec is not None and spec.origin is not None, "the ui package is not installed"
    return Path(spec.origin).resolve()


def streamlit_command(port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line for the dashboard."""
    return [
        sys.executable, "-m", "streamlit", "run", str(dashboard_app()),
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
    graph: GraphOpt = None,
) -> None:
    """Start the dashboard (Overview, Explore, Query, Recommend, Models, Similar)."""
    from kg_store import StoreError, open_store

    s = settings()
    try:
        import streamlit  # noqa: F401
    except ImportError as e:
        raise fail("the dashboard needs the ui extra: pip install -e '.[ui]'") from e
    with failing(StoreError):
        store = open_store(s, graph)
        where = store.describe()
        store.close()
    env = dict(os.environ)
    env["KGREC_HOME"] = str(s.home)
    if graph:
        env["KGREC_GRAPH"] = graph
    print(f"kgrec dashboard on http://{address}:{port} ({where}); Ctrl-C stops it", flush=True)
    cmd = streamlit_command(port, address)
    # become the Streamlit server, so that signals (Ctrl-C, a service manager's SIGTERM) reach it
    os.execve(cmd[0], cmd, env)


def register(app: typer.Typer) -> None:
    """Add ``ui``."""
    app.command("ui")(ui)
