"""Paired tests of models against a base model over the seeds of one benchmark run.

    python benchmarks/paired_seeds.py recommend.json [more.json ...] --base lightgcn \
        [--metrics recall@20 ndcg@20]
    python benchmarks/paired_seeds.py plain.json masked.json=mask --base lightgcn

``FILE=TAG`` names that file's models ``MODEL[TAG]`` (the same model trained with other options
in another benchmark); a model and seed that two files both hold is an error.

Reads the JSON of ``benchmarks/recommend.py --json``, one file or several of the same dataset
(their ``runs`` name each run directory, kept under the temporary folder the benchmark made).
For each seed a model shares with the base model, their runs (the same split) are paired user
by user, as ``kgrec compare BASE MODEL`` does (:func:`recommend.compare.compare_runs`: Wilcoxon
signed-rank and paired t-test, two-sided). Then over those seeds at once: each user's
difference averaged over the seeds, tested the same way, so a user counts once however many
seeds there are (every seed's split holds the same users; where one does not, only the users
every seed evaluates are pooled). Prints a table and, with ``--json``, writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _runs(results: dict[str, Any], path: Path) -> dict[str, dict[int, Path]]:
    """model -> seed -> run directory, from a ``benchmarks/recommend.py`` JSON."""
    out: dict[str, dict[int, Path]] = {}
    for r in results.get("runs", []):
        if "run" not in r:
            raise SystemExit(f"{path}: a run of {r.get('model')} names no run directory")
        out.setdefault(r["model"], {})[int(r["seed"])] = Path(r["run"])
    if not out:
        raise SystemExit(f"{path}: no runs (is it a benchmarks/recommend.py --json file?)")
    return out


def _pooled(per_seed: list[tuple[Any, Any]], metric: str) -> Any:
    """The paired test of each user's seed-averaged value, over the users all seeds have."""
    from recommend.compare import paired_test

    common = per_seed[0][0].users
    for ea, eb in per_seed:
        common = np.intersect1d(common, np.intersect1d(ea.users, eb.users))
    a = np.zeros(len(common))
    b = np.zeros(len(common))
    for ea, eb in per_seed:
        a += ea.per_user[metric][np.searchsorted(ea.users, common)]
        b += eb.per_user[metric][np.searchsorted(eb.users, common)]
    return paired_test(a / len(per_seed), b / len(per_seed))


def compare_seeds(
    runs: dict[str, dict[int, Path]], base: str, metrics: list[str]
) -> list[dict[str, Any]]:
    from recommend.compare import check_same_split, compare_evaluations, run_evaluation
    from recommend.runs import Run

    if base not in runs:
        raise SystemExit(f"no runs of the base model {base!r}; models: {', '.join(runs)}")
    rows: list[dict[str, Any]] = []
    for model, seeds in runs.items():
        if model == base:
            continue
        pairs = []
        common = sorted(set(seeds) & set(runs[base]))
        if not common:
            raise SystemExit(f"{model} and {base} have no seed in common")
        for seed in common:  # the seeds both have
            ra, rb = Run(runs[base][seed]), Run(seeds[seed])
            check_same_split(ra, rb)
            ea, eb = run_evaluation(ra), run_evaluation(rb)
            pairs.append((seed, ea, eb, compare_evaluations(ea, eb).paired))
        for metric in metrics:
            for seed, _, _, paired in pairs:
                rows.append(
                    {"model": model, "metric": metric, "seed": seed, **vars(paired[metric])}
                )
            t = _pooled([(ea, eb) for _, ea, eb, _ in pairs], metric)
            rows.append({"model": model, "metric": metric, "seed": "all", **vars(t)})
    return rows


def tagged(arg: str) -> tuple[Path, str]:
    """``FILE`` or ``FILE=TAG`` -> (path, tag); a file that exists under the whole name wins."""
    path, eq, tag = arg.rpartition("=")
    if not eq or Path(arg).exists():
        return Path(arg), ""
    if not tag or not path:
        raise SystemExit(f"{arg}: expected FILE or FILE=TAG")
    return Path(path), tag


def _p(v: float | None) -> str:
    return "–" if v is None else f"{v:.2g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("results", nargs="+", help="benchmarks/recommend.py --json files (FILE=TAG)")
    ap.add_argument("--base", required=True, help="the model the others are paired with")
    ap.add_argument("--metrics", nargs="+", default=["recall@20", "ndcg@20"])
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args()
    runs: dict[str, dict[int, Path]] = {}
    for arg in args.results:
        path, tag = tagged(arg)
        try:
            results = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SystemExit(f"{path}: {e}") from e
        for model, seeds in _runs(results, path).items():
            name = f"{model}[{tag}]" if tag else model
            twice = sorted(set(runs.get(name, {})) & set(seeds))
            if twice:
                raise SystemExit(f"{path}: {name} seed {twice[0]} is in an earlier file too "
                                 f"(name this file's models with {path}=TAG)")  # fmt: skip
            runs.setdefault(name, {}).update(seeds)
    rows = compare_seeds(runs, args.base, args.metrics)
    print(f"| model | metric | seed | {args.base} | model | diff | rel. | Wilcoxon p | t-test p |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rel = f"{r['diff'] / r['a']:+.1%}" if r["a"] else "–"
        tests = f"{_p(r['wilcoxon_p'])} | {_p(r['ttest_p'])}"
        print(f"| {r['model']} | {r['metric']} | {r['seed']} | {r['a']:.4f} | {r['b']:.4f} | "
              f"{r['diff']:+.4f} | {rel} | {tests} |")  # fmt: skip
    if args.json:
        sources = list(args.results)
        args.json.write_text(json.dumps({"base": args.base, "sources": sources, "rows": rows},
                                        indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
