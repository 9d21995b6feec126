"""Ingest benchmark: parse + load into the embedded FalkorDB store, fresh graph each run.

    python benchmarks/ingest.py ../shared/data/ml-100k synthetic --runs 3 --json ingest.json

Each PATH is a MovieLens or KGAT folder, or ``synthetic`` (``--users``/``--videos``/
``--per-user`` set its size; the defaults give about 1M interaction relationships). Each dataset
is measured in a child process of its own so peak RSS is its own. Printed: median over runs of
wall time (parse + write), write time (schema, nodes, relationships, swap, save), nodes/s over
the node-writing phase, relationships/s over the relationship-writing phase, relationships/s
end to end (over the wall time), peak RSS of the loader process and of the FalkorDB server.

Neo4j columns where a server is given (``--neo4j-uri``, else ``KGREC_TEST_NEO4J_URI``; user
and password from ``--neo4j-user``/``--neo4j-password`` or ``KGREC_TEST_NEO4J_USER``/
``KGREC_TEST_NEO4J_PASSWORD``): the same data loaded into that database, which is CLEARED
first and after, median over runs of the write time of a fresh load (CREATE), nodes/s and
relationships/s of it, and the time of a re-load (upsert, MERGE) of the same data on top.

    python benchmarks/ingest.py ../shared/data/ml-100k --neo4j-uri bolt://localhost:7687
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


def measure_neo4j(path: str, args: argparse.Namespace) -> dict[str, float]:
    """Fresh load and re-load (upsert) of ``path`` into the Neo4j database, median of runs."""
    from kg_store.neo4j_store import Neo4jStore

    store = Neo4jStore(args.neo4j_uri, (args.neo4j_user, args.neo4j_password), args.neo4j_database)
    runs = []
    try:
        for _ in range(args.runs):
            data = parse(path, args)
            store.clear()
            t0 = time.perf_counter()
            rep = store.load(data)
            t1 = time.perf_counter()
            again = store.load(data)
            t2 = time.perf_counter()
            assert (rep.mode, again.mode) == ("create", "merge"), (rep.mode, again.mode)
            runs.append({"write_s": t1 - t0, "reload_s": t2 - t1,
                         "nodes_per_s": rep.nodes / max(rep.node_seconds, 1e-9),
                         "rels_per_s": rep.relationships / max(rep.rel_seconds, 1e-9)})  # fmt: skip
        store.clear()
    finally:
        store.close()
    return {
        f"neo4j_{k}": statistics.median(r[k] for r in runs)
        for k in ("write_s", "nodes_per_s", "rels_per_s", "reload_s")
    }


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
            store = FalkorDBStore.for_server(info, f"bench{i}")
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

    neo4j = measure_neo4j(path, args) if args.neo4j_uri else {}
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
        **neo4j,
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
    env = os.environ.get
    ap.add_argument(
        "--neo4j-uri",
        default=env("KGREC_TEST_NEO4J_URI"),
        help="Also load into this Neo4j 5 server (its database is CLEARED).",
    )
    ap.add_argument("--neo4j-user", default=env("KGREC_TEST_NEO4J_USER", "neo4j"))
    ap.add_argument("--neo4j-password", default=env("KGREC_TEST_NEO4J_PASSWORD", "password"))
    ap.add_argument("--neo4j-database", default="neo4j")
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
        if args.neo4j_uri:  # the password travels in the environment, not on a command line
            cmd += ["--neo4j-uri", args.neo4j_uri, "--neo4j-user", args.neo4j_user,
                    "--neo4j-database", args.neo4j_database]  # fmt: skip
        child_env = {**os.environ, "KGREC_TEST_NEO4J_PASSWORD": args.neo4j_password}
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=child_env).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    header = ["dataset", "nodes", "rels", "wall s", "parse s", "write s", "nodes/s", "rels/s",
              "rels/s e2e", "RSS MiB", "server MiB"]  # fmt: skip
    rows = [[Path(str(r["dataset"])).name, f"{r['nodes']:,}", f"{r['relationships']:,}",
             f"{r['wall_s']:.2f}", f"{r['parse_s']:.2f}", f"{r['write_s']:.2f}",
             f"{r['nodes_per_s']:,.0f}", f"{r['rels_per_s']:,.0f}",
             f"{r['rels_per_s_end_to_end']:,.0f}", f"{r['peak_rss_loader_mib']:.0f}",
             f"{r['peak_rss_server_mib']:.0f}"] for r in results]  # fmt: skip
    if args.neo4j_uri:
        header += ["neo4j write s", "neo4j nodes/s", "neo4j rels/s", "neo4j reload s"]
        for row, r in zip(rows, results, strict=True):
            row += [f"{r['neo4j_write_s']:.2f}", f"{r['neo4j_nodes_per_s']:,.0f}",
                    f"{r['neo4j_rels_per_s']:,.0f}", f"{r['neo4j_reload_s']:.2f}"]  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    into = "embedded FalkorDB" + (f" and Neo4j ({args.neo4j_uri})" if args.neo4j_uri else "")
    print(f"ingest into {into}, median of {args.runs} runs")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
