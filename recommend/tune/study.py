"""Running a study (the objective, pruning, resuming after an interruption) and retraining
its best configuration."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from kgrec.runs import TrainingInterrupted, seed_everything
from recommend.config import RunSettings, configs_for
from recommend.data import RecData, Split, load_export
from recommend.models.base import build
from recommend.runs import EXPORT, SPLIT, Run
from recommend.train import FitResult, Trainer, start_run, train_run
from recommend.tune.directory import FINAL, STUDY, TUNE, TuneDir
from recommend.tune.space import TuneSpace

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

EpochHook = Callable[[int, dict[str, Any]], None]  # (trial number, epoch record)
TrialHook = Callable[[FrozenTrial], None]


def make_pruner(spec: dict[str, Any]) -> optuna.pruners.BasePruner:
    """The pruner ``tune.json`` names: the median rule, per epoch."""
    p = spec["pruner"]
    return optuna.pruners.MedianPruner(n_startup_trials=int(p["startup_trials"]),
                                       n_warmup_steps=int(p["warmup_epochs"]))  # fmt: skip


def load_study(tune: TuneDir, storage: optuna.storages.BaseStorage | None = None) -> optuna.Study:
    """The study with its sampler (seeded by the study's seed and its number of trials, so a
    resumed study does not repeat the random draws it began with) and pruner."""
    spec = tune.spec
    storage = storage or tune.storage()
    n = len(storage.get_all_trials(storage.get_study_id_from_name(STUDY), deepcopy=False))
    sampler = optuna.samplers.TPESampler(
        seed=int(spec["seed"]) + n, n_startup_trials=int(spec["sampler"]["startup_trials"])
    )
    return optuna.load_study(study_name=STUDY, storage=storage, sampler=sampler,
                             pruner=make_pruner(spec))  # fmt: skip


def recover(storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail the trials a killed process left running and enqueue every interrupted trial's
    parameters once more (before anything new). Call with the study locked. Returns the
    numbers of the trials retried."""
    sid = storage.get_study_id_from_name(STUDY)
    trials = storage.get_all_trials(sid)
    for t in trials:
        if t.state == TrialState.RUNNING:  # nobody else holds the lock: its process is gone
            tid = storage.get_trial_id_from_study_id_trial_number(sid, t.number)
            storage.set_trial_user_attr(tid, "interrupted", True)
            storage.set_trial_state_values(tid, TrialState.FAIL)
    trials = storage.get_all_trials(sid)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    todo = [t for t in trials if t.state == TrialState.FAIL and t.user_attrs.get("interrupted")
            and t.number not in retried]  # fmt: skip
    study = optuna.load_study(study_name=STUDY, storage=storage)
    for t in todo:
        attrs = {"retry_of": t.number, **({"defaults": True} if t.user_attrs.get("defaults")
                                          else {})}  # fmt: skip
        study.enqueue_trial(t.params, user_attrs=attrs)
    return [t.number for t in todo]


def trial_settings(spec: dict[str, Any], params: dict[str, Any], **run: Any) -> RunSettings:
    """The run settings of ``params`` under a study's budget; ``run``: seed, device, threads."""
    given = TuneSpace.from_json(spec["space"], spec["model"], f"{TUNE} space").given(params)
    run = {"seed": spec["seed"], **run}
    return configs_for(spec["model"], **given, epochs=spec["epochs"], patience=spec["patience"],
                       monitor=spec["monitor"], **run)  # fmt: skip


def objective(
    tune: TuneDir, data: RecData, device: str = "auto", threads: int | None = None,
    on_epoch: EpochHook | None = None,
) -> Callable[[optuna.Trial], float]:  # fmt: skip
    """The function a study maximises: train one configuration (suggested from the study's
    space) in memory, report the best validation score after each evaluation, prune when the
    pruner says so; the value is the best validation score."""
    spec, space = tune.spec, tune.space
    monitor = str(spec["monitor"])

    def run(trial: optuna.Trial) -> float:
        params = space.suggest(trial)
        rs = trial_settings(spec, params, device=device, threads=threads)
        seed_everything(rs.train.seed)
        model = build(spec["model"], data, rs.model)
        best = -math.inf

        def report(record: dict[str, Any]) -> None:
            nonlocal best
            value = record.get(f"valid_{monitor}")
            if value is not None:
                best = max(best, float(value))
                trial.report(best, int(record["epoch"]))
            if on_epoch is not None:
                on_epoch(trial.number, record)
            if value is not None and trial.should_prune():
                trial.set_user_attr("epochs", int(record["epoch"]))
                raise optuna.TrialPruned(f"epoch {record['epoch']}: {monitor} {best:.4f}")

        trainer = Trainer(model, data, rs.train, on_epoch=report)
        try:
            res: FitResult = trainer.fit()
        except TrainingInterrupted:
            trial.set_user_attr("interrupted", True)
            raise
        trial.set_user_attr("epochs", res.epochs)
        trial.set_user_attr("best_epoch", res.best_epoch)
        trial.set_user_attr("seconds_per_epoch", res.seconds_per_epoch)
        if monitor not in res.best_valid:
            raise ValueError(f"trial {trial.number}: no validation {monitor} (no valid pairs?)")
        return float(res.best_valid[monitor])

    return run


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_study(
    tune: TuneDir, trials: int, *, timeout: float | None = None, device: str = "auto",
    threads: int | None = None, on_epoch: EpochHook | None = None,
    on_trial: TrialHook | None = None,
) -> optuna.Study:  # fmt: skip
    """Run trials until ``trials`` of them are finished (complete or pruned) or ``timeout``
    seconds pass (no trial starts after it). Call with the study locked.

    Raises:
        KeyboardInterrupt: a Ctrl-C (the trial under way is failed, marked ``interrupted``).
    """
    spec = tune.spec
    spec["trials"] = trials
    tune.write_spec(spec)
    storage = tune.storage()
    recover(storage)
    study = load_study(tune, storage)
    todo = trials - finished(study)
    if todo > 0:
        stop = optuna.study.MaxTrialsCallback(trials, states=FINISHED)
        callbacks = [stop] + ([lambda _s, t: on_trial(t)] if on_trial else [])
        fn = objective(tune, tune.data(), device, threads, on_epoch)
        study.optimize(fn, n_trials=todo, timeout=timeout, callbacks=callbacks)
    return study


# -- the final runs ------------------------------------------------------------------------------


def final_runs(
    tune: TuneDir, seeds: int, *, device: str = "auto", threads: int | None = None,
    on_epoch: Callable[[Run, dict[str, Any]], None] | None = None,
) -> list[tuple[Run, FitResult | None]]:  # fmt: skip
    """Train the best trial's configuration with seeds ``seed, seed + 1, …`` on the study's
    split and test each once; runs already done for the same trial are kept, an interrupted
    one resumes. Returns each run with its result (None for one kept from before: read its
    ``result.json``).

    Raises:
        ValueError: no trial has completed.
    """
    spec = tune.spec
    study = load_study(tune)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"{tune.name}: no completed trial to retrain")
    best = study.best_trial
    final = spec.get("final") or {}
    if final.get("trial") != best.number:
        final = {"trial": best.number, "params": best.params, "runs": {}}
    export, split = load_export(tune.path / EXPORT), Split.load(tune.path / SPLIT)
    out: list[tuple[Run, FitResult | None]] = []
    overrides: dict[str, Any] = {"device": device, **({"threads": threads} if threads else {})}
    for i in range(seeds):
        seed = int(spec["seed"]) + i
        name = final["runs"].get(str(seed))
        run = Run(tune.path / FINAL / name) if name else None
        if run is not None and run.status == "done":
            out.append((run, None))
            continue
        resume = run is not None and run.status == "interrupted"
        if run is None or not resume:
            rs = trial_settings(spec, best.params, seed=seed, device=device, threads=threads)
            run = start_run(export, spec["model"], spec["graph"], tune.path / FINAL, rs.model,
                            rs.train, rating_kinds=rs.rating_kinds, split=split)  # fmt: skip
            final["runs"][str(seed)] = run.name
            tune.write_spec({**tune.spec, "final": final})
        hook = (lambda r, run=run: on_epoch(run, r)) if on_epoch else None
        out.append((run, train_run(run, resume=resume, on_epoch=hook, overrides=overrides)))
    return out


def summarize(values: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric: mean and (population) std over the runs' test metrics."""
    keys = [k for k in values[0] if k != "users" and all(k in v for v in values)] if values else []
    return {k: {"mean": float(np.mean([v[k] for v in values])),
                "std": float(np.std([v[k] for v in values]))} for k in keys}  # fmt: skip
