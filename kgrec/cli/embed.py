"""``kgrec embed``: train TransR / TransE on a graph of the store, evaluate by filtered link
prediction, write the entity embeddings back as node properties with a vector index.

The graph is exported once into a new run directory (``KGREC_HOME/embeddings/…``); training
reads only that. Progress and per-epoch lines go to stderr; with ``--json`` stdout carries
exactly one JSON object (the test metrics and the run's name).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from kgrec.cli.console import err, fail, out, progress, run_errors
from kgrec.cli.exporting import SpecOpt

REPORT = ("mrr", "mr", "hits@1", "hits@3", "hits@10")


def _relations(given: list[str] | None) -> list[str] | None:
    """``--relations A,B --relations C`` -> ``[A, B, C]``; nothing given -> all types."""
    if not given:
        return None
    names = {n.strip() for item in given for n in item.split(",") if n.strip()}
    return sorted(names) or None


def embed(
    model: Annotated[str, typer.Option("--model", help="transr | transe.")] = "transr",
    graph: Annotated[
        str | None, typer.Option("--graph", "--dataset", help="Graph (default: KGREC_GRAPH).")
    ] = None,
    spec: SpecOpt = None,
    relations: Annotated[
        list[str] | None,
        typer.Option(
            "--relations",
            help="Relationship types to train on (comma-separated or repeated; default: all).",
        ),
    ] = None,  # fmt: skip
    dim: Annotated[int, typer.Option(help="Entity embedding size.")] = 64,
    rel_dim: Annotated[
        int | None, typer.Option(help="TransR relation space size (default: --dim).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Epochs (default: 100; with --resume: the run's).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="True triples per step.")] = 1024,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 0.01,
    loss: Annotated[str, typer.Option(help="margin | softplus.")] = "margin",
    margin: Annotated[float, typer.Option(help="Margin of the margin loss.")] = 1.0,
    sampler: Annotated[str, typer.Option(help="Negative sampling: bernoulli | uniform.")] = (
        "bernoulli"
    ),
    neg: Annotated[int, typer.Option(help="Negatives per true triple.")] = 1,
    norm: Annotated[int, typer.Option(help="Distance norm p (1 or 2).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the split, init and sampling.")] = 0,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    eval_every: Annotated[
        int, typer.Option(help="Epochs between validation passes (0: none).")
    ] = 0,
    resume: Annotated[
        str | None, typer.Option(help="Continue a run (path, name, prefix or 'latest').")
    ] = None,
    write_back: Annotated[
        bool, typer.Option(help="Write the embeddings to the graph (property 'embedding').")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final test metrics as one JSON object.")
    ] = False,
) -> None:
    """Train TransR/TransE embeddings of a graph, evaluate link prediction, write them back."""
    from embed.base import KGEConfig
    from embed.runs import EmbedRun, embeddings_dir, find_run, start_run, train_run
    from embed.train import TrainConfig
    from embed.triples import from_export
    from kg_store import open_store
    from kgrec.cli.exporting import export_graph, read_spec
    from kgrec.cli.train import stopped_by_ctrl_c
    from kgrec.schema import USER, VIDEO
    from kgrec.settings import get_settings
    from kgrec.spec import default_spec, run_spec, save_spec

    s = get_settings()
    root = embeddings_dir(s.home)
    overrides: dict[str, Any] = {"device": device}
    if threads:
        overrides["threads"] = threads
    with run_errors():
        run: EmbedRun
        if resume:
            if spec is not None:
                raise fail("--spec starts a new run: a resumed run keeps the spec it began with")
            run = find_run(resume, root)
            if epochs is not None:
                overrides["epochs"] = epochs
            err.print(f"resuming {run.path}", highlight=False)
        else:
            name = graph or s.graph
            chosen = read_spec(spec)
            export, _ = export_graph(s, name, chosen)
            rels = _relations(relations)
            ts = from_export(export, rels)
            del export
            kcfg = KGEConfig(dim=dim, rel_dim=rel_dim, p=norm)
            tcfg = TrainConfig(epochs=100 if epochs is None else epochs, batch_size=batch_size,
                               lr=lr, loss=loss, margin=margin, sampler=sampler, n_neg=neg,
                               seed=seed, device=device, threads=threads,
                               eval_every=eval_every)  # fmt: skip
            run = start_run(ts, model, name, root, kcfg, tcfg, rels)
            save_spec(chosen or default_spec(), run.path)
            err.print(f"run {run.path}: {ts.summary()}", highlight=False)
        total = run.train_config(overrides).epochs
        with progress() as bar:
            task = bar.add_task(f"train {run.config['model']}", total=total)
            bar.update(task, completed=len(run.history()))

            def on_epoch(r: dict[str, Any]) -> None:
                bar.update(task, completed=r["epoch"])
                if r["epoch"] % max(1, total // 10) == 0 or "valid_mrr" in r:
                    line = f"epoch {r['epoch']:>4}  loss {r['loss']:.4f}  {r['train_s']:.2f}s"
                    if "valid_mrr" in r:
                        line += f"  valid MRR {r['valid_mrr']:.4f}"
                    bar.console.print(line, highlight=False)

            with stopped_by_ctrl_c("embed", run.name):
                result = train_run(run, resume=bool(resume), on_epoch=on_epoch,
                                   overrides=overrides)  # fmt: skip
        written: dict[str, int] = {}
        if write_back:
            store = open_store(s, graph=run.config["graph"])
            try:
                used = run_spec(run.path)
                with err.status("writing embeddings back"):
                    for role, (keys, vectors) in run.entity_embeddings().items():
                        label = {USER: used.user.label, VIDEO: used.item.label}.get(role, role)
                        key = used.key_of(label)
                        if key != "id":  # nodes are written by their id
                            err.print(f"embeddings of {label} not written back: its key is "
                                      f"{key!r}, not 'id'", highlight=False)  # fmt: skip
                            continue
                        written[label] = store.write_embeddings(label, list(keys), vectors)
            finally:
                store.close()
    report = {"run": run.name, "model": run.config["model"], **result}
    if write_back:
        report["written"] = written
    if as_json:
        print(json.dumps(report))
        return
    t = Table(title=f"{run.name}: filtered link prediction (test, both sides)")
    for k in REPORT:
        t.add_column(k, justify="right")
    t.add_row(*[f"{result[k]:.4f}" if k in result else "-" for k in REPORT])
    out.print(t)
    out.print(f"{result['epochs']} epochs, {result['triples_per_s']:,.0f} triples/s on "
              f"{result['device']}")  # fmt: skip
    if written:
        out.print(f"wrote 'embedding' on {sum(written.values()):,} nodes: {written}")


def register(app: typer.Typer) -> None:
    """Add ``embed`` to the ``kgrec`` app."""
    app.command("embed")(embed)
