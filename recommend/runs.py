"""Run directories: everything needed to evaluate, resume or serve a training run again.

Layout of ``<Settings.runs_dir>/<YYYYmmdd-HHMMSS>-<model>-<dataset>-s<seed>/``::

    config.json     model name and ModelConfig, TrainConfig, dataset, seed, split summary
    export/         the graph export training used (npz + manifest.json; see recommend.data)
    split.npz       the exact train / valid / test pairs
    metrics.jsonl   one JSON object per epoch (losses, seconds, validation metrics)
    metrics.csv     the same as a table
    best.pt         model weights at the best validation score
    last.pt         model, optimizer, epoch and RNG states after the last finished epoch
    result.json     final test metrics of the best weights, best epoch, timings
    per_user_test.npz   those test metrics user by user (``kgrec compare``'s paired tests)

Nothing here talks to the graph database: a run is self-contained once it has its export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from kg_store.export import GraphExport
from kgrec.runs import (
    CONFIG,
    LAST,
    PER_USER_TEST,
    RESULT,
    RunDir,
    new_run_dir,
    read_json,
    write_json,
)
from kgrec.runs import METRICS as METRICS_JSONL
from recommend.config import TrainConfig
from recommend.data import RecData, Split, build_recdata, load_export, load_recdata, save_export
from recommend.metrics import Evaluation
from recommend.models.base import ModelConfig, Recommender, build
from recommend.split import make_split

__all__ = [
    "BEST", "CONFIG", "EXPORT", "LAST", "METRICS_CSV", "METRICS_JSONL", "PER_USER_TEST", "RESULT",
    "SPLIT", "Run", "find_run", "list_runs", "load_cached_export", "new_run_dir",
    "recdata_from_export", "start_run", "write_json",
]  # fmt: skip

EXPORT = "export"
SPLIT = "split.npz"
METRICS_CSV = "metrics.csv"
BEST = "best.pt"


@dataclass
class Run(RunDir):
    """One run directory (name, config, result, history and status: :class:`kgrec.runs.RunDir`)."""

    noun = "run"
    not_a_run = "a run directory"

    def model_config(self) -> ModelConfig:
        return ModelConfig(**self.config["model_config"])

    def data(self) -> RecData:
        """The run's training data from its cached export and saved split (no DB)."""
        return load_recdata(self.path, rating_kinds=bool(self.config.get("rating_kinds", False)))

    def load_model(
        self, which: str = "best", data: RecData | None = None, device: str | torch.device = "cpu"
    ) -> Recommender:
        """Rebuild the model and load ``best.pt`` (or ``last.pt``) weights, in eval mode."""
        cfg = self.config
        data = data or self.data()
        model = build(cfg["model"], data, self.model_config())
        # last.pt also holds RNG states (numpy arrays, tuples): not a weights-only file
        ckpt = torch.load(self.path / (BEST if which == "best" else LAST), map_location="cpu",
                          weights_only=which == "best")  # fmt: skip
        state = ckpt if which == "best" else ckpt["model"]
        model.load_state_dict(state)
        model.refresh()
        return model.to(device).eval()

    def evaluation(self, split: str = "test") -> Evaluation | None:
        """The saved per-user values of ``split`` (None where the run has none)."""
        arrays = self.read_per_user(split)
        return None if arrays is None else Evaluation.from_arrays(arrays)

    def save_evaluation(self, evaluation: Evaluation, split: str = "test") -> None:
        """Save per-user values as ``per_user_<split>.npz``."""
        self.write_per_user(evaluation.arrays(), split)

    def summary(self) -> dict[str, Any]:
        """One row of ``kgrec runs``."""
        cfg = read_json(self.path / CONFIG) or {}
        res = self.result or {}
        hist = self.history()
        return {
            "run": self.name,
            "model": cfg.get("model"),
            "dataset": cfg.get("dataset"),
            "seed": cfg.get("seed"),
            "status": self.status,
            "epochs": res.get("epochs", len(hist)),
            "best_epoch": res.get("best_epoch"),
            "test": res.get("test", {}),
        }


def list_runs(runs_dir: Path) -> list[Run]:
    """Run directories under ``runs_dir``, oldest first (names start with their timestamp)."""
    return Run.list_in(runs_dir)


def find_run(ref: str | Path, runs_dir: Path) -> Run:
    """A run by path, by directory name, by a unique prefix of the name, or ``latest``."""
    return Run.find(ref, runs_dir)


# -- runs from an export ------------------------------------------------------------------------


def start_run(
    export: GraphExport,
    model: str,
    dataset: str,
    runs_dir: Path,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    rating_kinds: bool = False,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    split: Split | None = None,
) -> Run:
    """Create a run directory: cache the export, make (or take ``split``) and save the split,
    write config.json.

    The caller may drop ``export`` afterwards: :meth:`Run.data` rebuilds everything from the
    cache, so training never needs the graph database.
    """
    tcfg = train_config or TrainConfig()
    mcfg = model_config or ModelConfig()
    path = new_run_dir(runs_dir, model, dataset, tcfg.seed)
    save_export(export, path / EXPORT)
    if split is None:
        split = make_split(export, seed=tcfg.seed, ratios=ratios)
    split.save(path / SPLIT)
    write_json(path / CONFIG, {
        "model": model,
        "dataset": dataset,
        "seed": tcfg.seed,
        "model_config": asdict(mcfg),
        "train_config": asdict(tcfg),
        "rating_kinds": rating_kinds,
        "split": {"source": split.source, "seed": split.seed, "ratios": list(ratios),
                  **split.sizes()},
        "export": export.summary(),
        "torch": torch.__version__,
    })  # fmt: skip
    return Run(path)


def recdata_from_export(export: GraphExport, seed: int = 0, rating_kinds: bool = False) -> RecData:
    """Split (``make_split``) and build in one call, for scripts that keep no run directory."""
    return build_recdata(export, make_split(export, seed), rating_kinds=rating_kinds)


def load_cached_export(run: Run) -> GraphExport:
    return load_export(run.path / EXPORT)
