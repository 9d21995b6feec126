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

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embed.base import KGEConfig, KGEModel, build
from embed.evaluate import evaluate
from embed.train import EpochCallback, TrainConfig, Trainer, resolve_device
from embed.triples import TripleSet, split_triples
from kgrec.runs import (
    CONFIG,
    LAST,
    METRICS,
    RESULT,
    RunDir,
    TrainingInterrupted,
    new_run_dir,
    seed_everything,
    sigint_stops,
)
from kgrec.runs import save_checkpoint as _save
from kgrec.runs import write_json as _write_json

__all__ = [
    "CONFIG", "DATA", "EMBEDDINGS", "LAST", "METRICS", "RESULT", "SPLIT", "EmbedRun",
    "embeddings_dir", "find_run", "list_runs", "new_run_dir", "start_run", "train_run",
]  # fmt: skip

DATA = "data"
SPLIT = "split.npz"
EMBEDDINGS = "embeddings.npz"


def embeddings_dir(home: Path) -> Path:
    """Where embedding runs live: ``KGREC_HOME/embeddings`` (beside the recommenders' runs)."""
    return home / "embeddings"


@dataclass
class EmbedRun(RunDir):
    """One embedding run directory (name, config, result, history, status:
    :class:`kgrec.runs.RunDir`)."""

    noun = "embedding run"
    not_a_run = "an embedding run"

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

    Raises:
        TrainingInterrupted: at a SIGINT, checked before each batch and each epoch (a second
            SIGINT kills the process). The epoch under way is discarded; ``last.pt`` holds the
            last finished epoch where the interruption came between epochs, else the last
            checkpoint (a new run writes one of epoch 0 first), and a resume reruns from it.
    """
    cfg = run.config
    tcfg = run.train_config(overrides)
    if overrides and "epochs" in overrides:
        cfg["train_config"]["epochs"] = tcfg.epochs
        run.write_config(cfg)
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    ts = run.triples()
    train, valid, test = run.split()
    known = ts.triples
    seed_everything(tcfg.seed)
    model = build(cfg["model"], ts.n_entities, ts.n_relations, run.model_config())
    trainer = Trainer(model, train, tcfg, device)
    if resume and (run.path / LAST).is_file():
        trainer.load_state(torch.load(run.path / LAST, map_location=device, weights_only=False))
        # drop epoch records written after the checkpoint (a run killed between saves)
        run.write_history([r for r in run.history() if r["epoch"] <= trainer.epoch])
    else:
        run.clear_history()
        _save(trainer.state(), run.path / LAST)  # epoch 0: an interruption resumes here
    saved = trainer.epoch
    t_train = sum(r["train_s"] for r in run.history())
    with sigint_stops() as stop:
        try:
            while trainer.epoch < tcfg.epochs:
                if stop.requested:  # between epochs: the state is exact, keep it
                    if trainer.epoch != saved:
                        _save(trainer.state(), run.path / LAST)
                        saved = trainer.epoch
                    stop.check()
                rec: dict[str, Any] = trainer.run_epoch(stop.check)
                t_train += rec["train_s"]
                if tcfg.eval_every and trainer.epoch % tcfg.eval_every == 0 and len(valid):
                    rec.update({f"valid_{k}": v for k, v in evaluate(model, valid, known).items()})
                run.append_history(rec)
                if trainer.epoch % tcfg.checkpoint_every == 0 or trainer.epoch == tcfg.epochs:
                    _save(trainer.state(), run.path / LAST)
                    saved = trainer.epoch
                if on_epoch:
                    on_epoch(rec)
        except TrainingInterrupted as e:
            raise TrainingInterrupted(run.path, saved) from e
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
    run.write_result(result)
    return result


def list_runs(root: Path) -> list[EmbedRun]:
    return EmbedRun.list_in(root)


def find_run(ref: str | Path, root: Path) -> EmbedRun:
    """A run by path, by directory name, by a unique prefix of the name, or ``latest``."""
    return EmbedRun.find(ref, root)
