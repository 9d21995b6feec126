"""Ingest benchmark: parse + load into the embedded FalkorDB store, fresh graph each run.

    python benchmarks/ingest.py ../shared/data/ml-100k synthetic --runs 3 --json ingest.json

Each PATH is a MovieLens or KGAT folder, or ``synthetic`` (``--users``/``--videos``/
``--per-user`` set its size; the defaults give about 1M interaction relationships). Each dataset
is measured in a child process of its own so peak RSS is its own. Printed: median over runs of
wall time (parse + write), write time (schema, nodes, relationships, swap, save), nodes/s over
the node-writing phase, relationships/s over the relationship-writing phase, relationships/s
end to end (over the wall time), peak RSS of the loader process and of the FalkorDB server.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _server_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def parse(path: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if path == "synthetic":
        from kg_ingest.synthetic import generate

        return generate(args.users, args.videos, seed=0, interactions_per_user=args.per_user)
    p = Path(path)
    if (p / "train.txt").is_file():
        from kg_ingest.kgat import load_kgat

        return load_kgat(p)
    from kg_ingest.movielens import load_movielens

    return load_movielens(p)


def measure_one(path: str, args: argparse.Namespace) -> dict[str, object]:
    from kg_store import embedded
    from kg_store.falkordb_store import FalkorDBStore

    home = Path(tempfile.mkdtemp(prefix="kgrec-bench-"))
    info = embedded.start(home / "falkordb")
    runs = []
    try:
        for i in range(args.runs):
            t0 = time.perf_counter()
            data = parse(path, args)
            t1 = time.perf_counter()
            store = FalkorDBStore(port=info.port, graph=f"bench{i}")
            rep = store.load(data)
            t2 = time.perf_counter()
            runs.append({"wall_s": t2 - t0, "parse_s": t1 - t0, "write_s": t2 - t1,
                         "nodes": rep.nodes, "rels": rep.relationships,
                         "node_s": rep.node_seconds, "rel_s": rep.rel_seconds})  # fmt: skip
            store.clear()
        server_kib = _server_hwm_kib(info.pid)
    finally:
        embedded.stop(home / "falkordb")

    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]

    return {
        "dataset": path,
        "runs": args.runs,
        "nodes": runs[0]["nodes"],
        "relationships": runs[0]["rels"],
        "wall_s": med("wall_s"),
        "parse_s": med("parse_s"),
        "write_s": med("write_s"),
        "nodes_per_s": statistics.median(float(r["nodes"]) / float(r["node_s"]) for r in runs),  # type: ignore[arg-type]
        "rels_per_s": statistics.median(float(r["rels"]) / float(r["rel_s"]) for r in runs),  # type: ignore[arg-type]
        "rels_per_s_end_to_end": statistics.median(
            float(r["rels"]) / float(r["wall_s"])
            for r in runs  # type: ignore[arg-type]
        ),
        "peak_rss_loader_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_server_mib": server_kib / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "paths", nargs="*", default=[str(ROOT.parent / "shared/data/ml-100k"), "synthetic"]
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--per-user", type=float, default=25.0)
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args)))
        return
    results = []
    for path in args.paths:
        cmd = [sys.executable, __file__, "--one", path, "--runs", str(args.runs),
               "--users", str(args.users), "--videos", str(args.videos),
               "--per-user", str(args.per_user)]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    header = ["dataset", "nodes", "rels", "wall s", "parse s", "write s", "nodes/s", "rels/s",
              "rels/s e2e", "RSS MiB", "server MiB"]  # fmt: skip
    rows = [[Path(str(r["dataset"])).name, f"{r['nodes']:,}", f"{r['relationships']:,}",
             f"{r['wall_s']:.2f}", f"{r['parse_s']:.2f}", f"{r['write_s']:.2f}",
             f"{r['nodes_per_s']:,.0f}", f"{r['rels_per_s']:,.0f}",
             f"{r['rels_per_s_end_to_end']:,.0f}", f"{r['peak_rss_loader_mib']:.0f}",
             f"{r['peak_rss_server_mib']:.0f}"] for r in results]  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print(f"ingest into embedded FalkorDB, median of {args.runs} runs")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
