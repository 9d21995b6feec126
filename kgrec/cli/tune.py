"""``kgrec tune``: search a model's hyper-parameters (Optuna TPE, median pruning), retrain the
best over several seeds and test each (:mod:`recommend.tune`).

A new study exports the graph once into its tune directory and never touches the store again;
``--resume`` continues one (to ``--trials`` finished trials in all). Progress and one line per
trial go to stderr; with ``--json`` stdout carries exactly one JSON object.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from kgrec.cli.console import err, fail, out, progress, run_errors

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from recommend.tune import TuneDir

REPORT = ("recall@20", "ndcg@20", "recall@10", "ndcg@10", "precision@10", "hit@20", "auc")
_STUDY_OPTIONS = ("model", "dataset", "seed", "epochs", "patience", "startup_trials",
                  "prune_startup", "prune_warmup")  # fmt: skip


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _trial_row(t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "value": t.value,
        "epochs": t.user_attrs.get("epochs"),
        "params": t.params,
        **({"defaults": True} if t.user_attrs.get("defaults") else {}),
    }


def _trial_line(t: FrozenTrial, monitor: str) -> str:
    value = "-" if t.value is None else f"{t.value:.4f}"
    epochs = t.user_attrs.get("epochs", "-")
    tag = " (defaults)" if t.user_attrs.get("defaults") else ""
    return (f"trial {t.number:>3} {t.state.name.lower():<8} {monitor} {value} "
            f"({epochs} epochs){tag}  {_params(t.params)}")  # fmt: skip


def tune(
    model: Annotated[str | None, typer.Option(help="Model name (lightgcn, kgat, ...).")] = None,
    trials: Annotated[
        int | None,
        typer.Option(
            help="Finished (complete or pruned) trials in all (default: 20; on "
            "--resume, the study's total so far)."
        ),
    ] = None,  # fmt: skip
    dataset: Annotated[
        str | None, typer.Option(help="Graph to export (default: KGREC_GRAPH).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the split, the sampler and training (default: 0).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Most epochs per trial (default: the model's).")
    ] = None,
    patience: Annotated[
        int | None, typer.Option(help="Early-stopping patience per trial (default: the model's).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Start no trial after this many seconds.")
    ] = None,
    final_seeds: Annotated[
        int, typer.Option(help="Seeds to retrain and test the best configuration with (0: none).")
    ] = 3,
    startup_trials: Annotated[
        int | None, typer.Option(help="Random trials before TPE (default: 5).")
    ] = None,
    prune_startup: Annotated[
        int | None, typer.Option(help="Finished trials before pruning starts (default: 3).")
    ] = None,
    prune_warmup: Annotated[
        int | None, typer.Option(help="Epochs before a trial may be pruned (default: 10).")
    ] = None,
    defaults_first: Annotated[
        bool, typer.Option(help="Make the first trial the model's own defaults.")
    ] = True,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    threads: Annotated[
        int | None, typer.Option(help="torch CPU threads (default: torch's choice).")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue a study (tune directory path, name or 'latest').")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the study and final metrics as one JSON object.")
    ] = False,
) -> None:
    """Search a model's hyper-parameters on a graph of the store, then retrain the best
    configuration over --final-seeds seeds and test each once."""
    import optuna

    from kgrec.settings import get_settings

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    s = get_settings()
    with run_errors():
        given = {k: v for k, v in locals().items() if k in _STUDY_OPTIONS and v is not None}
        if resume:
            if given:
                opts = ", ".join("--" + k.replace("_", "-") for k in given)
                raise fail(f"{opts}: set when a study starts, not on --resume")
            from recommend.tune import TuneDir

            tune_dir = TuneDir.find(resume, s.runs_dir)
            total = trials if trials is not None else int(tune_dir.spec.get("trials", 0))
            err.print(f"resuming {tune_dir.path}", highlight=False)
        else:
            if not model:
                raise fail("--model is required (or --resume TUNE_DIR)")
            tune_dir = _new_study(given, defaults_first)
            total = 20 if trials is None else trials
        if total < 0 or final_seeds < 0:
            raise fail("--trials and --final-seeds must be >= 0")
        _tune(tune_dir, total, timeout, final_seeds, device, threads, as_json)


def _new_study(given: dict[str, Any], defaults_first: bool) -> TuneDir:
    from kg_store import open_store
    from kgrec.settings import get_settings
    from recommend.models import REGISTRY
    from recommend.tune import TuneSettings, model_space, new_tune_dir

    s = get_settings()
    model = given.pop("model")
    if model not in REGISTRY:
        raise fail(f"unknown model {model!r}; available: {', '.join(sorted(REGISTRY))}")
    model_space(model)  # nothing to tune is an error before the export
    graph = given.pop("dataset", None) or s.graph
    with progress(transient=True) as bar:
        task = bar.add_task(f"export {graph}", total=None)
        store = open_store(s, graph=graph)
        try:
            export = store.export(
                progress=lambda stage, done, n: bar.update(task, description=stage,
                                                           completed=done, total=n)
            )  # fmt: skip
        finally:
            store.close()
    if not export.edges:
        raise fail(f"graph {graph!r} is empty: ingest a dataset first")
    settings = TuneSettings(**given, defaults_first=defaults_first)
    tune_dir = new_tune_dir(export, model, graph, s.runs_dir, settings)
    err.print(f"tune {tune_dir.path}", highlight=False)
    return tune_dir


def _tune(
    tune_dir: TuneDir, total: int, timeout: float | None, final_seeds: int, device: str,
    threads: int | None, as_json: bool,
) -> None:  # fmt: skip
    from recommend.tune import FINISHED, final_runs, finished, load_study, run_study, summarize

    spec = tune_dir.spec
    monitor = str(spec["monitor"])
    with tune_dir.locked():
        try:
            with progress() as bar:
                done = finished(load_study(tune_dir))
                task = bar.add_task(f"tune {spec['model']}", total=max(total, done),
                                    completed=done)  # fmt: skip

                def on_epoch(number: int, r: dict[str, Any]) -> None:
                    score = r.get(f"valid_{monitor}")
                    shown = "" if score is None else f" {monitor} {score:.4f}"
                    bar.update(task, description=f"trial {number} epoch {r['epoch']}{shown}")

                def on_trial(t: FrozenTrial) -> None:
                    bar.console.print(_trial_line(t, monitor), highlight=False)
                    bar.update(task, advance=1 if t.state in FINISHED else 0)

                study = run_study(
                    tune_dir, total, timeout=timeout, device=device, threads=threads,
                    on_epoch=on_epoch, on_trial=on_trial,
                )  # fmt: skip
            finals: list[dict[str, Any]] = []
            if final_seeds:
                with progress(transient=True) as bar:
                    task = bar.add_task("final runs", total=None)

                    def on_final(run: Any, r: dict[str, Any]) -> None:
                        bar.update(task, description=f"final {run.name} epoch {r['epoch']}")

                    for run, res in final_runs(tune_dir, final_seeds, device=device,
                                               threads=threads, on_epoch=on_final):  # fmt: skip
                        test = res.test if res is not None else (run.result or {}).get("test", {})
                        finals.append({"run": str(run.path), "seed": run.config["seed"],
                                       "test": test})  # fmt: skip
                        bar.console.print(
                            f"final {run.name}: test {monitor} "
                            f"{test.get(monitor, float('nan')):.4f}",
                            highlight=False,
                        )
        except KeyboardInterrupt:
            err.print(f"interrupted: {tune_dir.name} stopped; continue with "
                      f"`kgrec tune --resume {tune_dir.name}`", highlight=False)  # fmt: skip
            raise typer.Exit(130) from None
    _report(tune_dir, study, finals, summarize([f["test"] for f in finals]), as_json)


def _report(
    tune_dir: TuneDir, study: Any, finals: list[dict[str, Any]],
    summary: dict[str, dict[str, float]], as_json: bool,
) -> None:  # fmt: skip
    from optuna.trial import TrialState

    spec = tune_dir.spec
    monitor = str(spec["monitor"])
    trials = study.get_trials(deepcopy=False)
    completed = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if completed else None
    defaults = [t for t in completed if t.user_attrs.get("defaults")]
    doc = {
        "tune": str(tune_dir.path), "model": spec["model"], "graph": spec["graph"],
        "monitor": monitor, "trials": [_trial_row(t) for t in trials],
        "best": None if best is None else {"number": best.number, "value": best.value,
                                           "params": best.params},
        "defaults_value": defaults[0].value if defaults else None,
        "final": {"runs": finals, "test": summary},
    }  # fmt: skip
    if as_json:
        print(json.dumps(doc, default=str))
        return
    t = Table(title=f"{tune_dir.name}: valid {monitor}")
    for c in ("trial", "state", "value", "epochs", "params"):
        t.add_column(c, justify="right" if c in ("trial", "value", "epochs") else "left")
    for tr in trials:
        mark = "*" if best is not None and tr.number == best.number else ""
        value = "-" if tr.value is None else f"{tr.value:.4f}"
        params = _params(tr.params) + ("  (defaults)" if tr.user_attrs.get("defaults") else "")
        t.add_row(f"{tr.number}{mark}", tr.state.name.lower(), value,
                  str(tr.user_attrs.get("epochs", "-")), params)  # fmt: skip
    out.print(t)
    if best is None:
        out.print("no trial completed", highlight=False)
        return
    out.print(f"best: trial {best.number}, valid {monitor} {best.value:.4f}  "
              f"{_params(best.params)}", highlight=False)  # fmt: skip
    if summary:
        ft = Table(title=f"final: best configuration over {len(finals)} seeds, test")
        for k in REPORT:
            if k in summary:
                ft.add_column(k, justify="right")
        ft.add_row(*[f"{summary[k]['mean']:.4f} ± {summary[k]['std']:.4f}"
                     for k in REPORT if k in summary])  # fmt: skip
        out.print(ft)


def register(app: typer.Typer) -> None:
    """Add ``tune`` to the ``kgrec`` app."""
    app.command("tune")(tune)
