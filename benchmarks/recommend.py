"""Recommendation benchmark: train each model for each seed, test the best weights, print a table.

    python benchmarks/recommend.py --data ../shared/data/ml-100k --models bprmf lightgcn kgat \
        --seeds 3 --json recommend.json
    python benchmarks/recommend.py --data ../shared/data/amazon-book --eval-speed

``--data`` is a MovieLens folder, a KGAT-format folder (``train.txt``/``train1.txt``), or
``synthetic``. The graph is parsed by the ``kg_ingest`` loader and turned into the export a store
would give (:func:`recommend.data.export_from_graph_data`); ``--via-store`` loads it into a
temporary embedded FalkorDB store and exports it from there instead, as ``kgrec train`` does.

Each (model, seed) trains in a child process of its own, so peak RSS is its own. Printed per
model (mean ± std over seeds): P@10, R@10, R@20, NDCG@10, NDCG@20 on the test split, epochs to
the best validation Recall@20, seconds per training epoch, seconds of the final full-ranking
evaluation, peak RSS. ``--eval-speed`` measures only the full-ranking evaluation of every test
user with random 64-d embeddings (median of ``--eval-runs``, default 5) and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = [("precision@10", "P@10"), ("recall@10", "R@10"), ("recall@20", "R@20"),
           ("ndcg@10", "NDCG@10"), ("ndcg@20", "NDCG@20")]  # fmt: skip


def _synthetic(n_users: int = 2000, n_items: int = 1000, seed: int = 0) -> Any:
    """Users in taste clusters over genre-tagged items: learnable structure, known sizes."""
    import numpy as np
    import pandas as pd

    from kg_store.graph_data import GraphData, NodeSet, RelSet

    rng = np.random.default_rng(seed)
    genre = rng.integers(0, 20, n_items)
    taste = rng.integers(0, 20, n_users)
    rows = []
    for u in range(n_users):
        liked = np.flatnonzero(genre == taste[u])
        k = min(len(liked), int(rng.integers(10, 40)))
        rows += [(u, int(i)) for i in rng.choice(liked, k, replace=False)]
        rows += [(u, int(i)) for i in rng.integers(0, n_items, 5)]
    pairs = np.unique(np.array(rows), axis=0)
    uid, iid = (lambda a: [f"u{x}" for x in a]), (lambda a: [f"v{x}" for x in a])
    return GraphData(
        nodes=[NodeSet("User", pd.DataFrame({"id": uid(range(n_users))})),
               NodeSet("Video", pd.DataFrame({"id": iid(range(n_items))})),
               NodeSet("Genre", pd.DataFrame({"id": [f"g{g}" for g in range(20)]}))],
        rels=[RelSet("CLICKED", "User", "Video",
                     pd.DataFrame({"src": uid(pairs[:, 0]), "dst": iid(pairs[:, 1])})),
              RelSet("HAS_GENRE", "Video", "Genre",
                     pd.DataFrame({"src": iid(range(n_items)), "dst": [f"g{g}" for g in genre]}))],
    )  # fmt: skip


def parse(data: str, text: bool) -> Any:
    """The dataset as :class:`kg_store.GraphData`."""
    if data == "synthetic":
        return _synthetic()
    p = Path(data)
    if (p / "train.txt").is_file() or (p / "train1.txt").is_file():
        from kg_ingest.kgat import load_kgat

        return load_kgat(p)
    from kg_ingest.movielens import load_movielens

    return load_movielens(p, embed=text)


def export(data: str, text: bool, via_store: bool) -> Any:
    from recommend.data import export_from_graph_data

    graph = parse(data, text)
    if not via_store:
        return export_from_graph_data(graph)
    from kg_store import embedded
    from kg_store.falkordb_store import FalkorDBStore

    home = Path(tempfile.mkdtemp(prefix="kgrec-bench-"))
    info = embedded.start(home / "falkordb")
    try:
        store = FalkorDBStore.for_server(info, "bench")
        store.load(graph)
        out = store.export()
        store.close()
        return out
    finally:
        embedded.stop(home / "falkordb")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_train(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from recommend.train import configs_for, start_run, train_run

    if args.threads:
        torch.set_num_threads(args.threads)
    ex = export(args.data, args.text, args.via_store)
    runs_dir = Path(tempfile.mkdtemp(prefix="kgrec-bench-runs-"))
    rs = configs_for(args.model, **_given(args), seed=args.seed, device=args.device,
                     threads=args.threads)  # fmt: skip
    run = start_run(
        ex,
        args.model,
        Path(args.data).name,
        runs_dir,
        rs.model,
        rs.train,
        rating_kinds=rs.rating_kinds,
    )
    del ex
    res = train_run(run)
    paper: dict[str, Any] = {}
    if args.paper_metrics:  # paper 003's AUC and NDCG@1/@2 (recommend/metrics.py)
        from recommend.metrics import paper_metrics

        paper = {"paper": paper_metrics(run.load_model("best"), run.data(), seed=args.seed)}
    refit: dict[str, Any] = {}
    if args.refit:  # the same again on train + valid for the best epoch count (recommend.refit)
        from recommend.refit import refit_init, start_refit

        again = start_refit(run, runs_dir, epochs=args.refit_epochs)
        rres = train_run(again, init=refit_init(run, again))
        refit = {"refit": {"test": rres.test, "best_epoch": rres.best_epoch,
                           "epochs": rres.epochs, "seconds_per_epoch": rres.seconds_per_epoch,
                           "eval_seconds": rres.eval_seconds, "run": str(again.path)}}  # fmt: skip
    return {
        **paper,
        **refit,
        "model": args.model,
        "seed": args.seed,
        "settings": {
            "model": asdict(rs.model),
            "train": asdict(rs.train),
            "rating_kinds": rs.rating_kinds,
        },
        "test": res.test,
        "best_epoch": res.best_epoch,
        "epochs": res.epochs,
        "seconds_per_epoch": res.seconds_per_epoch,
        "eval_seconds": res.eval_seconds,
        "peak_rss_mib": _peak_rss_mib(),
        "run": str(run.path),
    }


# settings a run may take from the command line; unset ones come from the model's defaults
SETTINGS = ("epochs", "patience", "eval_every", "batch_size", "lr", "n_neg", "dim", "layers",
            "l2", "dropout", "rating_kinds")  # fmt: skip


def _given(args: argparse.Namespace) -> dict[str, Any]:
    given = {k: getattr(args, k) for k in SETTINGS}
    given["extra"] = json.loads(args.extra)
    return given


def child_eval_speed(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from recommend.data import build_recdata, make_split
    from recommend.metrics import split_evaluator

    if args.threads:
        torch.set_num_threads(args.threads)
    ex = export(args.data, args.text, args.via_store)
    data = build_recdata(ex, make_split(ex, seed=0))
    del ex
    gen = torch.Generator().manual_seed(0)
    users = torch.randn(data.n_users, args.dim, generator=gen)
    items = torch.randn(data.n_items, args.dim, generator=gen)
    out: dict[str, Any] = {"users": data.n_users, "items": data.n_items,
                           "test_users": int(len(set(data.test[:, 0].tolist())))}  # fmt: skip
    for auc in (False, True):
        ev = split_evaluator(data, "test", auc=auc)
        times = []
        for _ in range(args.eval_runs):
            t0 = time.perf_counter()
            ev(lambda u: users[u] @ items.T)
            times.append(time.perf_counter() - t0)
        out["eval_s_auc" if auc else "eval_s"] = statistics.median(times)
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


def _child(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--data", args.data, "--device", args.device,
           "--extra", args.extra, "--threads", str(args.threads or 0)]  # fmt: skip
    for key in SETTINGS:
        value = getattr(args, key)
        if isinstance(value, bool):
            cmd.append(f"--{key.replace('_', '-')}" if value else f"--no-{key.replace('_', '-')}")
        elif value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    cmd += ["--text"] if args.text else []
    cmd += ["--via-store"] if args.via_store else []
    cmd += ["--paper-metrics"] if args.paper_metrics else []
    cmd += ["--refit"] if args.refit else []
    cmd += ["--refit-epochs", str(args.refit_epochs)] if args.refit_epochs else []
    cmd += ["--eval-speed", "--eval-runs", str(args.eval_runs)] if extra.get("eval_speed") else []
    if "model" in extra:
        cmd += ["--models", extra["model"], "--seed", str(extra["seed"])]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd)}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _mean_std(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.4f}"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}"


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for model in dict.fromkeys(r["model"] for r in results):
        rs = [r for r in results if r["model"] == model]
        row: dict[str, Any] = {"model": model, "seeds": [r["seed"] for r in rs]}
        for key, _ in COLUMNS:
            xs = [r["test"].get(key, float("nan")) for r in rs]
            row[key] = {"mean": statistics.mean(xs),
                        "std": statistics.stdev(xs) if len(xs) > 1 else 0.0}  # fmt: skip
        for key in ("best_epoch", "seconds_per_epoch", "eval_seconds", "peak_rss_mib"):
            row[key] = statistics.mean(float(r[key]) for r in rs)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ["model"] + [h for _, h in COLUMNS] + ["best ep", "s/epoch", "eval s", "RSS MiB"]
    body = []
    for r in rows:
        cells = [r["model"]]
        for key, _ in COLUMNS:
            m, s = r[key]["mean"], r[key]["std"]
            cells.append(f"{m:.4f} ± {s:.4f}" if len(r["seeds"]) > 1 else f"{m:.4f}")
        cells += [f"{r['best_epoch']:.1f}", f"{r['seconds_per_epoch']:.2f}",
                  f"{r['eval_seconds']:.2f}", f"{r['peak_rss_mib']:.0f}"]  # fmt: skip
        body.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    for line in [head, ["-" * w for w in widths], *body]:
        print("  ".join(str(c).rjust(w) for c, w in zip(line, widths, strict=True)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="MovieLens / KGAT folder, or 'synthetic'")
    ap.add_argument("--models", nargs="+", default=["bprmf", "lightgcn", "kgat"])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default: 3)")
    # unset: the model's defaults (Recommender.defaults), then TrainConfig's / ModelConfig's
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--patience", type=int)
    ap.add_argument("--eval-every", type=int, help="epochs between validations")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--n-neg", type=int, help="negatives per positive")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--l2", type=float)
    ap.add_argument("--dropout", type=float)
    ap.add_argument("--rating-kinds", action=argparse.BooleanOptionalAction)
    ap.add_argument("--extra", default="{}", help="ModelConfig.extra as JSON")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    ap.add_argument("--text", action="store_true", help="embed MovieLens texts (Textual nodes)")
    ap.add_argument("--via-store", action="store_true", help="round trip through FalkorDB")
    ap.add_argument("--paper-metrics", action="store_true",
                    help="also AUC, NDCG@1/@2 as paper 003 reports them (in the JSON)")  # fmt: skip
    ap.add_argument("--refit", action="store_true",
                    help="then train each run again on train + valid for its best epoch count "
                         "and test that too (rows MODEL+refit; recommend/refit.py)")  # fmt: skip
    ap.add_argument("--refit-epochs", type=int,
                    help="--refit: train that many epochs, not the run's best (e.g. the best "
                         "epoch of an earlier, longer run of the same settings)")  # fmt: skip
    ap.add_argument("--eval-speed", action="store_true", help="only time full-ranking eval")
    ap.add_argument("--eval-runs", type=int, default=5, help="--eval-speed: runs (median)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs trained at once, each in its own process (default: 1; with "
                         "--threads 1, up to the cores; seconds per epoch then include "
                         "the contention)")  # fmt: skip
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.threads = args.threads or None
    if args.refit_epochs is not None and (not args.refit or args.refit_epochs < 1):
        ap.error("--refit-epochs needs --refit and a count >= 1")

    if args.child:
        if args.eval_speed:
            res = child_eval_speed(args)
        else:
            args.model = args.models[0]
            res = child_train(args)
        print(json.dumps(res))
        return

    if args.eval_speed:
        res = _child(args, eval_speed=True)
        print(f"{args.data}: {res['test_users']} test users x {res['items']} items, "
              f"eval {res['eval_s']:.3f}s ({res['eval_s_auc']:.3f}s with AUC), "
              f"peak RSS {res['peak_rss_mib']:.0f} MiB")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(res, indent=2))
        return

    def one(model: str, seed: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = _child(args, model=model, seed=seed)
        print(f"{model} seed {seed}: R@20 {r['test'].get('recall@20', float('nan')):.4f} "
              f"best epoch {r['best_epoch']} ({time.perf_counter() - t0:.0f}s)",
              file=sys.stderr)  # fmt: skip
        return r

    todo = [(model, seed) for model in args.models for seed in range(args.seeds)]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # the children do the work
        results = list(pool.map(lambda ms: one(*ms), todo))
    for r in [r for r in results if "refit" in r]:  # their own rows, after the models'
        results.append({**r, **r["refit"], "model": f"{r['model']}+refit"})
    rows = summarise(results)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "summary": rows, "runs": results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
