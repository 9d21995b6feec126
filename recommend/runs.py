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

Nothing here talks to the graph database: a run is self-contained once it has its export.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from recommend.data import RecData, load_recdata
from recommend.models.base import ModelConfig, Recommender, build

CONFIG = "config.json"
EXPORT = "export"
SPLIT = "split.npz"
METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
BEST = "best.pt"
LAST = "last.pt"
RESULT = "result.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def new_run_dir(
    runs_dir: Path, model: str, dataset: str, seed: int, now: datetime | None = None
) -> Path:
    """Create and return a fresh run directory (a suffix keeps two runs in a second apart)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_UNSAFE.sub('_', model)}-{_UNSAFE.sub('_', dataset)}-s{seed}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = runs_dir / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory name for {base} in {runs_dir}")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def write_json(path: Path, obj: Any) -> None:
    """Write atomically, so a killed process never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


@dataclass
class Run:
    """One run directory."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        cfg = _read_json(self.path / CONFIG)
        if cfg is None:
            raise FileNotFoundError(f"{self.path} is not a run directory (no {CONFIG})")
        return dict(cfg)

    @property
    def result(self) -> dict[str, Any] | None:
        return _read_json(self.path / RESULT)

    def history(self) -> list[dict[str, Any]]:
        """Per-epoch records of ``metrics.jsonl``."""
        p = self.path / METRICS_JSONL
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    @property
    def status(self) -> str:
        if (self.path / RESULT).exists():
            return "done"
        if (self.path / LAST).exists():
            return "interrupted"
        return "started"

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

    def summary(self) -> dict[str, Any]:
        """One row of ``kgrec runs``."""
        cfg = _read_json(self.path / CONFIG) or {}
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
    if not runs_dir.is_dir():
        return []
    return [Run(p) for p in sorted(runs_dir.iterdir()) if (p / CONFIG).is_file()]


def find_run(ref: str | Path, runs_dir: Path) -> Run:
    """A run by path, by directory name, by a unique prefix of the name, or ``latest``."""
    p = Path(ref)
    if (p / CONFIG).is_file():
        return Run(p)
    runs = list_runs(runs_dir)
    if str(ref) == "latest":
        if not runs:
            raise FileNotFoundError(f"no runs in {runs_dir}")
        return runs[-1]
    matches = [r for r in runs if r.name == str(ref)] or [
        r for r in runs if r.name.startswith(str(ref))
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileNotFoundError(f"no run {str(ref)!r} in {runs_dir}")
    raise ValueError(f"{str(ref)!r} matches {len(matches)} runs: use the full name")
