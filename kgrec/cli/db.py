"""``kgrec db start|stop|status``: the embedded FalkorDB store."""

from __future__ import annotations

import json
from typing import Any

import typer

from kgrec.cli.console import JsonOpt, domain_errors, out, settings

db_app = typer.Typer(
    help="Start, stop and inspect the embedded FalkorDB store.", no_args_is_help=True
)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded store for KGREC_HOME (or report the one already running)."""
    from kg_store import embedded

    s = settings()
    with domain_errors():
        before = embedded.status(s.store_dir)
        info = embedded.start(s.store_dir, timeout=s.startup_timeout)
    verb = "already running" if before else "started"
    out.print(f"FalkorDB {verb}: 127.0.0.1:{info.port} pid {info.pid} data {info.data_dir}")


@db_app.command("stop")
def db_stop() -> None:
    """Save the graph and stop the embedded store."""
    from kg_store import embedded

    s = settings()
    stopped = embedded.stop(s.store_dir)
    out.print("FalkorDB stopped" if stopped else "FalkorDB was not running")


@db_app.command("status")
def db_status(as_json: JsonOpt = False) -> None:
    """Show whether the store answers (embedded FalkorDB, or Neo4j when KGREC_GRAPH_URI is set)."""
    from kg_store import embedded, open_store

    s = settings()
    if s.graph_uri:
        with domain_errors():
            store = open_store(s)
            state: dict[str, Any] = {
                "backend": "neo4j",
                "running": True,
                "target": store.describe(),
            }
            store.close()
    else:
        from kg_store.falkordb_store import FalkorDBStore

        info = embedded.status(s.store_dir)
        state = {"backend": "falkordb", "running": info is not None, "data_dir": str(s.store_dir)}
        if info:
            state.update(port=info.port, pid=info.pid)
            with domain_errors():
                store = FalkorDBStore.for_server(info, s.graph)
                graphs = sorted(store.graphs())
                staging = store.staging_graphs(every=True)
                state["graphs"] = [g for g in graphs if g not in staging]
                # a staging graph is a full copy a load writes into; one that outlived its
                # load (killed client) is removed by the next write to that graph
                state["staging"] = staging
                store.close()
    if as_json:
        print(json.dumps(state))
    else:
        out.print(state)
    if not state["running"]:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    """Add the ``db`` group."""
    app.add_typer(db_app, name="db")
