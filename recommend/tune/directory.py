"""A tune directory: its files (``tune.json``, ``study.db``, the export and the split), how
one is made, found and held by one process."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from kg_store.export import GraphExport
from kgrec.runs import read_json, write_json
from recommend.config import configs_for
from recommend.data import RecData, Split, build_recdata, load_export, save_export
from recommend.runs import EXPORT, SPLIT
from recommend.split import make_split
from recommend.tune.space import TuneSpace, default_params, model_space

TUNE = "tune.json"
STUDY_DB = "study.db"
FINAL = "final"
STUDY = "kgrec"  # the study's name inside study.db
PREFIX = "tune-"


@dataclass
class TuneDir:
    """One tune directory (see the module's docstring)."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec(self) -> dict[str, Any]:
        spec = read_json(self.path / TUNE)
        if not isinstance(spec, dict):
            raise FileNotFoundError(f"{self.path} is not a tune directory (no {TUNE})")
        return spec

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json(self.path / TUNE, spec)

    @property
    def space(self) -> TuneSpace:
        spec = self.spec
        return TuneSpace.from_json(spec.get("space"), str(spec.get("model")), f"{TUNE} space")

    def storage(self) -> optuna.storages.RDBStorage:
        return optuna.storages.RDBStorage(f"sqlite:///{self.path / STUDY_DB}")

    def data(self) -> RecData:
        """The study's training data, without its test pairs (no trial sees them)."""
        spec = self.spec
        data = build_recdata(load_export(self.path / EXPORT), Split.load(self.path / SPLIT),
                             rating_kinds=bool(spec.get("rating_kinds", False)))  # fmt: skip
        return replace(data, test=np.zeros((0, 2), dtype=np.int64))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the study for this process; another holder is an error."""
        with open(self.path / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(f"{self.name} is being tuned by another process") from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @classmethod
    def find(cls, ref: str | Path, runs_dir: Path) -> TuneDir:
        """By path, by name, by a unique prefix of the name, or ``latest``."""
        if (Path(ref) / TUNE).is_file():
            return cls(Path(ref))
        dirs = sorted(
            (p for p in runs_dir.glob(PREFIX + "*") if (p / TUNE).is_file()),
            key=lambda p: str(read_json(p / TUNE).get("created", "")),
        ) if runs_dir.is_dir() else []  # fmt: skip
        if str(ref) == "latest":
            if not dirs:
                raise FileNotFoundError(f"no tune directories in {runs_dir}")
            return cls(dirs[-1])
        matches = [p for p in dirs if p.name == str(ref)] or [
            p for p in dirs if p.name.startswith(str(ref))
        ]
        if len(matches) == 1:
            return cls(matches[0])
        if not matches:
            raise FileNotFoundError(f"no tune directory {str(ref)!r} in {runs_dir}")
        raise ValueError(f"{str(ref)!r} matches {len(matches)} tune directories: use the name")


@dataclass(frozen=True)
class TuneSettings:
    """A new study's settings (written to ``tune.json``).

    Args:
        seed: seed of the split, the sampler and every trial's training (default: 0).
        epochs, patience: most epochs and early-stopping patience per trial (default: None,
            the model's).
        startup_trials: random trials before TPE models the space (default: 5).
        prune_startup: finished trials before the pruner prunes (default: 3).
        prune_warmup: epochs of a trial before it may be pruned (default: 10).
        defaults_first: the first trial is the model's defaults (default: True).
    """

    seed: int = 0
    epochs: int | None = None
    patience: int | None = None
    startup_trials: int = 5
    prune_startup: int = 3
    prune_warmup: int = 10
    defaults_first: bool = True


def new_tune_dir(
    export: GraphExport, model: str, graph: str, runs_dir: Path, settings: TuneSettings,
    now: datetime | None = None,
) -> TuneDir:  # fmt: skip
    """Create a tune directory: the export, the study's split, ``tune.json`` and the study
    (with the defaults trial enqueued)."""
    space = model_space(model)
    rs = configs_for(model, epochs=settings.epochs, patience=settings.patience,
                     seed=settings.seed)  # fmt: skip
    when = now or datetime.now()
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{PREFIX}{model}-{graph}-{when:%Y%m%d-%H%M%S}".replace("/", "_")
    path = next(p for n in range(1000)
                if not (p := runs_dir / (base if n == 0 else f"{base}-{n}")).exists())  # fmt: skip
    path.mkdir()
    save_export(export, path / EXPORT)
    split = make_split(export, seed=settings.seed)
    split.save(path / SPLIT)
    tune = TuneDir(path)
    tune.write_spec({
        "model": model, "graph": graph, "created": when.isoformat(timespec="seconds"),
        "seed": settings.seed, "monitor": rs.train.monitor, "trials": 0,
        "epochs": rs.train.epochs, "patience": rs.train.patience,
        "rating_kinds": rs.rating_kinds, "space": space.to_json(),
        "sampler": {"name": "tpe", "startup_trials": settings.startup_trials},
        "pruner": {"name": "median", "startup_trials": settings.prune_startup,
                   "warmup_epochs": settings.prune_warmup},
        "split": {"source": split.source, "seed": split.seed, **split.sizes()},
        "export": export.summary(), "final": None,
    })  # fmt: skip
    study = optuna.create_study(storage=tune.storage(), study_name=STUDY, direction="maximize")
    if settings.defaults_first:
        study.enqueue_trial(default_params(model, space), user_attrs={"defaults": True})
    return tune
