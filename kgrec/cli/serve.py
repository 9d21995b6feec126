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

from kgrec.cli.console import err, fail, failing

out = Console(soft_wrap=True)  # stdout, soft-wrapped (console.out is not)


def recommend(
    user: Annotated[str, typer.Option("--user", help="The User's id.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=500, help="How many items.")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Add path explanations.")] = False,
    paths: Annotated[int, typer.Option(min=1, max=10, help="Paths per item.")] = 3,
    max_len: Annotated[int, typer.Option(min=1, max=4, help="Longest path.")] = 3,
    run: Annotated[str, typer.Option(help="Run path, name, name prefix or 'latest'.")] = "latest",
    path_ranking: Annotated[
        str,
        typer.Option(
            help="Rank paths by the model's weight alone (model), with the linking "
            "entities' specificity, the costliest to mask first and the user's own history "
            "before demographics (balanced), mostly by specificity (specific), or the "
            "costliest to mask first, demographics included (faithful)."
        ),
    ] = "balanced",
    counterfactual: Annotated[
        bool,
        typer.Option(
            "--counterfactual",
            help="With --explain: each path's item score and "
            "rank without it (attention models; one propagation per path).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """A user's top-k unseen videos from a trained run, optionally with the KG paths why."""
    from api.app import load_service
    from kgrec.settings import get_settings
    from recommend.explain import PRESETS, UnknownEntity

    if path_ranking not in PRESETS:
        raise fail(f"--path-ranking must be one of {', '.join(PRESETS)}, not {path_ranking!r}", 2)
    if counterfactual and not explain:
        raise fail("--counterfactual needs --explain", 2)

    # an unknown user or item: its own message; a missing run or key: without repr's quotes
    missing = failing(FileNotFoundError, ValueError, KeyError, strip_quotes=True)
    with missing, failing(UnknownEntity):
        with err.status("loading the run ..."):
            svc = load_service(get_settings(), run)
        with err.status("ranking and explaining ..."):
            answer = svc.recommend(user, k=k, explain=explain, paths=paths, max_len=max_len,
                                   path_ranking=path_ranking,
                                   counterfactual=counterfactual)  # fmt: skip
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
            cells.append("\n".join(_why(r) for r in it["reasons"]))
        t.add_row(*cells)
    out.print(t)
    cost = answer.get("cost") or {}
    if explain and cost:
        extra = (f", {cost['masked_paths']} path(s) masked in {cost['counterfactual_ms']:.0f} ms"
                 if cost.get("masked_paths") else "")  # fmt: skip
        out.print(f"ranked by {answer.get('path_ranking')}; explained in "
                  f"{cost['explain_ms']:.0f} ms{extra}")  # fmt: skip


def _why(r: dict[str, Any]) -> str:
    """One reason: its sentence, score, and what the item would lose without it."""
    text = f"{r['text']} ({r['score']:.2e})"
    cf = r.get("counterfactual")
    if cf:
        text += (f"; without it #{cf['base_rank']} -> #{cf['rank']} (score "
                 f"{cf['base_score']:.3f} -> {cf['score']:.3f})")  # fmt: skip
    return text


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
