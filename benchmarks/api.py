"""Load test of the HTTP API: N concurrent keep-alive clients on loopback for T seconds against a
real ``kgrec serve`` on the embedded store holding MovieLens-100K.

    KGREC_TEXT_BACKEND=hashing python benchmarks/api.py --run RUN_DIR \
        --data ../shared/data/ml-100k --clients 4 --seconds 20 --json

The dataset is ingested into a fresh embedded FalkorDB under a temporary ``KGREC_HOME`` (so
``/readyz`` is green and the service runs as deployed), the server serves ``--run`` (a run
trained on the same dataset, e.g. by ``benchmarks/explain.py --train``), and two scenarios run one
after the other, each after a short warm-up: ``GET /users/{id}/recommendations?k=10&explain=true
&paths=3`` and the same with ``explain=false``, users drawn at random (seeded). The clients are
raw asyncio HTTP/1.1 connections in one process (cheap, so the server gets the CPU). Printed
per scenario: requests/s, p50/p95/p99 latency, errors (non-200 answers and failed
connections), and the cost the server reports with each answer (``cost``: the mean and p99 of
``explain_ms``, ``counterfactual_ms``, ``masked_paths``). A third scenario asks for
counterfactuals (``explain=counterfactual&paths=1``: one masked propagation per item) with
``--cf-clients`` clients for ``--cf-seconds`` (0 skips it). With ``--json`` the last line is
``{"explain": {"rps", "p50_ms", "p95_ms", "p99_ms", "errors", "cost", ...}, "plain": {...},
"counterfactual": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KGREC = str(Path(sys.executable).with_name("kgrec"))
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _client(
    port: int, paths: list[str], rng: random.Random, stop_at: float, lat: list[float],
    errors: list[str], costs: list[dict[str, float]],
) -> None:  # fmt: skip
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            path = paths[rng.randrange(len(paths))]
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            m = _LENGTH.search(head)
            body = await reader.readexactly(int(m.group(1)) if m else 0)
            lat.append(time.perf_counter() - t0)
            status = int(head[9:12])
            if status != 200:
                errors.append(f"{status} {path}")
            elif b'"cost"' in body:
                costs.append(json.loads(body)["cost"])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            errors.append(f"{type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def _load(port: int, paths: list[str], clients: int, seconds: float, seed: int) -> Any:
    lat: list[float] = []
    errors: list[str] = []
    costs: list[dict[str, float]] = []
    stop_at = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*[
        _client(port, paths, random.Random(seed * 1000 + c), stop_at, lat, errors, costs)
        for c in range(clients)
    ])  # fmt: skip
    return lat, errors, costs, time.perf_counter() - t0


def scenario(port: int, paths: list[str], clients: int, seconds: float, warmup: float,
             seed: int) -> dict[str, Any]:  # fmt: skip
    import numpy as np

    asyncio.run(_load(port, paths, clients, warmup, seed + 1))
    lat, errors, costs, wall = asyncio.run(_load(port, paths, clients, seconds, seed))
    ms = np.asarray(lat) * 1000
    keys = ("explain_ms", "counterfactual_ms", "masked_paths") if costs else ()
    cost = {key: {"mean": float(np.mean([c[key] for c in costs])),
                  "p99": float(np.percentile([c[key] for c in costs], 99))}
            for key in keys}  # fmt: skip
    return {
        "cost": cost,
        "rps": len(lat) / wall,
        "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
        "p95_ms": float(np.percentile(ms, 95)) if len(ms) else None,
        "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
        "max_ms": float(ms.max()) if len(ms) else None,
        "requests": len(lat),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "clients": clients,
        "seconds": round(wall, 2),
    }


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="run directory to serve")
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/ml-100k"))
    ap.add_argument("--clients", type=int, default=4, help="concurrent connections")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds per scenario")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--cf-clients", type=int, default=1, help="clients asking counterfactuals")
    ap.add_argument("--cf-seconds", type=float, default=10.0, help="0: no counterfactuals")
    ap.add_argument("--path-ranking", help="the explained scenario's path_ranking (default: "
                    "the service's)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = ap.parse_args()

    from kg_store import embedded
    from recommend.runs import Run

    home = Path(tempfile.mkdtemp(prefix="kgrec-apibench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGREC_")}
    env.update(KGREC_HOME=str(home), KGREC_GRAPH="bench",
               KGREC_TEXT_BACKEND=os.environ.get("KGREC_TEXT_BACKEND", "hashing"))  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run([KGREC, "ingest", "movielens", args.data], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    ingest_s = time.perf_counter() - t0
    users = [str(u) for u in Run(args.run).data().user_ids]
    port = _free_port()
    server = subprocess.Popen(
        [KGREC, "serve", "--port", str(port), "--run", str(args.run.resolve()),
         "--workers", str(args.workers), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        t1 = time.perf_counter()
        while True:
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                raise SystemExit(
                    f"the server exited:\n{server.stdout.read() if server.stdout else ''}"
                )
            if time.perf_counter() - t1 > 600:
                raise SystemExit("the server did not get ready in 600 s")
            time.sleep(0.5)
        start_s = time.perf_counter() - t1
        rng = random.Random(args.seed)
        sample = [users[rng.randrange(len(users))] for _ in range(2000)]
        res: dict[str, Any] = {}
        ranking = f"&path_ranking={args.path_ranking}" if args.path_ranking else ""
        for name, explain in (("explain", f"true&paths=3{ranking}"), ("plain", "false")):
            paths = [f"/users/{u}/recommendations?k=10&explain={explain}" for u in sample]
            res[name] = scenario(port, paths, args.clients, args.seconds, args.warmup, args.seed)
        if args.cf_seconds > 0:
            paths = [f"/users/{u}/recommendations?k=10&explain=counterfactual&paths=1"
                     for u in sample]  # fmt: skip
            res["counterfactual"] = scenario(port, paths, args.cf_clients, args.cf_seconds,
                                             args.warmup, args.seed)  # fmt: skip
        res["setup"] = {"ingest_s": round(ingest_s, 1), "server_start_s": round(start_s, 1),
                        "workers": args.workers, "cpus": os.cpu_count(),
                        "run": args.run.name}  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        embedded.stop(home / "falkordb")
    print(f"{'scenario':<9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name in ("explain", "plain", "counterfactual"):
        r = res.get(name)
        if not r or not r["requests"]:
            continue
        c = r["cost"]
        reported = (f"  server: explain {c['explain_ms']['mean']:.1f} ms, counterfactual "
                    f"{c['counterfactual_ms']['mean']:.1f} ms for "
                    f"{c['masked_paths']['mean']:.0f} path(s)" if c else "")  # fmt: skip
        print(f"{name:<9} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['errors']:>7}{reported}")  # fmt: skip
    print(f"{args.clients} clients x {args.seconds:g} s per scenario, {args.workers} server "
          f"worker(s), {os.cpu_count()} CPUs; server ready {res['setup']['server_start_s']} s "
          f"after start")  # fmt: skip
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
