"""The ``kgrec`` command: store, ingest, query, stats, and the end-to-end demo."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kgrec.settings import Settings

app = typer.Typer(
    help="Knowledge-graph-based, explainable video recommendation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Start, stop and inspect the embedded FalkorDB store.", no_args_is_help=True
)
ingest_app = typer.Typer(help="Load a dataset into the knowledge graph.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")

console = Console()
err = Console(stderr=True, soft_wrap=True)

GraphOpt = Annotated[
    str | None, typer.Option("--graph", help="Graph name (default: KGREC_GRAPH or 'kg').")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def settings() -> Settings:
    return Settings()


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the project's own errors into a one-line message and exit code 1."""
    from kg_store import StoreError

    try:
        yield
    except StoreError as e:
        raise fail(str(e)) from e
    except ValueError as e:
        raise fail(str(e)) from e
    except _ingest_error() as e:
        raise fail(str(e)) from e


def _ingest_error() -> type[Exception]:
    try:
        from kg_ingest.errors import IngestError
    except ImportError:  # pragma: no cover - present once kg_ingest is installed
        return LookupError
    return IngestError


# -- db ----------------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start the embedded store for KGREC_HOME (or report the one already running)."""
    from kg_store import embedded

    s = settings()
    with domain_errors():
        before = embedded.status(s.store_dir)
        info = embedded.start(s.store_dir, timeout=s.startup_timeout)
    verb = "already running" if before else "started"
    console.print(f"FalkorDB {verb}: 127.0.0.1:{info.port} pid {info.pid} data {info.data_dir}")


@db_app.command("stop")
def db_stop() -> None:
    """Save the graph and stop the embedded store."""
    from kg_store import embedded

    s = settings()
    stopped = embedded.stop(s.store_dir)
    console.print("FalkorDB stopped" if stopped else "FalkorDB was not running")


@db_app.command("status")
def db_status(as_json: JsonOpt = False) -> None:
    """Show whether the store answers (embedded FalkorDB, or Neo4j when KGREC_GRAPH_URI is set)."""
    from kg_store import embedded, open_store

    s = settings()
    if s.graph_uri:
        with domain_errors():
            store = open_store(s)
            out: dict[str, Any] = {"backend": "neo4j", "running": True, "target": store.describe()}
            store.close()
    else:
        from kg_store.falkordb_store import FalkorDBStore

        info = embedded.status(s.store_dir)
        out = {"backend": "falkordb", "running": info is not None, "data_dir": str(s.store_dir)}
        if info:
            out.update(port=info.port, pid=info.pid)
            with domain_errors():
                store = FalkorDBStore.for_server(info, s.graph)
                graphs = sorted(store.db.list_graphs())
                staging = [g for g in graphs if "__staging" in g]
                out["graphs"] = [g for g in graphs if g not in staging]
                # a staging graph is a full copy a load writes into; one that outlived its
                # load (killed client) is removed by the next write to that graph
                out["staging"] = staging
                store.close()
    if as_json:
        print(json.dumps(out))
    else:
        console.print(out)
    if not out["running"]:
        raise typer.Exit(3)


# -- ingest ------------------------------------------------------------------------------------
MergeOpt = Annotated[
    bool,
    typer.Option(
        "--merge",
        help="Load into a graph that holds another dataset, merging nodes that have the same "
        "label and id (refused by default).",
    ),
]


def _load(
    kind: str, parse: Callable[[], Any], graph: str | None, dataset: str, merge: bool = False
) -> None:
    """Parse and validate, then load as one (atomic on FalkorDB) write recorded as
    ``dataset`` in the graph; another dataset's nodes are not merged unless ``merge``."""
    from kg_store import open_store

    s = settings()
    with domain_errors():
        t0 = time.perf_counter()
        with console.status(f"parsing and validating {kind} ..."):
            data = parse()
        data.dataset = dataset
        parse_s = time.perf_counter() - t0
        store = open_store(s, graph)
        with _progress() as progress:
            task = progress.add_task(f"loading into {store.describe()}", total=None)

            def report(stage: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"writing {stage}")

            rep = store.load(data, progress=report, merge=merge)
        counts = store.stats()
        store.close()
    console.print(
        f"[green]loaded[/] {kind}: {rep.nodes:,} nodes and {rep.relationships:,} relationships "
        f"({rep.mode}) in {parse_s + rep.seconds:.1f} s "
        f"(parse {parse_s:.1f} s, write {rep.seconds:.1f} s)"
    )
    _print_stats(counts)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


PathArg = Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Dataset folder.")]


def _dataset(kind: str, path: Path) -> str:
    """The name a graph records for a dataset: its format and its folder's name."""
    return f"{kind}:{path.resolve().name}"


@ingest_app.command("movielens")
def ingest_movielens(path: PathArg, graph: GraphOpt = None, merge: MergeOpt = False) -> None:
    """MovieLens 100K (u.data, u.item, u.user), 1M (*.dat) or latest (*.csv)."""
    from kg_ingest.movielens import load_movielens

    _load("MovieLens", lambda: load_movielens(path), graph, _dataset("movielens", path), merge)


@ingest_app.command("kgat")
def ingest_kgat(path: PathArg, graph: GraphOpt = None, merge: MergeOpt = False) -> None:
    """KGAT format: train.txt/test.txt, optional kg_final.txt and *_list.txt id maps."""
    from kg_ingest.kgat import load_kgat

    _load("KGAT", lambda: load_kgat(path), graph, _dataset("kgat", path), merge)


@ingest_app.command("microvideo")
def ingest_microvideo(path: PathArg, graph: GraphOpt = None, merge: MergeOpt = False) -> None:
    """Micro-video format (docs/microvideo_format.md): interactions, videos, modality .npy."""
    from kg_ingest.microvideo import load_microvideo

    _load("micro-video", lambda: load_microvideo(path), graph, _dataset("microvideo", path), merge)


@ingest_app.command("rawmedia")
def ingest_rawmedia(path: PathArg, graph: GraphOpt = None, merge: MergeOpt = False) -> None:
    """Raw-media format (docs/rawmedia_format.md): micro-video CSVs + media/<video>/ files."""
    from kg_ingest.rawmedia import load_rawmedia

    _load("raw-media", lambda: load_rawmedia(path), graph, _dataset("rawmedia", path), merge)


@ingest_app.command("synthetic")
def ingest_synthetic(
    # the ranges of kg_ingest.synthetic (MIN_/MAX_USERS, MIN_/MAX_VIDEOS; a test checks)
    users: Annotated[int, typer.Option(min=1, max=1_000_000, help="Number of users.")] = 500,
    videos: Annotated[int, typer.Option(min=2, max=1_000_000, help="Number of videos.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    graph: GraphOpt = None,
    merge: MergeOpt = False,
) -> None:
    """A seeded synthetic micro-video KG whose interactions follow latent tastes."""
    from kg_ingest.synthetic import generate

    name = f"synthetic:users={users},videos={videos},seed={seed}"
    _load("synthetic", lambda: generate(users, videos, seed), graph, name, merge)


# -- stats and queries -------------------------------------------------------------------------
def _print_stats(counts: dict[str, dict[str, int]]) -> None:
    table = Table(title="graph statistics")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for kind, key in (("node", "nodes"), ("relationship", "relationships")):
        for name, n in counts[key].items():
            table.add_row(kind, name, f"{n:,}")
    console.print(table)


@app.command()
def stats(graph: GraphOpt = None, as_json: JsonOpt = False) -> None:
    """Node counts per label and relationship counts per type."""
    from kg_store import open_store

    with domain_errors():
        store = open_store(settings(), graph)
        counts = store.stats()
        store.close()
    if as_json:
        print(json.dumps(counts))
    else:
        _print_stats(counts)


def _coerce(value: str, default: object) -> object:
    """``key=value`` strings take the type of the parameter's default; ids stay strings."""
    if isinstance(default, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        return json.loads(value)
    return value


def parse_params(name: str | None, raw: list[str], dialect: str) -> dict[str, object]:
    """``key=value`` (typed by the parameter's default) or ``key:=JSON``."""
    from kg_store import library

    defaults: dict[str, object] = {}
    if name:
        defaults = {p.name: p.default for p in library.load(name, dialect).params}
    out: dict[str, object] = {}
    for item in raw:
        if ":=" in item:
            key, _, val = item.partition(":=")
            try:
                out[key] = json.loads(val)
            except json.JSONDecodeError as e:
                raise ValueError(f"--param {item!r}: not valid JSON after ':='") from e
        elif "=" in item:
            key, _, val = item.partition("=")
            try:
                out[key] = _coerce(val, defaults.get(key))
            except ValueError as e:
                raise ValueError(f"--param {item!r}: {e}") from e
        else:
            raise ValueError(f"--param {item!r}: expected key=value or key:=JSON")
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    for attr in ("properties",):  # nodes / edges / paths from the drivers
        if hasattr(v, attr):
            return _jsonable(getattr(v, attr))
    return str(v)


def print_result(res: Any, as_json: bool, title: str = "") -> None:
    if as_json:
        print(json.dumps({
            "columns": res.columns, "rows": _jsonable(res.rows),
            "truncated": res.truncated, "elapsed_s": round(res.elapsed_s, 4),
        }))  # fmt: skip
        return
    table = Table(title=title or None)
    for c in res.columns:
        table.add_column(c)
    for row in res.rows:
        table.add_row(*[json.dumps(_jsonable(v)) if not isinstance(v, str) else v for v in row])
    console.print(table)
    note = " (truncated at the row cap)" if res.truncated else ""
    console.print(f"{len(res.rows)} row(s) in {res.elapsed_s * 1000:.0f} ms{note}")


@app.command()
def query(
    name: Annotated[str | None, typer.Argument(help="Library query name (see --list).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value or key:=JSON.")
    ] = None,
    cypher: Annotated[
        str | None, typer.Option("--cypher", help="Your own read-only Cypher.")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the library queries.")] = False,
    max_rows: Annotated[int | None, typer.Option(help="Row cap (default KGREC_MAX_ROWS).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Time cap in seconds.")] = None,
    graph: GraphOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a library query by name, or --cypher TEXT. Read-only: writes are refused."""
    from kg_store import library, open_store

    s = settings()
    if list_:
        rows = []
        for n in library.library_names():
            st = library.load(n, "falkordb")
            rows.append({"name": n, "description": st.description,
                         "params": {p.name: p.default for p in st.params}})  # fmt: skip
        if as_json:
            print(json.dumps(rows))
        else:
            table = Table(title="Cypher library")
            for c in ("name", "description", "params"):
                table.add_column(c)
            for r in rows:
                table.add_row(str(r["name"]), str(r["description"]), json.dumps(r["params"]))
            console.print(table)
        return
    if (name is None) == (cypher is None):
        raise fail("give a library query NAME or --cypher TEXT (not both); --list shows names", 2)
    cap_rows = max_rows or s.max_rows
    cap_time = timeout or s.query_timeout
    with domain_errors():
        store = open_store(s, graph)
        params = parse_params(name, param or [], store.dialect)
        if name is not None:
            res = store.query(name, params, max_rows=cap_rows, timeout=cap_time)
        else:
            assert cypher is not None
            res = store.read_only(cypher, params, max_rows=cap_rows, timeout=cap_time)
        store.close()
    print_result(res, as_json, title=name or "")


# -- the main job ------------------------------------------------------------------------------
DEMO_QUERIES: list[tuple[str, dict[str, object]]] = [
    ("top_items_by_genre", {"limit": 5}),
    ("user_profile", {"limit": 5}),
    ("also_watched", {"limit": 5}),
]


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="Synthetic users.")] = 300,
    videos: Annotated[int, typer.Option(help="Synthetic videos.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    graph: Annotated[str, typer.Option(help="Graph to (re)build.")] = "demo",
    embed_epochs: Annotated[int, typer.Option(min=1, help="TransR epochs.")] = 10,
    epochs: Annotated[int, typer.Option(min=1, help="mmkgat epochs.")] = 15,
    train: Annotated[
        bool, typer.Option("--train/--no-train", help="Steps 5-7: embed, train, recommend.")
    ] = True,
) -> None:
    """End to end: start the store, ingest the synthetic sample, show stats and 3 queries,
    train TransR embeddings and mmkgat, recommend with explanations."""
    from kg_ingest.synthetic import generate
    from kg_store import embedded, open_store

    s = settings()
    with domain_errors():
        if not s.graph_uri:
            info = embedded.start(s.store_dir, timeout=s.startup_timeout)
            console.rule("1. store")
            console.print(f"embedded FalkorDB on 127.0.0.1:{info.port}, data in {info.data_dir}")
        store = open_store(s, graph)
        console.rule("2. ingest the synthetic micro-video KG")
        data = generate(users, videos, seed)
        with store.writing():  # the graph is rebuilt as one write: no other writer between
            store.clear()
            rep = store.load(data)
        console.print(f"{rep.nodes:,} nodes, {rep.relationships:,} relationships "
                      f"in {rep.seconds:.1f} s")  # fmt: skip
        console.rule("3. graph statistics")
        _print_stats(store.stats())
        console.rule("4. library queries")
        first = store.read_only("MATCH (u:User)-[r]->(:Video) RETURN u.id AS id, count(r) AS n "
                                "ORDER BY n DESC, id LIMIT 1").rows  # fmt: skip
        user_id = first[0][0] if first else "u0"
        top = store.read_only("MATCH (:User)-[r]->(v:Video) RETURN v.id AS id, count(r) AS n "
                              "ORDER BY n DESC, id LIMIT 1").rows  # fmt: skip
        item_id = top[0][0] if top else "v0"
        genre = store.read_only("MATCH (g:Genre) RETURN g.id ORDER BY g.id LIMIT 1").scalar()
        given = {"user_id": user_id, "item_id": item_id, "genre": genre}
        for name, params in DEMO_QUERIES:
            st = store.statement(name)
            full = dict(params)
            full.update({p.name: given[p.name] for p in st.params if p.name in given})
            res = store.query(name, full, max_rows=10)
            summary = st.description.split(". ")[0].rstrip(".")
            console.print(f"\n[bold]{name}[/] {json.dumps(full)}: {summary}.", highlight=False)
            print_result(res, False)
        if train:
            _demo_train(store, graph, s, user_id, item_id, seed, embed_epochs, epochs)
        store.close()


def _demo_train(
    store: Any, graph: str, s: Settings, user_id: str, item_id: str, seed: int,
    embed_epochs: int, epochs: int,
) -> None:  # fmt: skip
    """Demo steps 5-7: TransR embeddings written back, mmkgat trained, explained top-5."""
    from embed.base import KGEConfig
    from embed.runs import embeddings_dir
    from embed.runs import start_run as start_embed_run
    from embed.runs import train_run as train_embed_run
    from embed.train import TrainConfig as EmbedTrainConfig
    from embed.triples import from_export
    from recommend.serving import RecommenderService, names_from_store
    from recommend.train import configs_for, start_run, train_run

    with console.status("exporting the graph for training"):
        export = store.export()

    console.rule("5. TransR knowledge-graph embeddings")
    ts = from_export(export)
    tcfg = EmbedTrainConfig(epochs=embed_epochs, seed=seed)
    erun = start_embed_run(ts, "transr", graph, embeddings_dir(s.home), KGEConfig(), tcfg)
    with _progress() as progress:
        task = progress.add_task("training TransR", total=embed_epochs)
        eres = train_embed_run(erun, on_epoch=lambda r: progress.update(task, completed=r["epoch"]))
    written = {label: store.write_embeddings(label, list(keys), vectors)
               for label, (keys, vectors) in erun.entity_embeddings().items()}  # fmt: skip
    n = ts.summary()
    console.print(f"{n['triples']:,} triples of {n['relations']} relation types between "
                  f"{n['entities']:,} entities; {eres['epochs']} epochs in "
                  f"{eres['train_s']:.1f} s, "
                  f"test MRR {eres.get('mrr', 0.0):.3f}, hits@10 {eres.get('hits@10', 0.0):.3f}; "
                  f"wrote 'embedding' on {sum(written.values()):,} nodes; run {erun.path}",
                  highlight=False)  # fmt: skip
    params: dict[str, object] = {"id": item_id, "label": "Video", "target_label": None, "limit": 5}
    res = store.query("similar_entities", params, max_rows=10)
    console.print(f"\n[bold]similar_entities[/] {json.dumps(params)}: "
                  "the videos nearest by their TransR vectors.", highlight=False)  # fmt: skip
    print_result(res, False)

    console.rule("6. train the mmkgat recommender")
    rs = configs_for("mmkgat", epochs=epochs, seed=seed)
    run = start_run(export, "mmkgat", graph, s.runs_dir, rs.model, rs.train,
                    rating_kinds=rs.rating_kinds)  # fmt: skip
    del export
    with _progress() as progress:
        task = progress.add_task("training mmkgat", total=epochs)
        fit = train_run(run, on_epoch=lambda r: progress.update(task, completed=r["epoch"]))
    table = Table(title=f"test metrics (best epoch {fit.best_epoch} of {fit.epochs})")
    shown = [k for k in ("precision@10", "recall@20", "ndcg@20", "hit@20", "auc") if k in fit.test]
    for k in shown:
        table.add_column(k, justify="right")
    table.add_row(*[f"{fit.test[k]:.4f}" for k in shown])
    console.print(table)
    console.print(f"{fit.seconds_per_epoch:.2f} s per epoch; run {run.path}", highlight=False)

    console.rule(f"7. top-5 recommendations for user {user_id}, with reasons")
    with console.status("loading the run and its explanation graph"):
        svc = RecommenderService(run)
        svc.set_names(names_from_store(store, svc.graph.labels))
        answer = svc.recommend(str(user_id), k=5, explain=True, paths=2)
    for item in answer["items"]:
        console.print(f"[bold]{item['rank']}. {item['name']}[/] ({item['item']}) "
                      f"score {item['score']:.3f}", highlight=False)  # fmt: skip
        for reason in item["reasons"]:
            console.print(f"   - {reason['text']}", highlight=False)


def main() -> None:
    try:
        from recommend.cli import register
    except ImportError:
        pass
    else:
        register(app)
    from api.cli import register as register_api

    register_api(app)
    from embed.cli import register as register_embed

    register_embed(app)
    from ui.cli import register as register_ui

    register_ui(app)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
