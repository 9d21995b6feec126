"""Refitting a finished run: the same model and settings trained again on its training and
validation pairs together, for the number of epochs early stopping chose, then tested once.

Early stopping needs validation pairs held out of training (amazon-book's ``valid1.txt`` is
15% of KGAT's ``train.txt``); the published figures train on every training pair. A refit run
closes that gap without looking at the test pairs: its epoch count is the parent's best
validation epoch, its test users and the items their ranking leaves out are the parent's
(training and validation pairs), so ``kgrec compare PARENT REFIT`` pairs them user by user.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from kgrec.spec import SPEC_FILE, SUBGRAPH_COPY
from recommend.config import TrainConfig
from recommend.explain.names import NAMES_FILE
from recommend.init_from import Initializer, initializer
from recommend.runs import SPLIT, Run, load_cached_export, start_run
from recommend.split import Split, sort_pairs

REFIT = "refit"  # config.json key: {"of": parent run name, "epochs": E}
# what a run keeps of its spec and graph beside the export: a refit serves as its parent does
KEPT = (SPEC_FILE, SUBGRAPH_COPY, NAMES_FILE)


def refit_split(split: Split) -> Split:
    """``split`` with its validation pairs moved into training (none left to validate on).

    Raises:
        ValueError: when there are no validation pairs to move.
    """
    if not len(split.valid):
        raise ValueError("the split has no validation pairs: training already used every pair")
    train = sort_pairs(np.concatenate([split.train, split.valid]))
    return replace(split, train=train, valid=np.zeros((0, 2), np.int64),
                   source=f"{split.source}+{REFIT}")  # fmt: skip


def refit_epochs(run: Run, epochs: int | None = None) -> int:
    """``epochs`` if given, else the epoch at which ``run`` reached its best validation score.

    Raises:
        ValueError: when ``run`` has not finished (no ``result.json``), is itself a refit, or
            has no best epoch to take.
    """
    if REFIT in run.config:
        raise ValueError(f"run {run.name} is already a refit (of {run.config[REFIT]['of']})")
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, not {epochs}")
        return epochs
    result = run.result
    if result is None:
        raise ValueError(f"run {run.name} has not finished (no result.json): finish it with "
                         f"`kgrec train --resume {run.name}`, or give --epochs")  # fmt: skip
    best = int(result.get("best_epoch") or 0)
    if best < 1:
        raise ValueError(f"run {run.name} has no best validation epoch to refit for: give --epochs")
    return best


def start_refit(run: Run, runs_dir: Path, epochs: int | None = None) -> Run:
    """A new run directory under ``runs_dir``: ``run``'s export, model and settings, its split
    with the validation pairs trained on (:func:`refit_split`), ``epochs`` (default: ``run``'s
    best epoch, :func:`refit_epochs`) and no validation. Train it with
    :func:`recommend.train.train_run` (with :func:`refit_init`'s hook); its last weights are
    the ones tested."""
    n_epochs = refit_epochs(run, epochs)
    cfg = run.config
    split = refit_split(Split.load(run.path / SPLIT))
    tcfg = TrainConfig(**{**cfg["train_config"], "epochs": n_epochs})
    ratios = tuple(cfg.get("split", {}).get("ratios", (0.8, 0.1, 0.1)))
    new = start_run(
        load_cached_export(run),
        cfg["model"],
        f"{cfg['dataset']}-{REFIT}",
        runs_dir,
        run.model_config(),
        tcfg,
        rating_kinds=bool(cfg.get("rating_kinds", False)),
        ratios=(float(ratios[0]), float(ratios[1]), float(ratios[2])),
        split=split,
    )
    new.write_config({**new.config, "dataset": cfg["dataset"],
                      REFIT: {"of": run.name, "epochs": n_epochs}})  # fmt: skip
    for name in KEPT:
        if (run.path / name).is_file():
            shutil.copyfile(run.path / name, new.path / name)
    return new


def refit_init(parent: Run, refit: Run) -> Initializer | None:
    """The ``init`` hook for training ``refit`` as ``parent`` started: from the same
    ``kgrec embed`` run's vectors (``--init-from``), or None when ``parent`` started from its
    own initialisation.

    Raises:
        ValueError: when that embedding run is no longer there.
    """
    source = parent.config.get("init_from")
    if not source:
        return None
    path = Path(source["run"])
    if not (path / "config.json").is_file():
        raise ValueError(f"run {parent.name} started from the embedding run {path}, which is "
                         f"gone: a refit would not start as it did")  # fmt: skip
    return initializer(path, refit)
