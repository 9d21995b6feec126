"""``kgrec recommend`` and ``kgrec serve``: a trained run's recommendations, and the HTTP API.

``recommend`` loads a run (no database needed; display names come from the run's cache, or from
the embedded store when it is running) and prints a user's top-k with reasons; with ``--json``
stdout carries exactly one JSON object, the API's answer. ``serve`` runs the HTTP API.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kgrec.cli.console import err, failing

out = Console(soft_wrap=True)  # stdout, soft-wrapped (console.out is not)


def recommend(
    user: Annotated[str, typer.Option("--user", help="The User's id.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=500, help="How many items.")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Add path explanations.")] = False,
    paths: Annotated[int, typer.Option(min=1, max=10, help="Paths per item.")] = 3,
    max_len: Annotated[int, typer.Option(min=1, max=4, help="Longest path.")] = 3,
    run: Annotated[str, typer.Option(help="Run path, name, name prefix or 'latest'.")] = "latest",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A user's top-k unseen videos from a trained run, optionally with the KG paths why."""
    from api.app import load_service
    from kgrec.settings import get_settings
    from recommend.explain import UnknownEntity

    # an unknown user or item: its own message; a missing run or key: without repr's quotes
    missing = failing(FileNotFoundError, ValueError, KeyError, strip_quotes=True)
    with missing, failing(UnknownEntity):
        with err.status("loading the run ..."):
            svc = load_service(get_settings(), run)
        answer = svc.recommend(user, k=k, explain=explain, paths=paths, max_len=max_len)
    if as_json:
        print(json.dumps(answer))
        return
    _print(answer, explain)


def _print(answer: dict[str, Any], explain: bool) -> None:
    t = Table(title=f"user {answer['user']}: {answer['model']} ({answer['run']})")
    for c in ("rank", "item", "name", "score"):
        t.add_column(c, justify="right" if c in ("rank", "score") else "left")
    if explain:
        t.add_column("why")
    for it in answer["items"]:
        cells = [str(it["rank"]), it["item"], it["name"], f"{it['score']:.4f}"]
        if explain:
            cells.append("\n".join(f"{r['text']} ({r['score']:.2e})" for r in it["reasons"]))
        t.add_row(*cells)
    out.print(t)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    run: Annotated[
        str | None, typer.Option(help="Run path, name, name prefix or 'latest' (default).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) for a trained run on the configured graph."""
    import os

    import uvicorn

    from api.app import RUN_ENV
    from kg_store import StoreError, embedded
    from kgrec.settings import get_settings

    s = get_settings()
    if not s.graph_uri:  # like every kgrec command: start (or reuse) the embedded store
        try:
            info = embedded.start(s.store_dir, timeout=s.startup_timeout)
            err.print(f"embedded FalkorDB on 127.0.0.1:{info.port}", highlight=False)
        except StoreError as e:  # the API still serves recommendations; /readyz says why not
            err.print(f"[yellow]warning:[/] {e}", highlight=False)
    if run:
        os.environ[RUN_ENV] = run
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``recommend`` and ``serve`` to the ``kgrec`` app."""
    app.command("recommend")(recommend)
    app.command("serve")(serve)
