"""Data-parallel training throughput: training samples per second with 1, 2, ... processes
(torchrun, DDP over gloo on CPU), printed as a table and written as JSON.

    python benchmarks/ddp.py --data synthetic --model mmkgat --nproc 1 2
    python benchmarks/ddp.py --data ../shared/data/ml-100k --model lightgcn --batches 20

Each setting runs under ``torch.distributed.run`` (``--nproc 1`` too, so both pay the same
start-up), every rank on ``--threads`` threads, on the same data and seed. A rank trains
``--batches`` BPR steps of its shard per timed epoch (``Trainer.limit``; one warm-up epoch
first); the KG passes and the refresh are left out, so the figure is the CF step's:
``steps x batch size x ranks / seconds``, the median over ``--epochs`` timed epochs. On a
machine with fewer free cores than ranks the ranks share them and the speed-up says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(args: argparse.Namespace) -> None:
    """One rank: time the CF pass of ``args.epochs`` capped epochs; rank 0 prints JSON."""
    import torch
    import torch.distributed as dist

    from benchmarks.epoch_cost import load_export
    from recommend.data import build_recdata, make_split
    from recommend.distributed import DistributedTrainer
    from recommend.models.base import build
    from recommend.train import configs_for

    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo")
    ex = load_export(args.data)
    data = build_recdata(ex, make_split(ex, seed=0))
    del ex
    rs = configs_for(args.model, seed=0, device="cpu", threads=args.threads,
                     batch_size=args.batch_size, kg=False)  # fmt: skip
    torch.manual_seed(0)
    trainer = DistributedTrainer(build(args.model, data, rs.model), data, rs.train)
    trainer.limit = 1
    trainer.train_epoch()  # warm-up
    trainer.limit = args.batches
    rates = []
    for _ in range(args.epochs):
        trainer.train_epoch()
        seconds, steps = trainer.timing["cf"]
        rates.append(steps * args.batch_size * trainer.world / seconds)
    if trainer.rank == 0:
        print(json.dumps({"nproc": trainer.world, "samples_per_s": statistics.median(rates),
                          "all": rates, "steps": steps}))  # fmt: skip
    dist.destroy_process_group()


def run(args: argparse.Namespace, nproc: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", __file__, "--worker", "--data", args.data,
           "--model", args.model, "--batches", str(args.batches), "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TORCH_CPP_LOG_LEVEL": "ERROR"}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{nproc} processes failed ({proc.returncode}): {' '.join(cmd)}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="synthetic", help="MovieLens / KGAT folder, or 'synthetic'")
    ap.add_argument("--model", default="mmkgat")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batches", type=int, default=10, help="CF steps per rank per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (median)")
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    rows = [run(args, n) for n in args.nproc]
    base = rows[0]["samples_per_s"]
    print(
        f"{args.data}, {args.model}: CF steps of batch {args.batch_size}, {args.threads} "
        f"thread(s) per rank, median of {args.epochs} epochs of {args.batches} steps"
    )
    print(f"{'processes':>9}  {'samples/s':>10}  {'speed-up':>8}")
    for r in rows:
        r["speedup"] = r["samples_per_s"] / base
        print(f"{r['nproc']:>9}  {r['samples_per_s']:>10.0f}  {r['speedup']:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                         "rows": rows}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
