"""How well the local masking estimate (:mod:`recommend.explain.attribution`) stands in for exact
masking, and what each re-ranking key would show first.

    KGREC_TEXT_BACKEND=hashing nice python benchmarks/explain_estimate.py --run RUN_DIR \
        --pairs 60 --json

For ``--pairs`` (user, one random item of the user's top-10) pairs of a served run, the
candidates are the ``--candidates`` best paths of the ``balanced`` and of the ``model`` search
plus ``--random`` random paths over positive evidence (lengths 2 and 3). Every candidate is
masked exactly (:class:`~recommend.explain.Masker`, one propagation each) and estimated
(:class:`~recommend.explain.LocalMasking`). Reported:

* ``spearman``: the median over pairs of the rank correlation of estimate and exact drop;
* per re-ranking key (the estimate alone, and with a factor on demographic-only paths), over
  the balanced candidates and over all: ``faithful``, the share of (top, random) comparisons
  where the top path's exact drop is larger; ``rank_drop``, the same for the rank drop;
  ``demographic_only``, the share of top paths through demographics alone;
* ``oracle``: the same, picking the candidate with the largest exact drop.

With ``--json`` the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACTORS = (1.0, 0.1, 0.03, 0.01, 0.001)
"""Factors on a demographic-only path's key compared (1: the estimate alone)."""


def candidates(svc: Any, masker: Any, u: int, i: int, args: argparse.Namespace,
               rng: np.random.Generator) -> list[dict[str, Any]]:  # fmt: skip
    """Every candidate path of one pair with its exact drop and rank drop."""
    from kgrec.schema import USER, VIDEO
    from recommend.explain import PathSearch, hops_of

    g, ex = svc.graph, svc.explainer
    un, inode = g.offsets[USER] + u, g.offsets[VIDEO] + i
    found: dict[tuple[int, ...], dict[str, Any]] = {}
    for ranking in ("balanced", "model"):
        for nodes, _, _ in ex.search(un, ranking=ranking).top(inode, args.candidates):
            found.setdefault(tuple(nodes.tolist()), {"tags": set()})["tags"].add(ranking)
    every = PathSearch(ex.graph("balanced"), un, max_len=3, beam=10**9, fanout=10**9)
    for length in (2, 3):
        walks = every.paths(inode, length)
        for j in rng.choice(len(walks), size=min(args.random, len(walks)), replace=False):
            nodes = walks.nodes_of(int(j))
            found.setdefault(tuple(nodes.tolist()), {"tags": set()})["tags"].add("random")
    seen = svc.seen(u)
    paths = list(found)
    est = ex.masking.drops(un, inode, [list(p) for p in paths])
    rows = []
    for p, e in zip(paths, est, strict=True):
        cf = masker.counterfactual(u, i, hops_of(p), seen)
        rows.append({"nodes": np.array(p), "tags": found[p]["tags"], "est": float(e),
                     "drop": cf["base_score"] - cf["score"],
                     "rank_drop": cf["rank"] - cf["base_rank"],
                     "demographic": ex.demographic_only(np.array(p))})  # fmt: skip
    return rows


def pick(pairs: list[list[dict[str, Any]]], key: Any, pool: str) -> dict[str, float]:
    """The shares of the module docstring for one way of choosing the top path."""
    wins, rank_wins, demo = [], [], []
    for rows in pairs:
        rand = [r for r in rows if "random" in r["tags"]]
        cand = [r for r in rows if (r["tags"] - {"random"}) and
                (pool == "all" or "balanced" in r["tags"])]  # fmt: skip
        if not rand or not cand:
            continue
        top = max(cand, key=key)
        demo.append(top["demographic"])
        for r in rand:
            if not np.array_equal(r["nodes"], top["nodes"]):
                wins.append(top["drop"] > r["drop"])
                rank_wins.append(top["rank_drop"] > r["rank_drop"])
    return {"faithful": float(np.mean(wins)), "rank_drop": float(np.mean(rank_wins)),
            "demographic_only": float(np.mean(demo)), "comparisons": len(wins)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="a kgat or mmkgat run directory")
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--candidates", type=int, default=16, help="per search (default: 16)")
    ap.add_argument("--random", type=int, default=4, help="random paths per length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch
    from scipy.stats import spearmanr

    from recommend.explain import Masker
    from recommend.runs import Run
    from recommend.serving import RecommenderService

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    svc = RecommenderService(Run(Path(args.run)))
    if svc.explainer.masking is None:
        sys.exit(f"{svc.model_name} has no local view of masking")
    masker = Masker(svc.run.load_model("best", svc.data, "cpu"), svc.data, svc.graph)
    rng = np.random.default_rng(args.seed)
    pairs = []
    for u in rng.permutation(svc.data.n_users)[: args.pairs].tolist():
        items, _ = svc.top_items(u, 10)
        if len(items):
            pairs.append(candidates(svc, masker, u, int(rng.choice(items)), args, rng))
    rhos = [spearmanr([r["est"] for r in rows], [r["drop"] for r in rows]).statistic
            for rows in pairs if len(rows) > 3]  # fmt: skip
    out: dict[str, Any] = {"run": svc.run_name, "pairs": len(pairs),
                           "spearman": float(np.nanmedian(rhos))}  # fmt: skip
    for pool in ("balanced", "all"):
        for f in FACTORS:
            out[f"{pool}_demographic_{f:g}"] = pick(
                pairs, lambda r, f=f: r["est"] * (f if r["demographic"] else 1.0), pool
            )
        out[f"{pool}_oracle"] = pick(pairs, lambda r: r["drop"], pool)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"{out['run']}: {out['pairs']} pairs, median rank correlation of estimate and exact "
          f"drop {out['spearman']:.3f}")  # fmt: skip
    print("| candidates | key | faithful | rank drop | demographic only |\n|---|---|---|---|---|")
    for name, v in out.items():
        if isinstance(v, dict):
            pool, key = name.split("_", 1)
            print(f"| {pool} | {key} | {v['faithful']:.3f} | {v['rank_drop']:.3f} | "
                  f"{v['demographic_only']:.3f} |")  # fmt: skip
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
