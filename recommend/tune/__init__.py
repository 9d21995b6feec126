"""Hyper-parameter search (``kgrec tune``): Optuna's TPE over a model's declared search space,
median pruning on the validation metric, the study on disk so it resumes, and the best
configuration retrained over several seeds and tested once each.

A tune directory ``<runs_dir>/tune-<model>-<graph>-<YYYYmmdd-HHMMSS>/`` holds::

    tune.json   model, graph, seed, the search space, budget, sampler and pruner settings, and
                the final runs (indented JSON; the space is the one the study started with)
    study.db    the Optuna study (SQLite): each trial's parameters, per-epoch validation
                values, state (complete, pruned, failed) and value
    export/     the graph export, made once: every trial and final run trains on it
    split.npz   the one split of the study
    final/      the best configuration's runs, one per seed, on the same split (ordinary run
                directories: ``kgrec evaluate`` / ``kgrec serve`` take their paths)

Trials train in memory without the test pairs (no checkpoint, no run directory: disk use is the
export, the study and the final runs) and report the best validation score so far after each
evaluation; the median pruner stops a trial whose score is below the median of the finished
trials' at the same epoch. The first trial of a new study is the model's own defaults (where
they lie in the space), so the best is never worse on validation than the defaults.

A Ctrl-C fails the trial under way (marked ``interrupted``) and stops; resuming retries that
configuration first. A study is held by one process at a time (a lock file); a trial left
running by a killed process is failed and retried when the study resumes.
"""

from recommend.tune.directory import (
    FINAL,
    STUDY,
    STUDY_DB,
    TUNE,
    TuneDir,
    TuneSettings,
    new_tune_dir,
)
from recommend.tune.space import TUNABLE, TuneSpace, checked_space, default_params, model_space
from recommend.tune.study import (
    FINISHED,
    final_runs,
    finished,
    load_study,
    make_pruner,
    objective,
    recover,
    run_study,
    summarize,
    trial_settings,
)

__all__ = [
    "FINAL", "FINISHED", "STUDY", "STUDY_DB", "TUNABLE", "TUNE", "TuneDir", "TuneSettings",
    "TuneSpace", "checked_space", "default_params", "final_runs", "finished", "load_study",
    "make_pruner", "model_space", "new_tune_dir", "objective", "recover", "run_study",
    "summarize", "trial_settings",
]  # fmt: skip
