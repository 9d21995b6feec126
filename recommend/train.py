"""Training loop: BPR batches, an alternating KG (TransR) pass, early stopping, checkpoints.

One epoch, as in KGAT's reference code: every training pair once in BPR batches (one uniform
negative the user has not trained on), then, for a model with :meth:`Recommender.kg_graphs`,
every triple of each graph once with a corrupted tail, then :meth:`Recommender.refresh`. One
Adam optimizer holds all parameters. Every ``eval_every`` epochs the model ranks all items for
the validation users; training stops after ``patience`` evaluations without a better validation
Recall@20 and the best weights are tested.

Checkpoints hold the model, the optimizer, the epoch and every RNG state (the samplers' own
generator, torch, numpy, Python), so a resumed run continues exactly where the interrupted one
stopped: on CPU, the same seed gives the same numbers with or without an interruption.

Ctrl-C (SIGINT) during :meth:`Trainer.fit` stops at the next training batch or evaluation
batch and raises :class:`kgrec.runs.TrainingInterrupted`; a second one kills the process. The
epoch under way is discarded: ``last.pt`` stays the checkpoint of the last finished epoch (a
new run writes one of epoch 0 before training), so ``--resume`` reruns the interrupted epoch
from exactly the state it began with.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from kgrec.device import resolve_device
from kgrec.runs import StopFlag, TrainingInterrupted, seed_everything, sigint_stops
from kgrec.runs import save_checkpoint as _save
from recommend.config import TrainConfig
from recommend.config import configs_for as configs_for
from recommend.data import RecData
from recommend.metrics import Evaluator, split_evaluator
from recommend.models.base import Recommender, build
from recommend.runs import BEST, LAST, METRICS_CSV, Run
from recommend.runs import load_cached_export as load_cached_export
from recommend.runs import recdata_from_export as recdata_from_export
from recommend.runs import start_run as start_run
from recommend.sampling import BPRSampler, TripleSampler

Progress = Callable[[str, int, int], None]
EpochCallback = Callable[[dict[str, Any]], None]


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns (also written to ``result.json``)."""

    test: dict[str, float]
    best_epoch: int
    best_valid: dict[str, float]
    epochs: int
    seconds_per_epoch: float
    eval_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("history")
        return d


class Trainer:
    """Trains one model on one :class:`RecData`, writing to ``run_dir`` when given.

    Args:
        model: a :class:`Recommender` (already on any device; moved to ``config.device``).
        data: the training data.
        config: optimisation settings.
        run_dir: where checkpoints and metrics go (default: None, nothing written and no
            resume).
        progress: ``progress(stage, done, total)`` after each epoch (and each batch of
            ``"batch"``), for progress bars.
        on_epoch: called with each epoch's record.
    """

    def __init__(
        self,
        model: Recommender,
        data: RecData,
        config: TrainConfig | None = None,
        run_dir: Path | None = None,
        progress: Progress | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> None:
        self.config = cfg = config or TrainConfig()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        self.data = data
        self.run_dir = run_dir
        self.progress = progress
        self.on_epoch = on_epoch
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.bpr = BPRSampler(data.train, data.n_items, self.generator)
        self.kg_samplers: dict[str, TripleSampler] = {}
        if cfg.kg:
            for name, graph in model.kg_graphs().items():
                self.kg_samplers[name] = TripleSampler(graph, generator=self.generator)
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = (
            torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if params else None
        )
        self.valid_eval = split_evaluator(data, "valid", batch_users=cfg.eval_batch_users)
        self.test_eval = split_evaluator(data, "test", batch_users=cfg.eval_batch_users, auc=True)
        self.epoch = 0  # epochs finished
        self.best_score = -float("inf")
        self.best_epoch = 0
        self.best_valid: dict[str, float] = {}
        self.bad = 0
        self.history: list[dict[str, Any]] = []
        self._best_state: dict[str, torch.Tensor] | None = None  # best weights without run_dir
        self._stop = StopFlag()  # replaced by fit's for the duration of training
        self._saved = 0  # the epoch of run_dir/last.pt
        self.limit: int | None = None  # most batches per pass (timing a part of an epoch)
        self.timing: dict[str, tuple[float, int]] = {}  # the last epoch's passes

    # -- one epoch ----------------------------------------------------------------------------
    def _step(self, loss: torch.Tensor) -> float:
        assert self.optimizer is not None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def _batches(
        self, batches: Iterator[tuple[Tensor, ...]]
    ) -> Iterator[tuple[tuple[Tensor, ...], float]]:
        """The batches of a pass this process trains on, each with its loss weight: all of
        them, weight 1 (a data-parallel rank, :mod:`recommend.distributed`, keeps its shard)."""
        return ((batch, 1.0) for batch in batches)

    def _loss(self, kind: str, *args: Any) -> Tensor:
        """``model.cf_loss(*args)`` (``kind="cf"``) or ``model.kg_loss(*args)`` (``"kg"``)."""
        return self.model.cf_loss(*args) if kind == "cf" else self.model.kg_loss(*args)

    def _pass(self, kind: str, batches: Iterator[tuple[Tensor, ...]], *head: str) -> float:
        """One pass of training steps; returns the mean loss per sample. Its seconds and
        batches go to :attr:`timing` under ``kind`` (``"cf"`` or ``"kg_<graph>"``)."""
        t0, total, n, steps = time.perf_counter(), 0.0, 0.0, 0
        for batch, weight in self._batches(batches):
            self._stop.check()
            if self.limit is not None and steps >= self.limit:
                break
            loss = self._loss(kind[:2], *head, *(x.to(self.device) for x in batch))
            total += self._step(loss * weight if weight != 1.0 else loss) * len(batch[0])
            n, steps = n + weight * len(batch[0]), steps + 1
        self.timing[kind] = (time.perf_counter() - t0, steps)
        return total / max(n, 1.0)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training pairs (and the KG triples). Returns mean losses.

        With :attr:`limit` set each pass stops after that many batches (benchmarks time a
        part of an epoch); :attr:`timing` holds each pass's ``(seconds, batches)``.
        """
        cfg = self.config
        self.model.train()
        self.timing = {}
        out: dict[str, float] = {}
        if self.optimizer is None:  # nothing to learn (e.g. popularity)
            self.model.refresh()
            return out
        out["cf_loss"] = self._pass("cf", self.bpr.epoch(cfg.batch_size, cfg.n_neg))
        for name, sampler in self.kg_samplers.items():
            loss = self._pass(f"kg_{name}", sampler.epoch(cfg.kg_batch_size), name)
            out[f"kg_loss_{name}"] = loss
        t0 = time.perf_counter()
        with torch.no_grad():
            self.model.refresh()
        self.timing["refresh"] = (time.perf_counter() - t0, 1)
        return out

    @torch.no_grad()
    def evaluate(self, evaluator: Evaluator) -> dict[str, float]:
        self.model.eval()
        self.model.prepare_scoring()
        stop, score_all = self._stop, self.model.score_all

        def score(users: torch.Tensor) -> torch.Tensor:
            stop.check()  # between user batches
            return score_all(users)

        return evaluator(score, self.device)

    # -- checkpoints --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else None,
            "generator": self.generator.get_state(),
            "rng": _rng_state(),
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_valid": self.best_valid,
            "bad": self.bad,
            "history": self.history,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        _set_rng_state(state["rng"])
        self.epoch = int(state["epoch"])
        self.best_score = float(state["best_score"])
        self.best_epoch = int(state["best_epoch"])
        self.best_valid = dict(state["best_valid"])
        self.bad = int(state["bad"])
        self.history = list(state["history"])
        with torch.no_grad():
            self.model.refresh()  # derived state (attention weights) of the loaded weights

    def _write_metrics(self) -> None:
        assert self.run_dir is not None
        Run(self.run_dir).write_history(self.history)
        cols: list[str] = []
        for r in self.history:
            cols += [k for k in r if k not in cols]
        with open(self.run_dir / METRICS_CSV, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(self.history)

    # -- the loop -----------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> FitResult:
        """Train until ``epochs`` or early stopping, then test the best weights.

        Args:
            resume: continue from ``run_dir/last.pt`` (default: False).

        Raises:
            TrainingInterrupted: at a SIGINT (see the module's docstring), with the run
                directory and the epoch ``last.pt`` holds.
        """
        if resume:
            if self.run_dir is None or not (self.run_dir / LAST).exists():
                raise FileNotFoundError("nothing to resume: the run has no last.pt")
            self.load_state(torch.load(self.run_dir / LAST, map_location="cpu",
                                       weights_only=False))  # fmt: skip
        elif self.run_dir is not None:
            _save(self.state(), self.run_dir / LAST)  # epoch 0: an interruption resumes here
        self._saved = self.epoch
        with sigint_stops() as stop:
            self._stop = stop
            try:
                return self._fit()
            except TrainingInterrupted as e:
                raise TrainingInterrupted(self.run_dir, self._saved) from e
            finally:
                self._stop = StopFlag()

    def _fit(self) -> FitResult:
        cfg = self.config
        has_valid = len(self.data.valid) > 0
        while self.epoch < cfg.epochs and self.bad < cfg.patience:
            self._stop.check()
            t0 = time.perf_counter()
            record: dict[str, Any] = {"epoch": self.epoch + 1, **self.train_epoch()}
            record["train_s"] = time.perf_counter() - t0
            self.epoch += 1
            last = self.epoch == cfg.epochs
            if has_valid and (self.epoch % cfg.eval_every == 0 or last):
                t1 = time.perf_counter()
                valid = self.evaluate(self.valid_eval)
                record["eval_s"] = time.perf_counter() - t1
                record.update({f"valid_{k}": v for k, v in valid.items() if k != "users"})
                score = valid[cfg.monitor]
                if score > self.best_score:
                    self.best_score, self.best_epoch, self.best_valid = score, self.epoch, valid
                    self.bad = 0
                    if self.run_dir is not None:
                        _save(self.model.state_dict(), self.run_dir / BEST)
                    else:
                        self._best_state = {
                            k: v.detach().clone() for k, v in self.model.state_dict().items()
                        }
                else:
                    self.bad += 1
            elif not has_valid:  # nothing to select on: the latest weights are the best
                self.best_epoch = self.epoch
                if self.run_dir is not None:
                    _save(self.model.state_dict(), self.run_dir / BEST)
            self.history.append(record)
            if self.run_dir is not None:
                self._write_metrics()
                _save(self.state(), self.run_dir / LAST)
                self._saved = self.epoch
            if self.on_epoch:
                self.on_epoch(record)
            if self.progress:
                self.progress("epoch", self.epoch, cfg.epochs)
        return self.finish()

    def finish(self) -> FitResult:
        """Load the best weights, test them and write ``result.json`` and the per-user test
        values (``per_user_test.npz``)."""
        if len(self.data.valid) and self.best_epoch:
            if self.run_dir is not None:
                best = torch.load(self.run_dir / BEST, map_location="cpu")
            else:
                best = self._best_state
            if best is not None:
                self.model.load_state_dict(best)
                with torch.no_grad():
                    self.model.refresh()
        t0 = time.perf_counter()
        test = self.evaluate(self.test_eval) if len(self.data.test) else {}
        eval_s = time.perf_counter() - t0
        train_s = [r["train_s"] for r in self.history]
        res = FitResult(
            test=test,
            best_epoch=self.best_epoch,
            best_valid=self.best_valid,
            epochs=self.epoch,
            seconds_per_epoch=float(np.mean(train_s)) if train_s else 0.0,
            eval_seconds=eval_s,
            history=self.history,
        )
        if self.run_dir is not None:
            Run(self.run_dir).write_result(res.as_dict())
            if test and self.test_eval.last is not None:
                Run(self.run_dir).save_evaluation(self.test_eval.last)
        return res


# -- runs from an export (start_run and friends live in recommend.runs) ------------------------


def train_run(
    run: Run,
    resume: bool = False,
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
    overrides: dict[str, Any] | None = None,
    init: Callable[[Recommender, RecData], None] | None = None,
    trainer: type[Trainer] = Trainer,
) -> FitResult:
    """Train (or resume) a run created by :func:`start_run`, from its cached export only.

    A SIGINT stops it with :class:`kgrec.runs.TrainingInterrupted` (see :meth:`Trainer.fit`).

    Args:
        overrides: TrainConfig fields to change for this invocation (e.g. ``device``,
            ``threads``) without touching the run's saved configuration.
        init: called on the freshly built model before a new run trains (not on resume), e.g.
            :func:`recommend.init_from.initializer` to start from KG embeddings.
        trainer: the trainer class (default: :class:`Trainer`; one rank of a data-parallel
            run: :class:`recommend.distributed.DistributedTrainer`).
    """
    cfg = run.config
    tcfg = TrainConfig(**{**cfg["train_config"], **(overrides or {})})
    data = run.data()
    seed_everything(tcfg.seed)
    model = build(cfg["model"], data, run.model_config())
    if init is not None and not resume:
        init(model, data)
        model.refresh()
    return trainer(model, data, tcfg, run.path, progress, on_epoch).fit(resume=resume)
