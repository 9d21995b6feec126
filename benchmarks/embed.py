"""KG-embedding benchmark: our TransR against PyKEEN's TransR in one run, same protocol.

    python benchmarks/embed.py --runs 3 --json embed.json
    python benchmarks/embed.py --ml100k ../shared/data/ml-100k --skip-pykeen

Datasets:

* ``nations``: PyKEEN's bundled Nations (14 entities, 55 relations, 1,592 / 199 / 201 triples;
  shipped inside the ``pykeen`` package, no download), its own train / test split.
* ``ml100k``: the MovieLens-100K knowledge graph (``kg_ingest.movielens.load_movielens``:
  ratings, genres, decades, occupations, age groups, genders; ``--ml100k-relations`` picks
  types), split 80/10/10 by :func:`embed.triples.split_triples`; PyKEEN runs on it only with
  ``--pykeen-ml100k`` (slow: about 1,000–2,000 triples/s on the development machine).

Protocol, the same for both implementations: TransR with entity size ``--dim`` and relation
size ``--rel-dim``, squared L2 distance, norm constraints (‖e‖, ‖r‖ ≤ 1 after every step,
projections clamped to norm 1 in the forward pass), margin ranking loss (γ = 1), one uniform
head-or-tail corruption per true triple, Adam (fused), ``--epochs`` epochs of ``--batch-size``,
``--threads`` torch threads; filtered link prediction on the test triples against all
entities, both sides, realistic ranks (ties count half). Every (implementation, dataset, run)
trains in a child process of its own, so its peak RSS is its own; timing is the training loop
only. The table shows medians over ``--runs`` runs (seeds 0, 1, ...); ``triples_per_s`` is
training triples × epochs / training seconds. With ``--json`` the last line of stdout is
``{"nations": {"ours": {...}, "pykeen": {...}}, "ml100k": {"ours": {...}}, "config": {...}}``.

PyKEEN is an optional benchmark dependency: ``pip install -e .[bench]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = ("mrr", "mr", "hits@1", "hits@3", "hits@10", "triples_per_s", "s_per_epoch", "train_s",
        "peak_rss_mib")  # fmt: skip


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _nations() -> tuple[Any, Any, Any, int, int]:
    from pykeen.datasets import Nations

    ds = Nations()
    parts = [x.mapped_triples.numpy().astype("int64") for x in
             (ds.training, ds.validation, ds.testing)]  # fmt: skip
    return parts[0], parts[1], parts[2], ds.num_entities, ds.num_relations


def _ml100k(path: str, relations: list[str] | None) -> tuple[Any, Any, Any, int, int]:
    from embed.triples import from_export, split_triples
    from kg_ingest.movielens import load_movielens
    from kg_store.export import GraphExport

    ts = from_export(GraphExport.from_graph_data(load_movielens(path, embed=False)), relations)
    train, valid, test = split_triples(ts.triples, (0.8, 0.1, 0.1), seed=0)
    return train, valid, test, ts.n_entities, ts.n_relations


def _data(args: argparse.Namespace, dataset: str) -> tuple[Any, Any, Any, int, int]:
    if dataset == "nations":
        return _nations()
    rels = args.ml100k_relations.split(",") if args.ml100k_relations else None
    return _ml100k(args.ml100k, rels)


def _ours(args: argparse.Namespace, seed: int, data: tuple[Any, ...]) -> dict[str, Any]:
    import numpy as np
    import torch

    from embed import KGEConfig, TrainConfig, build
    from embed.evaluate import evaluate
    from embed.train import Trainer

    train, valid, test, n_ent, n_rel = data
    torch.manual_seed(seed)
    model = build("transr", n_ent, n_rel, KGEConfig(dim=args.dim, rel_dim=args.rel_dim,
                                                    projection=args.projection))  # fmt: skip
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       sampler="uniform", seed=seed, device="cpu")  # fmt: skip
    trainer = Trainer(model, train, tcfg, torch.device("cpu"))
    t0 = time.perf_counter()
    while trainer.epoch < args.epochs:
        trainer.run_epoch()
    train_s = time.perf_counter() - t0
    known = np.concatenate([train, valid, test])
    return {**evaluate(model, test, known), "train_s": train_s}


def _pykeen(args: argparse.Namespace, seed: int, data: tuple[Any, ...]) -> dict[str, Any]:
    import torch
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.losses import MarginRankingLoss
    from pykeen.models import TransR
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import CoreTriplesFactory

    train, valid, test, n_ent, n_rel = data
    tf = [CoreTriplesFactory.create(torch.as_tensor(x), num_entities=n_ent, num_relations=n_rel)
          for x in (train, valid, test)]  # fmt: skip
    torch.manual_seed(seed)
    model = TransR(triples_factory=tf[0], embedding_dim=args.dim, relation_dim=args.rel_dim,
                   scoring_fct_norm=2, power_norm=True, loss=MarginRankingLoss(margin=1.0),
                   random_seed=seed)  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, fused=True)  # as ours
    loop = SLCWATrainingLoop(model=model, triples_factory=tf[0], optimizer=optimizer,
                             negative_sampler="basic")  # fmt: skip
    t0 = time.perf_counter()
    loop.train(triples_factory=tf[0], num_epochs=args.epochs, batch_size=args.batch_size,
               use_tqdm=False, use_tqdm_batch=False)  # fmt: skip
    train_s = time.perf_counter() - t0
    res = RankBasedEvaluator(filtered=True).evaluate(
        model, tf[2].mapped_triples, batch_size=1024, use_tqdm=False,
        additional_filter_triples=[tf[0].mapped_triples, tf[1].mapped_triples],
    )  # fmt: skip
    out = {k: float(res.get_metric(k)) for k in ("mrr", "hits@1", "hits@3", "hits@10")}
    out["mr"] = float(res.get_metric("mean_rank"))
    return {**out, "train_s": train_s}


def worker(args: argparse.Namespace) -> None:
    """One (implementation, dataset, seed) in this process; prints one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    data = _data(args, args.dataset)
    fn = _ours if args.impl == "ours" else _pykeen
    res = fn(args, args.seed, data)
    n_train = len(data[0])
    res["triples_per_s"] = n_train * args.epochs / res["train_s"]
    res["s_per_epoch"] = res["train_s"] / args.epochs
    res["peak_rss_mib"] = _peak_rss_mib()
    res["train_triples"] = n_train
    print(json.dumps(res))


def _child(args: argparse.Namespace, impl: str, dataset: str, seed: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", impl, "--dataset", dataset, "--seed", str(seed)]
    for name in ("epochs", "dim", "rel_dim", "batch_size", "lr", "threads", "projection",
                 "ml100k", "ml100k_relations"):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            cmd += [f"--{name.replace('_', '-')}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} on {dataset} (seed {seed}) failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in KEYS}
    out["runs"] = len(runs)
    out["mrr_all"] = [round(r["mrr"], 4) for r in runs]
    out["triples_per_s_all"] = [round(r["triples_per_s"]) for r in runs]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", default="nations,ml100k", help="comma-separated")
    ap.add_argument("--ml100k", default=str(ROOT.parent / "shared" / "data" / "ml-100k"))
    ap.add_argument("--ml100k-relations", default=None, help="types (default: all)")
    ap.add_argument("--ml100k-epochs", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--rel-dim", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--projection", default="auto", help="ours: auto | grouped | dense")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-pykeen", action="store_true")
    ap.add_argument("--pykeen-ml100k", action="store_true", help="PyKEEN on ml100k too (slow)")
    ap.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        help="print the JSON object as the last line (and write it to a file)",
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dataset", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.impl = args.worker
        worker(args)
        return

    result: dict[str, Any] = {}
    for dataset in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        with_pykeen = dataset == "nations" or args.pykeen_ml100k
        impls = ["ours"] if args.skip_pykeen or not with_pykeen else ["ours", "pykeen"]
        epochs = args.epochs if dataset == "nations" else args.ml100k_epochs
        sub = argparse.Namespace(**{**vars(args), "epochs": epochs})
        result[dataset] = {}
        for impl in impls:
            runs = []
            for seed in range(args.runs):
                # alternate implementations seed by seed would interleave load; run each
                # implementation's seeds back to back and report medians
                runs.append(_child(sub, impl, dataset, seed))
                print(f"{dataset} {impl} seed {seed}: MRR {runs[-1]['mrr']:.4f} "
                      f"{runs[-1]['triples_per_s']:,.0f} triples/s", file=sys.stderr)  # fmt: skip
            result[dataset][impl] = _median(runs)
        if "pykeen" in result[dataset]:
            ours, pk = result[dataset]["ours"], result[dataset]["pykeen"]
            result[dataset]["speedup"] = ours["triples_per_s"] / pk["triples_per_s"]
            result[dataset]["mrr_gap"] = ours["mrr"] - pk["mrr"]
    result["config"] = {k: getattr(args, k) for k in ("epochs", "ml100k_epochs", "dim", "rel_dim",
                        "batch_size", "lr", "threads", "runs", "projection")}  # fmt: skip
    _table(result)
    if args.json:
        line = json.dumps(result)
        if args.json != "-":
            Path(args.json).write_text(line + "\n")
        print(line)


def _table(result: dict[str, Any]) -> None:
    head = ["dataset", "impl", "MRR", "MR", "H@1", "H@3", "H@10", "triples/s", "s/epoch",
            "peak RSS MiB"]  # fmt: skip
    rows = []
    for dataset, by in result.items():
        if dataset == "config":
            continue
        for impl in ("ours", "pykeen"):
            if impl in by:
                r = by[impl]
                rows.append([dataset, impl, f"{r['mrr']:.4f}", f"{r['mr']:.2f}",
                             f"{r['hits@1']:.3f}", f"{r['hits@3']:.3f}", f"{r['hits@10']:.3f}",
                             f"{r['triples_per_s']:,.0f}", f"{r['s_per_epoch']:.4f}",
                             f"{r['peak_rss_mib']:.0f}"])  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    print(fmt.format(*head))
    for row in rows:
        print(fmt.format(*row))
    for dataset, by in result.items():
        if isinstance(by, dict) and "speedup" in by:
            print(f"{dataset}: ours/PyKEEN throughput {by['speedup']:.2f}x, "
                  f"MRR difference {by['mrr_gap']:+.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
