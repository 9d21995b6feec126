"""``kgrec ingest <loader>``: one command per loader of :mod:`kg_ingest.registry`."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from kg_ingest.registry import LOADERS, Loader
from kgrec.cli.console import GraphOpt, domain_errors, out, progress, settings
from kgrec.cli.query import print_stats

MergeOpt = Annotated[
    bool,
    typer.Option(
        "--merge",
        help="Load into a graph that holds another dataset, merging nodes that have the same "
        "label and id (refused by default).",
    ),
]
PathArg = Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Dataset folder.")]


def load(
    loader: Loader, source: Path | Mapping[str, int], graph: str | None, merge: bool = False
) -> None:
    """Parse and validate, then load as one (atomic on FalkorDB) write recorded as the
    loader's dataset name in the graph; another dataset's nodes are not merged unless
    ``merge``."""
    from kg_store import open_store

    s = settings()
    kind = loader.title
    with domain_errors():
        t0 = time.perf_counter()
        with out.status(f"parsing and validating {kind} ..."):
            data = loader.parse(source)
        parse_s = time.perf_counter() - t0
        store = open_store(s, graph)
        with progress(transient=True) as bar:
            task = bar.add_task(f"loading into {store.describe()}", total=None)

            def report(stage: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"writing {stage}")

            rep = store.load(data, progress=report, merge=merge)
        counts = store.stats()
        store.close()
    out.print(
        f"[green]loaded[/] {kind}: {rep.nodes:,} nodes and {rep.relationships:,} relationships "
        f"({rep.mode}) in {parse_s + rep.seconds:.1f} s "
        f"(parse {parse_s:.1f} s, write {rep.seconds:.1f} s)"
    )
    print_stats(counts)


def command(loader: Loader) -> Callable[..., None]:
    """The ``kgrec ingest`` command of one loader: a folder argument, or its options; then
    ``--graph`` and ``--merge``."""
    if loader.takes_folder:

        def from_folder(path: PathArg, graph: GraphOpt = None, merge: MergeOpt = False) -> None:
            load(loader, path, graph, merge)

        from_folder.__doc__ = loader.help
        return from_folder

    def from_options(graph: str | None, merge: bool, **options: int) -> None:
        load(loader, options, graph, merge)

    params = [
        inspect.Parameter(
            o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default,
            annotation=Annotated[int, typer.Option(min=o.min, max=o.max, help=o.help)],
        )
        for o in loader.options
    ]  # fmt: skip
    params += [
        inspect.Parameter("graph", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=GraphOpt),
        inspect.Parameter("merge", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=MergeOpt),
    ]  # fmt: skip
    fn: Any = from_options
    fn.__signature__ = inspect.Signature(params, return_annotation=None)
    fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    fn.__doc__ = loader.help
    return from_options


def ingest_app(loaders: Iterable[Loader]) -> typer.Typer:
    """The ``ingest`` group with one command per loader, in the given order."""
    group = typer.Typer(help="Load a dataset into the knowledge graph.", no_args_is_help=True)
    for loader in loaders:
        group.command(loader.name)(command(loader))
    return group


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` group, built from the registered loaders."""
    app.add_typer(ingest_app(LOADERS.values()), name="ingest")
