"""Explanations measured the way the literature measures them: deletion faithfulness, rank drop
under deletion, coverage, positive evidence, demographic-only reasons, LIR, SEP and ETD.

    KGREC_TEXT_BACKEND=hashing nice python benchmarks/explain.py --train \
        --models mmkgat,kgat,lightgcn --data ../shared/data/ml-100k --json
    python benchmarks/explain.py --run RUN_DIR [--run RUN_DIR ...] --json

Each run is served as the API serves it (:class:`recommend.serving.RecommenderService`, the
default path ranking unless ``--path-ranking``) and ``--users`` users (seeded) get their top
``--k`` items with ``--paths`` reasons each. Measured on those:

* ``coverage``: share of the top-k items with at least one path;
* ``positive_evidence``: share of the interactions the shown reasons cite that are positive
  evidence under the default :class:`~recommend.explain.EvidenceRule` (checked edge by edge
  against the run's training ratings, independently of the search);
* ``demographic_only``: share of top reasons (each item's first) that go only through
  demographic entities, among users with at least 5 positive interactions;
* ``lir``, ``sep``, ``etd``: Balloccu et al. (SIGIR 2022), on the top reasons
  (:mod:`recommend.explain.quality`);
* ``faithful``: for ``--pairs`` (user, item) pairs (one random item of a user's top-k), the
  item's score drop when the edges of its first reason in the user's list (as the API shows it,
  list-level choices included) are masked in propagation is larger than when a
  random path of the same length is (drawn uniformly from the other paths between them over
  positive evidence, the search without pruning); ``rank_drop_faithful``: the item falls
  further in the user's ranking without the top path than without the random one. Only models
  that propagate over attention edges can be masked (``kgat``, ``mmkgat``); null otherwise.
* ``recall@20``: the run's test recall.

``--compare model`` (default) measures the path-quality figures with another ranking too
(``by_ranking``). With ``--json`` the last line is one JSON object, one entry per model:
``{"mmkgat": {"faithful", "rank_drop_faithful", "coverage", "positive_evidence",
"demographic_only", "lir", "sep", "etd", "recall@20", ...}, ...}``.

``--train`` trains each of ``--models`` on the MovieLens folder ``--data`` with the model's
own defaults (``kgrec train --model M``), one thread; ``--extra`` (JSON) overrides options.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train(model: str, args: argparse.Namespace, runs_dir: Path) -> Path:
    import torch

    from kg_ingest.movielens import load_movielens
    from recommend.data import export_from_graph_data
    from recommend.explain import names_from_graph_data, save_names
    from recommend.train import configs_for, start_run, train_run

    torch.set_num_threads(1)
    graph = load_movielens(Path(args.data))
    export = export_from_graph_data(graph)
    cfg = configs_for(model, epochs=args.epochs, seed=args.seed, device="cpu", threads=1,
                      extra=json.loads(args.extra))  # fmt: skip
    run = start_run(export, model, Path(args.data).name, runs_dir, cfg.model, cfg.train,
                    rating_kinds=cfg.rating_kinds)  # fmt: skip
    save_names(run.path, names_from_graph_data(graph))
    t0 = time.perf_counter()
    res = train_run(run, on_epoch=lambda r: print(f"{model} epoch {r['epoch']}", file=sys.stderr))
    print(f"trained {run.path} in {time.perf_counter() - t0:.0f}s: test "
          f"recall@20 {res.test.get('recall@20', float('nan')):.4f}", file=sys.stderr)  # fmt: skip
    return run.path


class Context:
    """What every measure of one run reads: the service, the evidence, timestamps, SEP."""

    def __init__(self, run_dir: Path, ranking: str | None, raw_attention: bool = False) -> None:
        from kgrec.schema import RATED, USER, VIDEO
        from recommend.data import load_export
        from recommend.explain import EvidenceRule
        from recommend.explain.quality import lir_table, sep_table
        from recommend.runs import EXPORT, Run
        from recommend.serving import RecommenderService

        kwargs = {"path_ranking": ranking} if ranking else {}
        self.svc = svc = RecommenderService(Run(run_dir), **kwargs)
        g = self.g = svc.graph
        if raw_attention:  # the attention as the model has it, untrained relations included
            from recommend.explain import Explainer, attention_weights

            att = attention_weights(g, svc.run.load_model("best", svc.data, "cpu"), svc.data)
            if att is not None:
                g.set_weights(att)
                svc.path_scoring = "attention"
                ex = svc.explainer
                svc.explainer = Explainer(
                    g, ex.names, ex.max_len, evidence=ex.evidence, ranking=ex.ranking,
                    source_labels=ex.source_labels,
                )  # fmt: skip
        self.rule = EvidenceRule()
        self.thresholds = self.rule.thresholds(g)
        self.edge_of = {(int(g.head[e]), int(g.tail[e])): e for e in g.kinds}
        n_pos = np.zeros(g.n_users, int)
        for e, kinds in g.kinds.items():
            if self.rule.is_positive(kinds, float(g.rating[e]), float(self.thresholds[g.head[e]])):
                n_pos[g.head[e]] += 1
        self.n_positive = n_pos
        self.user_side = {lab for lab in svc.data.user_kg.offsets if lab != USER}
        export = load_export(Run(run_dir).path / EXPORT)
        frame = export.edges.get((USER, RATED, VIDEO))
        self.lir: dict[tuple[int, int], float] = {}
        if frame is not None and "ts" in frame.columns:
            ts = frame["ts"].to_numpy(np.float64)
            ok = np.isfinite(ts)
            self.lir = lir_table(frame["src"].to_numpy(np.int64)[ok],
                                 frame["dst"].to_numpy(np.int64)[ok], ts[ok])  # fmt: skip
        self.sep = sep_table(g)
        result = Run(run_dir).path / "result.json"  # absent while a run trains
        self.test = json.loads(result.read_text()).get("test", {}) if result.is_file() else {}


def path_quality(ctx: Context, users: np.ndarray, k: int, paths: int, ranking: str) -> dict:
    """Coverage, positive evidence, demographic-only, LIR, SEP, ETD over ``users``."""
    from kgrec.schema import VIDEO
    from recommend.explain.quality import (
        cited_interactions,
        demographic_only,
        etd,
        path_type,
        possible_types,
    )

    svc, g = ctx.svc, ctx.g
    items = covered = cited = positive = 0
    demo: list[bool] = []
    lirs: list[float] = []
    seps: list[float] = []
    per_user_types: list[list[tuple[str, ...]]] = []
    t0 = time.perf_counter()
    for u in users.tolist():
        answer = svc.recommend(str(svc.user_ids[u]), k=k, paths=paths, path_ranking=ranking)
        types = []
        for it in answer["items"]:
            items += 1
            if not it["reasons"]:
                continue
            covered += 1
            for r in it["reasons"]:
                nodes = [svc.explainer.node_of(p) for p in r["path"]]
                for un, vn in cited_interactions(g, nodes):
                    e = ctx.edge_of[(un, vn)]
                    cited += 1
                    positive += ctx.rule.is_positive(g.kinds[e], float(g.rating[e]),
                                                     float(ctx.thresholds[un]))  # fmt: skip
            top = it["reasons"][0]
            nodes = [svc.explainer.node_of(p) for p in top["path"]]
            labels = [g.label_of(n) for n in nodes]
            if ctx.n_positive[u] >= 5:
                demo.append(demographic_only(labels, ctx.user_side))
            first = nodes[1]
            link = (u, first - g.offsets[VIDEO]) if labels[1] == VIDEO else None
            lirs.append(ctx.lir.get(link, 0.0) if link else 0.0)
            seps.append(float(ctx.sep[nodes[-2]]))
            types.append(path_type(top))
        per_user_types.append(types)
    n_types = len(possible_types(g, svc.explainer.max_len))
    return {
        "coverage": covered / max(items, 1),
        "positive_evidence": positive / cited if cited else float("nan"),
        "cited_interactions": cited,
        "demographic_only": float(np.mean(demo)) if demo else float("nan"),
        "lir": float(np.mean(lirs)) if lirs else float("nan"),
        "sep": float(np.mean(seps)) if seps else float("nan"),
        "etd": float(np.mean([etd(ts, k, n_types) for ts in per_user_types if ts]))
        if n_types
        else float("nan"),
        "explanation_types": len({t for ts in per_user_types for t in ts}),
        "possible_types": n_types,
        "ms_per_user": round((time.perf_counter() - t0) * 1000 / max(len(users), 1), 2),
    }


def faithfulness(ctx: Context, users: np.ndarray, k: int, ranking: str, seed: int) -> dict:
    """Deletion faithfulness and rank drop of the top path against a random one."""
    from kgrec.schema import USER, VIDEO
    from recommend.explain import Masker, NotMaskable, PathSearch, hops_of

    svc, g = ctx.svc, ctx.g
    try:
        masker = Masker(svc.run.load_model("best", svc.data, "cpu"), svc.data, g)
    except NotMaskable as e:
        return {"faithful": None, "rank_drop_faithful": None, "faithful_note": str(e)}
    sg = svc.explainer.graph(ranking)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    skipped = 0
    t0 = time.perf_counter()
    for u in users.tolist():
        items, _ = svc.top_items(u, k)
        if not len(items):
            continue
        i = int(rng.choice(items))
        un, inode = g.offsets[USER] + u, g.offsets[VIDEO] + i
        # the path the service shows first in the user's list (the ranking's order, re-ranked
        # and diversified across the list where it says so)
        answer = svc.recommend(str(svc.user_ids[u]), k=k, paths=1, path_ranking=ranking)
        top = next(it["reasons"] for it in answer["items"] if it["item"] == str(svc.item_ids[i]))
        if not top:
            skipped += 1
            continue
        nodes = np.array([svc.explainer.node_of(p) for p in top[0]["path"]])
        every = PathSearch(sg, un, max_len=svc.explainer.max_len, beam=10**9, fanout=10**9)
        walks = every.paths(inode, len(nodes) - 1)
        others = [j for j in range(len(walks)) if not np.array_equal(walks.nodes[j], nodes)]
        if not others:
            skipped += 1
            continue
        rnd = walks.nodes[int(rng.choice(others))]
        seen = svc.seen(u)
        a = masker.counterfactual(u, i, hops_of(nodes), seen)
        b = masker.counterfactual(u, i, hops_of(rnd), seen)
        rows.append({"drop_top": a["base_score"] - a["score"],
                     "drop_random": b["base_score"] - b["score"],
                     "rank_drop_top": a["rank"] - a["base_rank"],
                     "rank_drop_random": b["rank"] - b["base_rank"]})  # fmt: skip
    if not rows:
        return {"faithful": None, "rank_drop_faithful": None, "pairs": 0, "skipped": skipped}
    med = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "faithful": float(np.mean([r["drop_top"] > r["drop_random"] for r in rows])),
        "rank_drop_faithful": float(
            np.mean([r["rank_drop_top"] > r["rank_drop_random"] for r in rows])
        ),  # fmt: skip
        "rank_drop_not_smaller": float(
            np.mean([r["rank_drop_top"] >= r["rank_drop_random"] for r in rows])
        ),  # fmt: skip
        "rank_moved": float(
            np.mean([r["rank_drop_top"] != 0 or r["rank_drop_random"] != 0 for r in rows])
        ),  # fmt: skip
        "pairs": len(rows),
        "skipped": skipped,
        "median_drop_top": med("drop_top"),
        "median_drop_random": med("drop_random"),
        "mean_rank_drop_top": statistics.fmean(r["rank_drop_top"] for r in rows),
        "mean_rank_drop_random": statistics.fmean(r["rank_drop_random"] for r in rows),
        "seconds_per_pair": round((time.perf_counter() - t0) / len(rows), 3),
    }


def measure(run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    ctx = Context(run_dir, args.path_ranking, args.raw_attention)
    svc = ctx.svc
    ranking = svc.explainer.ranking.name
    users = np.random.default_rng(args.seed).permutation(svc.data.n_users)[: args.users]
    out: dict[str, Any] = {"run": svc.run_name, "path_ranking": ranking,
                           "path_scoring": svc.path_scoring}  # fmt: skip
    out.update(faithfulness(ctx, users[: args.pairs], args.k, ranking, args.seed))
    out.update(path_quality(ctx, users, args.k, args.paths, ranking))
    out["recall@20"] = ctx.test.get("recall@20")
    out["by_ranking"] = {}
    for other in [r for r in args.compare.split(",") if r and r != ranking]:
        quality = path_quality(ctx, users, args.k, args.paths, other)
        if args.compare_faithfulness:
            quality.update(faithfulness(ctx, users[: args.pairs], args.k, other, args.seed))
        out["by_ranking"][other] = quality
    return {svc.model_name: out}


COLUMNS = ("faithful", "rank_drop_faithful", "coverage", "positive_evidence",
           "demographic_only", "lir", "sep", "etd", "recall@20")  # fmt: skip


def _cell(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and v != v) else f"{v:.3f}"


def print_table(results: dict[str, Any]) -> None:
    print("| model | ranking | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for model, res in results.items():
        print(f"| {model} | {res['path_ranking']} | "
              + " | ".join(_cell(res.get(c)) for c in COLUMNS) + " |")  # fmt: skip
        for name, other in res["by_ranking"].items():
            cells = [_cell(other.get(c, res.get(c) if c == "recall@20" else None)) for c in COLUMNS]
            print(f"| {model} | {name} | " + " | ".join(cells) + " |")


def set_preset(change: str) -> None:
    """Apply ``PRESET.FIELD=VALUE`` to :data:`recommend.explain.PRESETS` in this process."""
    from dataclasses import fields, replace

    from recommend.explain import PRESETS

    target, _, value = change.partition("=")
    preset, _, field = target.partition(".")
    kinds = {f.name: f.type for f in fields(PRESETS[preset])}
    if field not in kinds or field == "name":
        raise SystemExit(f"--set {change}: no field {field!r}; one of {sorted(kinds)}")
    cast = int if kinds[field] in (int, "int") else float
    PRESETS[preset] = replace(PRESETS[preset], **{field: cast(value)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, action="append", default=[], help="a run to measure")
    ap.add_argument("--train", action="store_true", help="train --models on --data first")
    ap.add_argument("--models", default="mmkgat,kgat,lightgcn")
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/ml-100k"))
    ap.add_argument("--epochs", type=int, help="most epochs (default: the model's)")
    ap.add_argument("--extra", default="{}", help="ModelConfig.extra as JSON, over defaults")
    ap.add_argument("--runs-dir", type=Path, help="where --train puts runs (default: temp)")
    ap.add_argument("--users", type=int, default=200, help="users measured (default: 200)")
    ap.add_argument("--pairs", type=int, default=200, help="faithfulness pairs (default: 200)")
    ap.add_argument("--k", type=int, default=10, help="top-k items per user (default: 10)")
    ap.add_argument("--paths", type=int, default=3, help="reasons per item (default: 3)")
    ap.add_argument("--path-ranking", help="ranking measured (default: the service's)")
    ap.add_argument("--compare", default="model", help="other rankings, comma-separated")
    ap.add_argument("--compare-faithfulness", action="store_true",
                    help="measure faithfulness with the --compare rankings too")  # fmt: skip
    ap.add_argument("--raw-attention", action="store_true",
                    help="score paths by the raw attention, untrained ones included")  # fmt: skip
    ap.add_argument("--set", action="append", default=[], metavar="PRESET.FIELD=VALUE",
                    help="change a preset's PathRanking field for this measurement, e.g. "
                         "balanced.diversity=0.3")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = ap.parse_args()
    for change in args.set:
        set_preset(change)
    runs = list(args.run)
    if args.train:
        runs_dir = args.runs_dir or Path(tempfile.mkdtemp(prefix="kgrec-explain-"))
        runs += [train(m, args, runs_dir) for m in args.models.split(",") if m]
    if not runs:
        ap.error("give --run RUN_DIR (one or more) or --train")
    results: dict[str, Any] = {}
    for run in runs:
        t0 = time.perf_counter()
        res = measure(run, args)
        for model, r in res.items():
            r["seconds"] = round(time.perf_counter() - t0, 1)
            results[model if model not in results else f"{model}:{r['run']}"] = r
        print(f"measured {run} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    print_table(results)
    if args.json:
        from kgrec.runs import jsonsafe

        print(json.dumps(jsonsafe(results)))


if __name__ == "__main__":
    main()
