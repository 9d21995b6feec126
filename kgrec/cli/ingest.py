"""``kgrec ingest <loader>``: one command per loader of :mod:`kg_ingest.registry`."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from kg_ingest.registry import LOADERS, Loader, Option
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
    loader: Loader,
    source: Path | Mapping[str, Any],
    graph: str | None,
    merge: bool = False,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Parse and validate, then load as one (atomic on FalkorDB) write recorded as the
    loader's dataset name in the graph; another dataset's nodes are not merged unless
    ``merge``. ``options``: those of a loader that reads a folder or file."""
    from kg_store import open_store

    s = settings()
    kind = loader.title
    with domain_errors():
        t0 = time.perf_counter()
        with out.status(f"parsing and validating {kind} ..."):
            data = loader.parse(source, options) if options else loader.parse(source)
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


def _option(o: Option) -> inspect.Parameter:
    """The command-line parameter of one loader option."""
    default: Any = inspect.Parameter.empty if o.required else o.default
    annotation: Any
    if o.kind == "int":
        annotation = Annotated[int, typer.Option(o.flag, min=o.min, max=o.max, help=o.help)]
    elif o.kind == "file":
        annotation = Annotated[
            Path | None, typer.Option(o.flag, exists=True, dir_okay=False, help=o.help)
        ]
        default = inspect.Parameter.empty if o.required else None
    elif o.kind == "list":
        annotation = Annotated[list[str] | None, typer.Option(o.flag, help=o.help)]
        default = None
    else:
        annotation = Annotated[str | None, typer.Option(o.flag, help=o.help)]
    return inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)  # fmt: skip


def _signed(fn: Any, params: list[inspect.Parameter], doc: str) -> Any:
    """``fn`` with the command-line signature ``params`` (typer reads it)."""
    params = params + [
        inspect.Parameter("graph", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=GraphOpt),
        inspect.Parameter("merge", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=MergeOpt),
    ]  # fmt: skip
    fn.__signature__ = inspect.Signature(params, return_annotation=None)
    fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    fn.__doc__ = doc
    return fn


def command(loader: Loader) -> Callable[..., None]:
    """The ``kgrec ingest`` command of one loader: a folder or file argument and/or its
    options; then ``--graph`` and ``--merge``."""
    if loader.takes_folder and not loader.options:

        def from_folder(path: PathArg, graph: GraphOpt = None, merge: MergeOpt = False) -> None:
            load(loader, path, graph, merge)

        from_folder.__doc__ = loader.help
        return from_folder

    options = [_option(o) for o in loader.options]
    if not loader.argument:

        def from_options(graph: str | None, merge: bool, **values: Any) -> None:
            load(loader, values, graph, merge)

        return cast("Callable[..., None]", _signed(from_options, options, loader.help))

    folder = loader.argument == "folder"
    path_param = inspect.Parameter(
        "path", inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[Path, typer.Argument(
            exists=True, file_okay=not folder, dir_okay=folder,
            help="Dataset folder." if folder else "Data file.",
        )],
    )  # fmt: skip

    def from_path(path: Path, graph: str | None, merge: bool, **values: Any) -> None:
        given = {k: ([] if v is None and _kind(loader, k) == "list" else v)
                 for k, v in values.items()}  # fmt: skip
        load(loader, path, graph, merge, given)

    return cast("Callable[..., None]", _signed(from_path, [path_param, *options], loader.help))


def _kind(loader: Loader, name: str) -> str:
    return next(o.kind for o in loader.options if o.name == name)


def ingest_app(loaders: Iterable[Loader]) -> typer.Typer:
    """The ``ingest`` group with one command per loader, in the given order."""
    group = typer.Typer(help="Load a dataset into the knowledge graph.", no_args_is_help=True)
    for loader in loaders:
        group.command(loader.name)(command(loader))
    return group


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` group, built from the registered loaders."""
    app.add_typer(ingest_app(LOADERS.values()), name="ingest")
