"""The ``kgrec`` command: :data:`app` and :func:`main` (the ``kgrec`` entry point).

One module per command group (``kgrec/cli/<group>.py``, each with ``register(app)``), and
:mod:`kgrec.cli.console` for what they share. Commands import numpy, pandas, torch, FastAPI
and Streamlit inside their functions: ``kgrec --help`` and ``kgrec db status`` load none of
them.
"""

from __future__ import annotations

import typer

from kgrec.cli import (
    compare,
    db,
    demo,
    embed,
    export,
    ingest,
    query,
    refit,
    serve,
    spec,
    train,
    tune,
    ui,
)

app = typer.Typer(
    help="Knowledge-graph-based, explainable video recommendation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# `kgrec --help` lists the commands in this order, then the groups (db, ingest, similar)
for _module in (db, ingest, export, spec, query, demo, train, refit, compare, tune, serve, embed,
                ui):  # fmt: skip
    _module.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
