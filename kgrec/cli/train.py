"""``kgrec train``, ``evaluate``, ``runs`` and ``similar build``: recommenders and their runs.

``train`` exports the graph from the store once, caches the export in a new run directory,
closes the store and trains from the cache: after that no step touches the database, and the
run can be evaluated, resumed and served from its directory alone. Progress and per-epoch lines
go to stderr; with ``--json`` stdout carries exactly one JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from kgrec.cli.console import err, fail, out, progress, run_errors
from kgrec.cli.exporting import SpecOpt, export_graph, keep_spec, read_spec
from kgrec.cli.tables import metrics_table

if TYPE_CHECKING:
    from recommend.train import FitResult


def _parse_extra(items: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--extra {item!r}: expected KEY=VALUE")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value  # a bare word is a string
    return extra


def _epoch_line(r: dict[str, Any]) -> str:
    parts = [f"epoch {r['epoch']:>3}"]
    parts += [f"{k} {v:.4f}" for k, v in r.items() if k.endswith("loss") or "_loss_" in k]
    if "valid_recall@20" in r:
        parts += [f"R@20 {r['valid_recall@20']:.4f}", f"N@20 {r['valid_ndcg@20']:.4f}"]
    parts.append(f"{r['train_s']:.2f}s")
    return "  ".join(parts)


# Options left unset take the model's setting: recommend.train.configs_for merges the
# ModelConfig / TrainConfig defaults with each model's Recommender.defaults. Their help is
# "<what> (default: <where>)"; `kgrec train --help` fills in the values (see _TrainCommand).
_MODEL_DEFAULTED = {
    "epochs": "Most epochs",
    "batch_size": "BPR pairs per batch",
    "lr": "Adam learning rate",
    "n_neg": "Negatives per positive",
    "patience": "Validations without improvement before stopping",
    "eval_every": "Epochs between validations",
    "dim": "Embedding size",
    "layers": "Propagation layers",
    "l2": "L2 weight on batch embeddings",
    "dropout": "Message dropout",
    "rating_kinds": "One interaction relation per rating value (RATED_1..5)",
}
_EXTRA_HELP = "Model option KEY=VALUE (JSON value), repeatable; overrides the model's"
_SAMPLER_HELP = "Train on the full graphs or on sampled neighbourhoods: full | neighbour (mmkgat)."
_FANOUT_HELP = "Neighbours sampled per node and hop (--sampler neighbour); repeat: one per layer."


def _model_help(name: str) -> str:
    """The declared help of a model-defaulted option; ``--help`` shows the values instead."""
    return f"{_MODEL_DEFAULTED[name]} (default: the model's own training default)."


def _value(v: Any) -> str:
    """A setting as the help shows it."""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return json.dumps(v) if isinstance(v, list | dict) else str(v)


def _extra_value(v: Any) -> str:
    """As ``--extra KEY=VALUE`` takes it: JSON, a bare word for a string."""
    return v if isinstance(v, str) else json.dumps(v)


def model_defaults_help() -> dict[str, str]:
    """Help text for each option whose default the model decides, with the values of every
    registered model: ``{"lr": "Adam learning rate (default: 0.001; 0.005 for gcfa, kgat,
    lightgcn, mmkgat).", ...}``, and ``"extra"`` listing the extras the models set."""
    from dataclasses import MISSING, fields

    from recommend.models import REGISTRY, ModelConfig
    from recommend.train import TrainConfig

    base: dict[str, Any] = {
        f.name: f.default for f in (*fields(ModelConfig), *fields(TrainConfig))
        if f.default is not MISSING
    }  # fmt: skip
    base["rating_kinds"] = False  # configs_for's fallback
    out: dict[str, str] = {}
    for name, what in _MODEL_DEFAULTED.items():
        by_value: dict[str, list[str]] = {}
        for model in sorted(REGISTRY):
            own = REGISTRY[model].defaults
            if name in own and own[name] != base[name]:
                by_value.setdefault(_value(own[name]), []).append(model)
        if by_value:
            others = "; ".join(f"{v} for {', '.join(ms)}" for v, ms in by_value.items())
            out[name] = f"{what} (default: {_value(base[name])}; {others})."
        else:
            out[name] = f"{what} (default: {_value(base[name])} for every model)."
    extras = [
        f"{model} " + ", ".join(f"{k}={_extra_value(v)}" for k, v in sorted(extra.items()))
        for model in sorted(REGISTRY)
        if (extra := REGISTRY[model].defaults.get("extra"))
    ]
    out["extra"] = _EXTRA_HELP + (f" (set by default: {'; '.join(extras)})." if extras else ".")
    return out


class _TrainCommand(TyperCommand):
    """``kgrec train``: its help shows each model's defaults. They are read from the model
    registry only when the help is shown, so other commands do not import torch."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        try:
            texts = model_defaults_help()
        except ImportError:  # pragma: no cover - the declared help still says where
            texts = {}
        if texts:
            from recommend.models import REGISTRY

            texts["model"] = f"Model name: {', '.join(sorted(REGISTRY))}."
        for param in self.params:
            if param.name in texts and hasattr(param, "help"):
                text = texts[param.name]
                param.help = escape(text) if self.rich_markup_mode == "rich" else text
        super().format_help(ctx, formatter)


def train(
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (bprmf, lightgcn, kgat, ...).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Graph to export (default: KGREC_GRAPH).")
    ] = None,
    spec: SpecOpt = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the split, init and sampling.")] = 0,
    epochs: Annotated[int | None, typer.Option(help=_model_help("epochs"))] = None,
    batch_size: Annotated[int | None, typer.Option(help=_model_help("batch_size"))] = None,
    lr: Annotated[float | None, typer.Option(help=_model_help("lr"))] = None,
    n_neg: Annotated[int | None, typer.Option(help=_model_help("n_neg"))] = None,
    patience: Annotated[int | None, typer.Option(help=_model_help("patience"))] = None,
    eval_every: Annotated[int | None, typer.Option(help=_model_help("eval_every"))] = None,
    dim: Annotated[int | None, typer.Option(help=_model_help("dim"))] = None,
    layers: Annotated[int | None, typer.Option(help=_model_help("layers"))] = None,
    l2: Annotated[float | None, typer.Option(help=_model_help("l2"))] = None,
    dropout: Annotated[float | None, typer.Option(help=_model_help("dropout"))] = None,
    extra: Annotated[list[str] | None, typer.Option(help=_EXTRA_HELP + ".")] = None,
    sampler: Annotated[str | None, typer.Option(help=_SAMPLER_HELP)] = None,
    fanout: Annotated[list[int] | None, typer.Option(help=_FANOUT_HELP)] = None,
    rating_kinds: Annotated[
        bool | None,
        typer.Option("--rating-kinds/--no-rating-kinds", help=_model_help("rating_kinds")),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="torch CPU threads (default: torch's choice).")
    ] = None,
    nproc: Annotated[
        int, typer.Option(min=1, help="Data-parallel processes (torchrun DDP; gloo/NCCL).")
    ] = 1,
    resume: Annotated[
        str | None, typer.Option(help="Continue an interrupted run (path, name or 'latest').")
    ] = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            "--init-from",
            help="Start kgat/mmkgat's entity embeddings from a "
            "`kgrec embed` run (path, name, prefix or 'latest').",
        ),
    ] = None,  # fmt: skip
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the final test metrics as one JSON object.")
    ] = False,
) -> None:
    """Train a recommender on a graph of the store (or resume a run) and test it."""
    from kgrec.settings import get_settings
    from recommend.runs import find_run
    from recommend.train import configs_for, start_run, train_run

    s = get_settings()
    with run_errors():
        init = None
        if init_from:
            from embed.runs import embeddings_dir
            from embed.runs import find_run as find_embed_run

            if resume:
                raise fail("--init-from starts a new run: it cannot be used with --resume")
            embed_run = find_embed_run(init_from, embeddings_dir(s.home))
        if resume:
            if spec is not None:
                raise fail("--spec starts a new run: a resumed run keeps the spec it began with")
            run = find_run(resume, s.runs_dir)
            if epochs is not None:  # train further (or less) than the run was started with
                cfg = run.config
                cfg["train_config"]["epochs"] = epochs
                run.write_config(cfg)
            err.print(f"resuming {run.path}", highlight=False)
        else:
            if not model:
                raise fail("--model is required (or --resume RUN)")
            from recommend.models import REGISTRY
            from recommend.models.neighbours import sampler_options

            if model not in REGISTRY:
                raise fail(f"unknown model {model!r}; available: {', '.join(sorted(REGISTRY))}")
            sampling = sampler_options(REGISTRY[model], sampler, fanout)  # before the export
            graph = dataset or s.graph
            chosen = read_spec(spec)
            export, names = export_graph(s, graph, chosen, with_names=True)
            rs = configs_for(model, dim=dim, layers=layers, l2=l2, dropout=dropout,
                             extra={**_parse_extra(extra or []), **sampling}, epochs=epochs,
                             batch_size=batch_size, lr=lr, n_neg=n_neg, patience=patience,
                             eval_every=eval_every, seed=seed, device=device, threads=threads,
                             rating_kinds=rating_kinds)  # fmt: skip
            run = start_run(export, model, graph, s.runs_dir, rs.model, rs.train,
                            rating_kinds=rs.rating_kinds)  # fmt: skip
            keep_spec(run.path, chosen, names)
            del export
            err.print(f"run {run.path}", highlight=False)
            if init_from:
                from recommend.init_from import initializer

                init = initializer(embed_run.path, run)
                err.print(f"entity embeddings from {embed_run.path}", highlight=False)
        if nproc > 1:  # the ranks print their epoch lines themselves
            from recommend.distributed import train_distributed

            if init is not None:
                raise fail("--init-from cannot be combined with --nproc")
            with stopped_by_ctrl_c("train", run.name):
                res = train_distributed(run, nproc, bool(resume), device, threads)
        else:
            total = int(run.config["train_config"]["epochs"])
            with progress() as bar:
                task = bar.add_task(f"train {run.config['model']}", total=total)
                done = len(run.history())
                bar.update(task, completed=done)

                def on_epoch(r: dict[str, Any]) -> None:
                    bar.update(task, completed=r["epoch"])
                    bar.console.print(_epoch_line(r), highlight=False)

                overrides: dict[str, Any] = {"device": device}
                if threads:
                    overrides["threads"] = threads
                with stopped_by_ctrl_c("train", run.name):
                    res = train_run(run, resume=bool(resume), on_epoch=on_epoch,
                                    overrides=overrides, init=init)  # fmt: skip
    _report(res, run.name, as_json)


@contextmanager
def stopped_by_ctrl_c(command: str, name: str) -> Iterator[None]:
    """A Ctrl-C that stopped training (``TrainingInterrupted``): one line saying where it
    stopped and how to resume, exit code 130."""
    from kgrec.runs import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as e:
        err.print(f"interrupted: {name} stopped, last.pt holds epoch {e.epoch}; continue "
                  f"with `kgrec {command} --resume {name}`", highlight=False)  # fmt: skip
        raise typer.Exit(130) from None


def _report(res: FitResult, name: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"run": name, **res.test, "best_epoch": res.best_epoch,
                          "epochs": res.epochs}))  # fmt: skip
        return
    out.print(metrics_table(f"{name}: test (best epoch {res.best_epoch})", res.test))


def evaluate(
    run: Annotated[str, typer.Argument(help="Run path, name, name prefix or 'latest'.")],
    split: Annotated[str, typer.Option(help="test | valid.")] = "test",
    which: Annotated[str, typer.Option(help="best | last checkpoint.")] = "best",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Rank all items for the run's test (or validation) users with its saved weights."""
    import time

    import torch

    from kgrec.settings import get_settings
    from recommend.metrics import split_evaluator
    from recommend.runs import find_run
    from recommend.train import resolve_device

    with run_errors():
        if split not in ("test", "valid") or which not in ("best", "last"):
            raise fail("--split is test|valid, --which best|last")
        r = find_run(run, get_settings().runs_dir)
        data = r.data()
        dev = resolve_device(device)
        model = r.load_model(which, data, dev)
        ev = split_evaluator(data, split, auc=True)
        t0 = time.perf_counter()
        with torch.no_grad():
            model.prepare_scoring()
            metrics = ev(model.score_all, dev)
        metrics["eval_s"] = time.perf_counter() - t0
    if as_json:
        print(json.dumps({"run": r.name, "split": split, **metrics}))
    else:
        out.print(metrics_table(f"{r.name}: {split} ({which})", metrics))
        out.print(f"{int(metrics['users'])} users in {metrics['eval_s']:.2f}s")


def runs(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List training runs with their test metrics."""
    from kgrec.settings import get_settings
    from recommend.runs import list_runs

    rows = [r.summary() for r in list_runs(get_settings().runs_dir)]
    if as_json:
        print(json.dumps(rows))
        return
    t = Table(title=f"runs in {get_settings().runs_dir}")
    for c in ("run", "model", "dataset", "seed", "status", "epochs", "best"):
        t.add_column(c)
    for k in ("recall@20", "ndcg@20"):
        t.add_column(k, justify="right")
    for row in rows:
        test = row["test"] or {}
        scores = [f"{test[k]:.4f}" if k in test else "-" for k in ("recall@20", "ndcg@20")]
        cells = [row["run"], row["model"], row["dataset"], row["seed"], row["status"],
                 row["epochs"], row["best_epoch"] or "-"]  # fmt: skip
        t.add_row(*[str(c) for c in cells], *scores)
    out.print(t)


def similar_build(
    k: Annotated[int, typer.Option(help="Neighbours per video (LUDP tries 5, 10, 20, 50).")] = 10,
    modality: Annotated[
        list[str] | None,
        typer.Option(help="Visual, Acoustic or Textual, repeatable (default: all with vectors)."),
    ] = None,
    graph: Annotated[str | None, typer.Option(help="Graph (default: KGREC_GRAPH).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write each modality's video kNN graph (cosine of the feature vectors, LUDP eqs 3-4) as
    SIMILAR_VISUAL / SIMILAR_ACOUSTIC / SIMILAR_TEXTUAL {score}, replacing earlier ones."""
    from kg_store import open_store
    from kg_store.replace import replace_relationships
    from kgrec.settings import get_settings
    from recommend.knn import similar_graph_data

    s = get_settings()
    name = graph or s.graph
    with run_errors():
        store = open_store(s, graph=name)
        try:
            export = store.export()
            if not export.edges:
                raise fail(f"graph {name!r} is empty: ingest a dataset first")
            data, counts = similar_graph_data(export, k, modality)
            with store.writing():  # one writer at a time; on disk before we report
                for rels in data.rels:
                    replace_relationships(store, rels)
        finally:
            store.close()
    if as_json:
        print(json.dumps({"graph": name, "k": k, "relationships": counts}))
        return
    for rel_type, n in counts.items():
        out.print(f"{rel_type}: {n} relationships (k={k}) in graph {name!r}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate``, ``runs`` and ``similar build`` to the ``kgrec`` app."""
    app.command("train", cls=_TrainCommand)(train)
    app.command("evaluate")(evaluate)
    app.command("runs")(runs)
    similar = typer.Typer(help="Video similarity relationships from modality features.",
                          no_args_is_help=True)  # fmt: skip
    similar.command("build")(similar_build)
    app.add_typer(similar, name="similar")
