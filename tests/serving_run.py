"""A tiny trained run for the explanation, serving and API tests (built once per session).

A seeded synthetic micro-video KG of 50 users x 40 videos, loaded into an embedded FalkorDB of
its own (so the API tests can stop and restart it without touching the session's shared server)
and exported from there into an MMKGAT run of 3 short epochs; display names are cached in the
run directory as ``kgrec serve`` does.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kg_ingest.synthetic import generate
from kg_store import GraphData, embedded
from kg_store.falkordb_store import FalkorDBStore
from kgrec.settings import Settings
from recommend.explain import names_from_graph_data, save_names
from recommend.models import ModelConfig
from recommend.runs import Run
from recommend.train import TrainConfig, start_run, train_run

GRAPH = "served"


@dataclass
class ServedRun:
    home: Path  # KGREC_HOME: falkordb/ (the running server) and runs/
    graph: GraphData
    run: Run

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, graph=GRAPH)


_lock = threading.Lock()
_cache: dict[str, ServedRun] = {}


def served_run(factory: pytest.TempPathFactory, model: str = "mmkgat") -> ServedRun:
    """The session's run of ``model`` (trained on first use), its store started."""
    with _lock:
        if model in _cache:
            embedded.start(_cache[model].home / "falkordb")  # a test may have stopped it
            return _cache[model]
        home = factory.mktemp(f"served-{model}")
        graph = generate(50, 40, seed=3, interactions_per_user=12, dims=(8, 8, 8))
        info = embedded.start(home / "falkordb")
        store = FalkorDBStore.for_server(info, GRAPH)
        store.load(graph)
        export = store.export()
        store.close()
        run = start_run(
            export, model, GRAPH, home / "runs",
            ModelConfig(dim=16, layers=2, dropout=0.0),
            TrainConfig(epochs=3, batch_size=256, lr=1e-2, seed=0, device="cpu", threads=1),
        )  # fmt: skip
        train_run(run)
        save_names(run.path, names_from_graph_data(graph))
        _cache[model] = ServedRun(home, graph, run)
        return _cache[model]


def stop_all() -> None:
    for sr in _cache.values():
        embedded.stop(sr.home / "falkordb")


@contextmanager
def kgrec_serve(kgrec: str, env: dict[str, str], *args: str) -> Iterator[str]:
    """``kgrec serve ARGS`` on a free loopback port as a subprocess; yields its base URL once
    ``/readyz`` answers 200, and stops it with SIGINT (as Ctrl-C would) afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [kgrec, "serve", "--port", str(port), *args, "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.3)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
