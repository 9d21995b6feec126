"""Embedding runs: a directory per run, so any run can be evaluated, resumed, written back to
the graph or used to initialise a recommender without the database.

Layout of ``<KGREC_HOME>/embeddings/<YYYYmmdd-HHMMSS>-<model>-<graph>-s<seed>/``::

    config.json      model, KGEConfig, TrainConfig, graph, relation types, split sizes
    data/            triples.npz (all triples) and entities.json (labels, keys, relations)
    split.npz        the exact train / valid / test triples
    metrics.jsonl    one JSON object per epoch (loss, seconds, validation metrics)
    last.pt          weights, optimiser, epoch and RNG state after the last checkpoint
    embeddings.npz   the final entity embeddings (float32, row = entity id)
    result.json      test metrics of the final weights, epochs, timings
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embed.base import KGEConfig, KGEModel, build
from embed.evaluate import evaluate
from embed.train import EpochCallback, TrainConfig, Trainer, resolve_device
from embed.triples import TripleSet, split_triples

CONFIG = "config.json"
DATA = "data"
SPLIT = "split.npz"
METRICS = "metrics.jsonl"
LAST = "last.pt"
EMBEDDINGS = "embeddings.npz"
RESULT = "result.json"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def embeddings_dir(home: Path) -> Path:
    """Where embedding runs live: ``KGREC_HOME/embeddings`` (beside the recommenders' runs)."""
    return home / "embeddings"


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def _save(state: dict[str, Any], path: Path) -> None:
    """Checkpoint atomically: a run killed while saving keeps its previous checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


@dataclass
class EmbedRun:
    """One embedding run directory."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        p = self.path / CONFIG
        if not p.is_file():
            raise FileNotFoundError(f"{self.path} is not an embedding run (no {CONFIG})")
        return dict(json.loads(p.read_text()))

    @property
    def result(self) -> dict[str, Any] | None:
        p = self.path / RESULT
        return json.loads(p.read_text()) if p.is_file() else None

    def history(self) -> list[dict[str, Any]]:
        p = self.path / METRICS
        if not p.is_file():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    def triples(self) -> TripleSet:
        return TripleSet.load(self.path / DATA)

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.load(self.path / SPLIT) as z:
            return z["train"], z["valid"], z["test"]

    def model_config(self) -> KGEConfig:
        return KGEConfig(**self.config["model_config"])

    def train_config(self, overrides: dict[str, Any] | None = None) -> TrainConfig:
        return TrainConfig(**{**self.config["train_config"], **(overrides or {})})

    def entity_embeddings(self) -> dict[str, tuple[pd.Index, np.ndarray]]:
        """Per label, (node keys, ``[n, dim]`` float32 vectors) of the finished run."""
        p = self.path / EMBEDDINGS
        if not p.is_file():
            raise FileNotFoundError(f"embedding run {self.name} has no {EMBEDDINGS}: not finished")
        with np.load(p) as z:
            mat = z["entities"]
        ts = self.triples()
        return {
            label: (keys, mat[ts.offsets[label] : ts.offsets[label] + len(keys)])
            for label, keys in ts.keys.items()
        }

    def load_model(self, device: str | torch.device = "cpu") -> KGEModel:
        """The model with the weights of the last checkpoint, in eval mode."""
        cfg, ts = self.config, self.triples()
        model = build(cfg["model"], ts.n_entities, ts.n_relations, self.model_config())
        state = torch.load(self.path / LAST, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        return model.to(device).eval()


def new_run_dir(root: Path, model: str, graph: str, seed: int) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_UNSAFE.sub('_', model)}-{_UNSAFE.sub('_', graph)}-s{seed}"
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory name for {base} in {root}")


def start_run(
    ts: TripleSet,
    model: str,
    graph: str,
    root: Path,
    model_config: KGEConfig,
    train_config: TrainConfig,
    relations: list[str] | None = None,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> EmbedRun:
    """Create a run directory holding the triples, the split and the configuration."""
    train_config.check()
    build(model, ts.n_entities, ts.n_relations, model_config)  # fail before writing anything
    path = new_run_dir(root, model, graph, train_config.seed)
    ts.save(path / DATA)
    train, valid, test = split_triples(ts.triples, ratios, train_config.seed)
    np.savez(path / SPLIT, train=train, valid=valid, test=test)
    _write_json(path / CONFIG, {
        "model": model,
        "graph": graph,
        "relations": relations,
        "seed": train_config.seed,
        "model_config": asdict(model_config),
        "train_config": asdict(train_config),
        "split": {"ratios": list(ratios), "train": len(train), "valid": len(valid),
                  "test": len(test)},
        "triples": ts.summary(),
        "torch": torch.__version__,
    })  # fmt: skip
    return EmbedRun(path)


def train_run(
    run: EmbedRun,
    resume: bool = False,
    on_epoch: EpochCallback | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) ``run`` to its configured epochs; evaluate on the test triples.

    Args:
        resume: continue from ``last.pt`` (an absent checkpoint starts from epoch 0).
        overrides: TrainConfig fields for this invocation (``device``, ``threads``, ``epochs``
            to train further); ``epochs`` is saved back to the configuration.

    Returns:
        the result: test metrics (``mrr``, ``mr``, ``hits@1/3/10``), epochs, seconds.
    """
    cfg = run.config
    tcfg = run.train_config(overrides)
    if overrides and "epochs" in overrides:
        cfg["train_config"]["epochs"] = tcfg.epochs
        _write_json(run.path / CONFIG, cfg)
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    ts = run.triples()
    train, valid, test = run.split()
    known = ts.triples
    torch.manual_seed(tcfg.seed)
    model = build(cfg["model"], ts.n_entities, ts.n_relations, run.model_config())
    trainer = Trainer(model, train, tcfg, device)
    metrics_path = run.path / METRICS
    if resume and (run.path / LAST).is_file():
        trainer.load_state(torch.load(run.path / LAST, map_location=device, weights_only=False))
        # drop epoch records written after the checkpoint (a run killed between saves)
        kept = [r for r in run.history() if r["epoch"] <= trainer.epoch]
        metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    elif metrics_path.exists():
        metrics_path.unlink()
    t_train = sum(r["train_s"] for r in run.history())
    while trainer.epoch < tcfg.epochs:
        rec: dict[str, Any] = trainer.run_epoch()
        t_train += rec["train_s"]
        if tcfg.eval_every and trainer.epoch % tcfg.eval_every == 0 and len(valid):
            rec.update({f"valid_{k}": v for k, v in evaluate(model, valid, known).items()})
        with metrics_path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        if trainer.epoch % tcfg.checkpoint_every == 0 or trainer.epoch == tcfg.epochs:
            _save(trainer.state(), run.path / LAST)
        if on_epoch:
            on_epoch(rec)
    if not (run.path / LAST).is_file():
        _save(trainer.state(), run.path / LAST)
    t0 = time.perf_counter()
    metrics = evaluate(model, test, known) if len(test) else {}
    result = {
        **metrics,
        "epochs": trainer.epoch,
        "train_s": t_train,
        "eval_s": time.perf_counter() - t0,
        "triples_per_s": trainer.epoch * len(train) / t_train if t_train else 0.0,
        "device": str(device),
    }
    vectors = model.entity_vectors().cpu().numpy().astype(np.float32)
    np.savez(run.path / EMBEDDINGS, entities=vectors)
    _write_json(run.path / RESULT, result)
    return result


def list_runs(root: Path) -> list[EmbedRun]:
    if not root.is_dir():
        return []
    return [EmbedRun(p) for p in sorted(root.iterdir()) if (p / CONFIG).is_file()]


def find_run(ref: str | Path, root: Path) -> EmbedRun:
    """A run by path, by directory name, by a unique prefix of the name, or ``latest``."""
    p = Path(ref)
    if (p / CONFIG).is_file():
        return EmbedRun(p)
    runs = list_runs(root)
    if str(ref) == "latest":
        if not runs:
            raise FileNotFoundError(f"no embedding runs in {root}")
        return runs[-1]
    matches = [r for r in runs if r.name == str(ref)] or [
        r for r in runs if r.name.startswith(str(ref))
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileNotFoundError(f"no embedding run {str(ref)!r} in {root}")
    raise ValueError(f"{str(ref)!r} matches {len(matches)} embedding runs: use the full name")
