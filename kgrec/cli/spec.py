"""``kgrec spec``: the dataset spec (:mod:`kgrec.spec`) that chooses what a model trains on.

``kgrec spec show`` prints kgrec's own schema as a spec to start from (or a spec file,
validated and with its defaults filled in); ``kgrec spec check FILE`` checks a spec against a
graph and prints what it would export, before anything trains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgrec.cli.console import JsonOpt, domain_errors, err, out

spec_app = typer.Typer(help="Dataset specs: which part of a graph a model trains on.")


@spec_app.command("show")
def show(
    path: Annotated[
        Path | None, typer.Argument(help="A spec file (default: kgrec's own schema).")
    ] = None,
) -> None:
    """Print a spec as TOML: kgrec's own schema, or FILE validated with its defaults."""
    from kgrec.cli.exporting import read_spec
    from kgrec.spec import default_spec

    with domain_errors():
        spec = read_spec(path) or default_spec()
    print(spec.to_toml(), end="")


@spec_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="The spec file.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Graph to check against (default: KGREC_GRAPH).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check FILE against a graph and show what it exports: nodes per label, relationships per
    type (the roles' labels as the graph names them)."""
    from kgrec.cli.exporting import export_graph, read_spec
    from kgrec.settings import get_settings

    s = get_settings()
    with domain_errors():
        spec = read_spec(path)
        assert spec is not None
        export, _ = export_graph(s, dataset or s.graph, spec)
    shown = lambda lab: export.source_label(lab)  # noqa: E731
    nodes = {shown(k): len(v) for k, v in sorted(export.ids.items())}
    rels = {f"{shown(a)}-{t}->{shown(b)}": len(f) for (a, t, b), f in sorted(export.edges.items())}
    if as_json:
        print(json.dumps({"nodes": nodes, "relationships": rels,
                          "features": {shown(k): list(v.shape)
                                       for k, v in export.features.items()}}))  # fmt: skip
        return
    table = Table(title=f"{path}: what it exports")
    table.add_column("nodes / relationships")
    table.add_column("count", justify="right")
    for k, n in nodes.items():
        table.add_row(k, f"{n:,}")
    for k, n in rels.items():
        table.add_row(k, f"{n:,}")
    out.print(table)
    err.print(f"{path}: fits the graph", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")
