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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

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
from recommend.data import RecData, load_recdata
from recommend.metrics import Evaluation
from recommend.models.base import ModelConfig, Recommender, build

__all__ = [
    "BEST", "CONFIG", "EXPORT", "LAST", "METRICS_CSV", "METRICS_JSONL", "PER_USER_TEST", "RESULT",
    "SPLIT", "Run", "find_run", "list_runs", "new_run_dir", "write_json",
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
