"""The export every training command starts from: the whole graph in kgrec's own schema, or
the subgraph a dataset spec chooses (``--spec FILE``), with a progress bar; and what a run
directory keeps of the spec (its ``spec.toml``, a copy of its subgraph query, display names).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgrec.cli.console import fail, progress

if TYPE_CHECKING:
    from kg_store import GraphExport
    from kgrec.settings import Settings
    from kgrec.spec import DatasetSpec
    from recommend.explain import Names

SpecOpt = Annotated[
    Path | None,
    typer.Option(
        "--spec",
        help="Dataset spec (TOML/YAML): which labels, interactions, KG and filters to train "
        "on (default: kgrec's own schema; see `kgrec spec show`).",
    ),
]


def read_spec(path: Path | None) -> DatasetSpec | None:
    """The spec in ``path`` (a relative ``filters.subgraph`` file is resolved against the
    spec's folder), or None without one."""
    if path is None:
        return None
    from kgrec.spec import load_spec

    spec = load_spec(path)
    sub = spec.filters.subgraph
    if sub and (sub.endswith(".cypher") or "/" in sub) and not Path(sub).is_absolute():
        resolved = (path.parent / sub).resolve()
        filters = spec.filters.model_copy(update={"subgraph": str(resolved)})
        spec = spec.model_copy(update={"filters": filters})
    return spec


def export_graph(
    settings: Settings, graph: str, spec: DatasetSpec | None, *, with_names: bool = False
) -> tuple[GraphExport, Names | None]:
    """Export ``graph`` (the part ``spec`` chooses, if given) with a progress bar, and, with a
    spec and ``with_names``, the exported nodes' display names read in the same session
    (otherwise None: names come from the graph when the run is served, as before).

    Raises:
        typer.Exit: the graph (or the chosen subgraph) is empty.
    """
    from kg_store import open_store

    names = None
    with progress() as bar:
        task = bar.add_task(f"export {graph}", total=None)

        def on_export(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        store = open_store(settings, graph=graph)
        try:
            if spec is None:
                export = store.export(progress=on_export)
            else:
                from kg_store.subgraph import export_spec
                from kg_store.subgraph_names import export_names

                export = export_spec(store, spec, progress=on_export)
                if with_names:
                    names = export_names(store, spec, export)
        finally:
            store.close()  # the database is not needed again
    if not export.edges:
        raise fail(f"graph {graph!r} is empty: ingest a dataset first")
    return export, names


def keep_spec(run_dir: Path, spec: DatasetSpec | None, names: Names | None) -> None:
    """Save what a run needs of its spec: ``spec.toml`` (the default spec without one), a copy
    of the subgraph query, and the display names in the graph's own name properties."""
    from kgrec.spec import SUBGRAPH_COPY, default_spec, save_spec

    save_spec(spec or default_spec(), run_dir)
    sub = spec.filters.subgraph if spec else None
    if sub and Path(sub).is_file():
        shutil.copyfile(sub, run_dir / SUBGRAPH_COPY)
    if names is not None:
        from recommend.explain import save_names

        save_names(run_dir, names)
