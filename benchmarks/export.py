"""Export benchmark: the training export of a large graph, whole and chosen by a dataset spec.

    python benchmarks/export.py --runs 3 --json export.json

Loads the synthetic graph once into a private embedded FalkorDB (the defaults give about 1M
interaction relationships: 20,000 users x 25 clicks, plus the FINISHED/LIKED/SHARED subsets),
then measures, each in a child process of its own so that its peak RSS is its own:

* ``store.export()``: the whole graph, one statement per label and relationship type;
* ``spec (default)``: :func:`kg_store.subgraph.export_spec` with kgrec's own schema as the spec:
  the same arrays, through pages of node keys (``--page`` keys per statement);
* ``spec (filtered)``: the same with ``sample_users = 5000`` and ``kcore = 5``.

Printed: median over runs of wall seconds and peak RSS (MiB) of the exporting process, the
ratio of each to ``store.export()`` measured in the same run, and the export's size.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("store.export()", "spec (default)", "spec (filtered)")


def child(mode: str, store_dir: str, graph: str, page: int) -> None:
    """Export once in this process; print one JSON line with seconds, peak RSS and sizes."""
    from kg_store import embedded
    from kg_store.falkordb_store import FalkorDBStore
    from kg_store.subgraph import export_spec
    from kgrec.spec import Filters, default_spec

    info = embedded.status(Path(store_dir))
    assert info is not None, "the benchmark's server is not running"
    store = FalkorDBStore.for_server(info, graph, socket_timeout=600.0)
    t0 = time.perf_counter()
    if mode == MODES[0]:
        ex = store.export()
    else:
        spec = default_spec()
        if mode == MODES[2]:
            spec = spec.model_copy(update={"filters": Filters(sample_users=5000, kcore=5)})
        ex = export_spec(store, spec, page=page)
    seconds = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inter = sum(len(f) for k, f in ex.edges.items() if k[0] == "User" and k[2] == "Video")
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "users": ex.num_nodes("User"),
                      "items": ex.num_nodes("Video"), "interactions": inter,
                      "relationships": sum(len(f) for f in ex.edges.values())}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--per-user", type=float, default=25.0)
    ap.add_argument("--page", type=int, default=5_000, help="node keys per statement")
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    ap.add_argument(
        "--child", nargs=3, metavar=("MODE", "STORE_DIR", "GRAPH"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2], args.page)
        return

    from kg_ingest.synthetic import generate
    from kg_store import embedded
    from kg_store.falkordb_store import FalkorDBStore

    home = Path(tempfile.mkdtemp(prefix="kgrec-export-bench-"))
    info = embedded.start(home / "falkordb")
    try:
        t0 = time.perf_counter()
        data = generate(args.users, args.videos, seed=0, interactions_per_user=args.per_user)
        FalkorDBStore.for_server(info, "bench", socket_timeout=600.0).load(data)
        del data
        print(f"loaded the synthetic graph in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for r in range(args.runs):
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, __file__, "--page", str(args.page), "--child", mode,
                     str(home / "falkordb"), "bench"],
                    capture_output=True, text=True, env=env, check=True,
                )  # fmt: skip
                runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"run {r + 1} {mode}: {runs[mode][-1]}", file=sys.stderr)
    finally:
        embedded.stop(home / "falkordb")

    med = lambda m, k: statistics.median(x[k] for x in runs[m])  # noqa: E731
    ratio = lambda m, k: statistics.median(  # noqa: E731
        a[k] / b[k] for a, b in zip(runs[m], runs[MODES[0]], strict=True)
    )
    result = {
        m: {"seconds": med(m, "seconds"), "peak_mib": med(m, "peak_mib"),
            "seconds_ratio": ratio(m, "seconds"), "peak_ratio": ratio(m, "peak_mib"),
            **{k: runs[m][0][k] for k in ("users", "items", "interactions", "relationships")}}
        for m in MODES
    }  # fmt: skip
    head = f"{'export':<18}{'s':>8}{'peak MiB':>10}{'s / store':>10}{'RSS / store':>12}"
    print(head + f"{'users':>8}{'items':>8}{'interactions':>14}")
    for m, v in result.items():
        print(f"{m:<18}{v['seconds']:>8.1f}{v['peak_mib']:>10.0f}{v['seconds_ratio']:>10.2f}"
              f"{v['peak_ratio']:>12.2f}{v['users']:>8}{v['items']:>8}"
              f"{v['interactions']:>14,}")  # fmt: skip
    print(f"medians of {args.runs} runs; ratios are per run, to store.export() of the same run")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
