"""``kgrec export recbole|csv DIR``: a graph written as another tool's files.

``recbole``: RecBole atomic files (:mod:`kg_ingest.recbole_write`) from the graph's export;
``csv``: neo4j-admin import files (:mod:`kg_ingest.admin_csv_write`) with every property,
read page by page (:mod:`kg_store.dump`). ``kgrec ingest recbole|csv DIR`` reads them back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgrec.cli.console import GraphOpt, domain_errors, err, fail, out, settings
from kgrec.cli.exporting import SpecOpt, read_spec

export_app = typer.Typer(
    help="Write a graph as RecBole atomic files or neo4j-admin import CSV.", no_args_is_help=True
)
DirArg = Annotated[Path, typer.Argument(file_okay=False, help="Folder to write (created).")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Overwrite an earlier export in the folder.")
]


def _refuse_overwrite(folder: Path, pattern: str, force: bool) -> list[Path]:
    """The files of an earlier export in ``folder``; refused unless ``force``."""
    found = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if found and not force:
        raise fail(
            f"{folder} already holds {len(found)} exported file(s) ({found[0].name}, ...); "
            "pass --force to overwrite them"
        )
    return found


def _exported_csv(path: Path) -> bool:
    """Whether ``path`` is a file ``kgrec export csv`` writes (by its header)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        return fh.readline().startswith(("id:ID(", ":START_ID("))


def _print(written: dict[str, int], folder: Path) -> None:
    table = Table(title=f"written to {folder}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in written.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)


@export_app.command("recbole")
def export_recbole(
    folder: DirArg,
    graph: GraphOpt = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Dataset name (default: the graph's name).")
    ] = None,
    force: ForceOpt = False,
    spec: SpecOpt = None,
) -> None:
    """RecBole atomic files NAME.inter/.user/.item/.kg/.link/.net of the graph's User and Video
    nodes, or of the subgraph a dataset spec chooses (the field types:
    kg_ingest/recbole_write.py)."""
    import pandas as pd

    from kg_ingest.recbole_write import write_recbole
    from kg_store import dump, open_store
    from kgrec import schema

    s = settings()
    dataset = name or graph or s.graph
    _refuse_overwrite(folder, f"{dataset}.*", force)
    with domain_errors():
        chosen = read_spec(spec)
        store = open_store(s, graph)
        with err.status(f"exporting {store.describe()} ..."):
            if chosen is None:
                export = store.export()
            else:
                from kg_store.subgraph import export_spec

                export = export_spec(store, chosen)
            properties = {}
            for role in (schema.USER, schema.VIDEO):
                if not export.num_nodes(role):
                    continue
                label = export.source_label(role)
                frame = pd.concat(list(dump.node_pages(store, label)), ignore_index=True)
                key = chosen.key_of(label) if chosen else "id"
                frame = frame.assign(id=frame[key].astype(str))  # the spec's key is the id
                properties[role] = frame[frame["id"].isin(export.ids[role])]
        store.close()
        written = write_recbole(export, folder, dataset, properties=properties)
    _print(written, folder)


@export_app.command("csv")
def export_csv(folder: DirArg, graph: GraphOpt = None, force: ForceOpt = False) -> None:
    """neo4j-admin import CSV: one node file per label, one relationship file per (source
    label, type, target label), every property typed (`kgrec ingest csv DIR` reads it back)."""
    from kg_ingest.admin_csv_write import write_admin_csv
    from kg_store import dump, open_store

    s = settings()
    old = _refuse_overwrite(folder, "*.csv", force)
    foreign = [p.name for p in old if not _exported_csv(p)]
    if foreign:  # --force replaces an earlier export, never other files
        raise fail(
            f"{folder} holds CSV files that are not a kgrec export ({', '.join(foreign[:3])}); "
            "`kgrec ingest csv` would read them too: choose another folder"
        )
    with domain_errors():
        store = open_store(s, graph)
        labels = dump.labels(store)
        if not labels:
            store.close()
            raise fail(f"{store.describe()} is empty: nothing to export")
        for path in old:  # the folder holds exactly this export afterwards
            path.unlink()
        with err.status(f"exporting {store.describe()} ..."):
            written = write_admin_csv(
                ((label, dump.node_pages(store, label)) for label in labels),
                ((key, dump.rel_pages(store, key)) for key in dump.edge_keys(store)),
                folder,
            )
        store.close()
    _print(written, folder)


def register(app: typer.Typer) -> None:
    """Add the ``export`` group."""
    app.add_typer(export_app, name="export")
