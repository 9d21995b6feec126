"""``kgrec demo``: the whole pipeline end to end on a synthetic graph."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from kgrec.cli.console import domain_errors, out, progress, settings
from kgrec.cli.query import print_result, print_stats
from kgrec.settings import Settings

DEMO_QUERIES: list[tuple[str, dict[str, object]]] = [
    ("top_items_by_genre", {"limit": 5}),
    ("user_profile", {"limit": 5}),
    ("also_watched", {"limit": 5}),
]


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
            out.rule("1. store")
            out.print(f"embedded FalkorDB on 127.0.0.1:{info.port}, data in {info.data_dir}")
        store = open_store(s, graph)
        out.rule("2. ingest the synthetic micro-video KG")
        data = generate(users, videos, seed)
        with store.writing():  # the graph is rebuilt as one write: no other writer between
            store.clear()
            rep = store.load(data)
        out.print(f"{rep.nodes:,} nodes, {rep.relationships:,} relationships "
                      f"in {rep.seconds:.1f} s")  # fmt: skip
        out.rule("3. graph statistics")
        print_stats(store.stats())
        out.rule("4. library queries")
        first = store.query("demo/most_active_user").rows
        user_id = first[0][0] if first else "u0"
        top = store.query("demo/most_watched_video").rows
        item_id = top[0][0] if top else "v0"
        genre = store.query("demo/first_genre").scalar()
        given = {"user_id": user_id, "item_id": item_id, "genre": genre}
        for name, params in DEMO_QUERIES:
            st = store.statement(name)
            full = dict(params)
            full.update({p.name: given[p.name] for p in st.params if p.name in given})
            res = store.query(name, full, max_rows=10)
            summary = st.description.split(". ")[0].rstrip(".")
            out.print(f"\n[bold]{name}[/] {json.dumps(full)}: {summary}.", highlight=False)
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

    with out.status("exporting the graph for training"):
        export = store.export()

    out.rule("5. TransR knowledge-graph embeddings")
    ts = from_export(export)
    tcfg = EmbedTrainConfig(epochs=embed_epochs, seed=seed)
    erun = start_embed_run(ts, "transr", graph, embeddings_dir(s.home), KGEConfig(), tcfg)
    with progress(transient=True) as bar:
        task = bar.add_task("training TransR", total=embed_epochs)
        eres = train_embed_run(erun, on_epoch=lambda r: bar.update(task, completed=r["epoch"]))
    written = {label: store.write_embeddings(label, list(keys), vectors)
               for label, (keys, vectors) in erun.entity_embeddings().items()}  # fmt: skip
    n = ts.summary()
    out.print(f"{n['triples']:,} triples of {n['relations']} relation types between "
                  f"{n['entities']:,} entities; {eres['epochs']} epochs in "
                  f"{eres['train_s']:.1f} s, "
                  f"test MRR {eres.get('mrr', 0.0):.3f}, hits@10 {eres.get('hits@10', 0.0):.3f}; "
                  f"wrote 'embedding' on {sum(written.values()):,} nodes; run {erun.path}",
                  highlight=False)  # fmt: skip
    params: dict[str, object] = {"id": item_id, "label": "Video", "target_label": None, "limit": 5}
    res = store.query("similar_entities", params, max_rows=10)
    out.print(f"\n[bold]similar_entities[/] {json.dumps(params)}: "
                  "the videos nearest by their TransR vectors.", highlight=False)  # fmt: skip
    print_result(res, False)

    out.rule("6. train the mmkgat recommender")
    rs = configs_for("mmkgat", epochs=epochs, seed=seed)
    run = start_run(export, "mmkgat", graph, s.runs_dir, rs.model, rs.train,
                    rating_kinds=rs.rating_kinds)  # fmt: skip
    del export
    with progress(transient=True) as bar:
        task = bar.add_task("training mmkgat", total=epochs)
        fit = train_run(run, on_epoch=lambda r: bar.update(task, completed=r["epoch"]))
    table = Table(title=f"test metrics (best epoch {fit.best_epoch} of {fit.epochs})")
    shown = [k for k in ("precision@10", "recall@20", "ndcg@20", "hit@20", "auc") if k in fit.test]
    for k in shown:
        table.add_column(k, justify="right")
    table.add_row(*[f"{fit.test[k]:.4f}" for k in shown])
    out.print(table)
    out.print(f"{fit.seconds_per_epoch:.2f} s per epoch; run {run.path}", highlight=False)

    out.rule(f"7. top-5 recommendations for user {user_id}, with reasons")
    with out.status("loading the run and its explanation graph"):
        svc = RecommenderService(run)
        svc.set_names(names_from_store(store, svc.graph.labels))
        answer = svc.recommend(str(user_id), k=5, explain=True, paths=2)
    for item in answer["items"]:
        out.print(f"[bold]{item['rank']}. {item['name']}[/] ({item['item']}) "
                      f"score {item['score']:.3f}", highlight=False)  # fmt: skip
        for reason in item["reasons"]:
            out.print(f"   - {reason['text']}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``demo``."""
    app.command()(demo)
