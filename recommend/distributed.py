"""Data-parallel training: torch.distributed DDP, one process per rank, started by torchrun.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        -m recommend.distributed RUN_DIR [--resume] [--device cpu] [--threads 1]

``kgrec train --nproc N`` creates the run directory and starts exactly this
(:func:`launch_command`). Every rank builds the model from the run's cached export and seed;
:class:`~torch.nn.parallel.DistributedDataParallel` makes rank 0's initial weights everyone's
and averages the gradients of each step over the ranks (gloo on CPU, NCCL on CUDA, one GPU per
rank). Every rank draws every batch of a pass from the shared-seed samplers (so the samplers
stay in step and a checkpoint's generator state is every rank's) and trains on every
``world``-th one: a step of N ranks trains N batches, an epoch has N times fewer steps. When a
pass's batches do not divide evenly, the ranks short of one repeat a batch with zero weight,
so every rank takes the same number of steps. Rank 0 alone evaluates (the others receive its
metrics, so early stopping decides alike everywhere), writes ``metrics.jsonl``, checkpoints
and tests; ``--resume`` has every rank load ``last.pt``. Ctrl-C stops every rank at the same
step (the stop flag is reduced over the ranks before each one), leaving ``last.pt`` of the last
finished epoch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from kgrec.runs import TrainingInterrupted
from recommend.config import TrainConfig
from recommend.data import RecData
from recommend.metrics import Evaluator
from recommend.models.base import Recommender
from recommend.runs import LAST, Run
from recommend.train import EpochCallback, FitResult, Progress, Trainer, train_run

B = TypeVar("B")
_STOP = "stop"  # what rank 0 broadcasts instead of metrics when it was interrupted
_INTERRUPTED = "interrupted"  # rank 0 leaves this file in the run when a Ctrl-C stopped it


def shard(batches: Iterable[B], rank: int, world: int) -> Iterator[tuple[B, float]]:
    """Rank ``rank``'s share of a pass, each batch with its loss weight: batches ``rank``,
    ``rank + world``, ... (weight 1), then, on a rank one short of the others, a repeat of its
    last batch (of the pass's first when it had none) with weight 0, so that every rank takes
    ``ceil(n / world)`` steps. Every batch is drawn, whichever rank trains it."""
    mine: B | None = None
    first: B | None = None
    count = taken = 0
    for i, batch in enumerate(batches):
        first = batch if first is None else first
        count += 1
        if i % world == rank:
            mine, taken = batch, taken + 1
            yield batch, 1.0
    pad = mine if mine is not None else first
    if pad is not None and taken < -(-count // world):
        yield pad, 0.0


class _Losses(nn.Module):
    """The model's losses as ``forward`` (DDP synchronises what goes through ``forward``)."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, kind: str, *args: Any) -> Tensor:
        return self.model.cf_loss(*args) if kind == "cf" else self.model.kg_loss(*args)


class DistributedTrainer(Trainer):
    """A :class:`~recommend.train.Trainer` for one rank of a process group already
    initialised (``torch.distributed.init_process_group``); same arguments. Only rank 0 keeps
    ``run_dir`` (writes, checkpoints, evaluates); the others read ``last.pt`` on resume."""

    def __init__(
        self,
        model: Recommender,
        data: RecData,
        config: TrainConfig | None = None,
        run_dir: Path | None = None,
        progress: Progress | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> None:
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.run_path = run_dir
        main = self.rank == 0
        super().__init__(model, data, config, run_dir if main else None,
                         progress if main else None, on_epoch if main else None)  # fmt: skip
        on_cuda = self.device.type == "cuda"
        self.ddp: DistributedDataParallel | None = None
        if self.optimizer is None:  # nothing to learn (popularity): nothing to synchronise
            return
        with warnings.catch_warnings():  # "broadcast_buffers is deprecated" (its successor
            warnings.simplefilter("ignore", FutureWarning)  # still syncs them at init)
            self.ddp = DistributedDataParallel(
                _Losses(self.model),
                device_ids=[self.device] if on_cuda else None,
                broadcast_buffers=False,  # buffers are the graph, the same on every rank
                find_unused_parameters=True,  # the KG loss leaves the aggregators out, etc.
            )

    # -- the batches --------------------------------------------------------------------------
    def _any_stop(self) -> None:
        flag = torch.tensor([int(self._stop.requested)], device=self._comm_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if int(flag.item()):
            raise TrainingInterrupted()

    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def _batches(
        self, batches: Iterator[tuple[Tensor, ...]]
    ) -> Iterator[tuple[tuple[Tensor, ...], float]]:
        for item in shard(batches, self.rank, self.world):
            self._any_stop()  # every rank at the same step: all stop, or none
            yield item

    def _loss(self, kind: str, *args: Any) -> Tensor:
        assert self.ddp is not None
        loss: Tensor = self.ddp(kind, *args)
        return loss

    def train_epoch(self) -> dict[str, float]:
        out = super().train_epoch()
        if out:  # each rank's mean loss over its shard, averaged over the ranks
            keys = sorted(out)
            t = torch.tensor([out[k] for k in keys], dtype=torch.float64)
            t = t.to(self._comm_device())
            dist.all_reduce(t)
            out = {k: float(v) / self.world for k, v in zip(keys, t.cpu().tolist(), strict=True)}
        return out

    # -- evaluation on rank 0 -----------------------------------------------------------------
    def evaluate(self, evaluator: Evaluator) -> dict[str, float]:
        box: list[Any] = [None]
        if self.rank == 0:
            try:
                box[0] = super().evaluate(evaluator)
            except TrainingInterrupted:
                box[0] = _STOP
                dist.broadcast_object_list(box, src=0)
                raise
        dist.broadcast_object_list(box, src=0)
        if box[0] == _STOP:
            raise TrainingInterrupted()
        return dict(box[0])

    def fit(self, resume: bool = False) -> FitResult:
        if resume and self.rank != 0:  # rank 0 reads last.pt in fit; the others here
            if self.run_path is None or not (self.run_path / LAST).exists():
                raise FileNotFoundError("nothing to resume: the run has no last.pt")
            state = torch.load(self.run_path / LAST, map_location="cpu", weights_only=False)
            self.load_state(state)
            resume = False
        return super().fit(resume=resume)


def launch_command(run: Path, nproc: int, resume: bool = False, device: str = "auto",
                   threads: int | None = None) -> list[str]:  # fmt: skip
    """The torchrun command line that trains ``run`` on ``nproc`` ranks of this machine."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "recommend.distributed", str(run),
           "--device", device]  # fmt: skip
    cmd += ["--resume"] if resume else []
    cmd += ["--threads", str(threads)] if threads else []
    return cmd


def train_distributed(run: Run, nproc: int, resume: bool = False, device: str = "auto",
                      threads: int | None = None) -> FitResult:  # fmt: skip
    """Train (or resume) ``run`` on ``nproc`` ranks in child processes and return rank 0's
    result; the ranks' epoch lines and errors go to this process's stderr.

    Raises:
        TrainingInterrupted: at a Ctrl-C (every rank stops; ``last.pt`` holds the last
            finished epoch).
        RuntimeError: a rank failed.
    """
    cmd = launch_command(run.path, nproc, resume, device, threads)
    marker = run.path / _INTERRUPTED
    marker.unlink(missing_ok=True)
    # one thread per rank unless told (torchrun's own default, without its banner); C++
    # warnings (DDP's note on find_unused_parameters) off
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or 1), "TORCH_CPP_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen(cmd, env=env)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:  # the ranks got the SIGINT too and stop at their next step
        proc.wait()
        rc = 130
    stopped = marker.exists()
    marker.unlink(missing_ok=True)
    if rc == 130 or (rc != 0 and stopped):
        state = torch.load(run.path / LAST, map_location="cpu", weights_only=False)
        raise TrainingInterrupted(run.path, int(state["epoch"]))
    if rc != 0:
        raise RuntimeError(f"distributed training of {run.name} failed (exit {rc}): "
                           f"{' '.join(cmd)}")  # fmt: skip
    result = run.result or {}
    known = {f.name for f in fields(FitResult)}
    return FitResult(**{k: v for k, v in result.items() if k in known}, history=run.history())


def _epoch_line(record: dict[str, Any]) -> None:
    parts = [f"epoch {record['epoch']:>3}"]
    parts += [f"{k} {v:.4f}" for k, v in record.items() if "loss" in k]
    if "valid_recall@20" in record:
        parts.append(f"R@20 {record['valid_recall@20']:.4f}")
    parts.append(f"{record['train_s']:.2f}s")
    print("  ".join(parts), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """One rank (torchrun's environment: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...)."""
    ap = argparse.ArgumentParser(prog="recommend.distributed", description=__doc__)
    ap.add_argument("run", type=Path, help="a run directory made by recommend.train.start_run")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    overrides: dict[str, Any] = {"device": "cuda" if cuda else "cpu"}
    if args.threads:
        overrides["threads"] = args.threads
    try:
        train_run(Run(args.run), resume=args.resume, on_epoch=_epoch_line,
                  overrides=overrides, trainer=DistributedTrainer)  # fmt: skip
    except TrainingInterrupted:
        if dist.get_rank() == 0:  # torchrun reports a failure: this says it was a Ctrl-C
            (args.run / _INTERRUPTED).touch()
        return 130
    finally:
        dist.destroy_process_group()
    return 0


__all__ = ["DistributedTrainer", "launch_command", "main", "shard", "train_distributed"]

if __name__ == "__main__":
    sys.exit(main())
