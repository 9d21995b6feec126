"""Typed settings, read once from the environment (``KGREC_*``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    # A project-local ./.kgrec wins when it exists, so a checkout keeps its own store and runs.
    local = Path.cwd() / ".kgrec"
    if local.is_dir():
        return local
    return Path.home() / ".kgrec"


class Settings(BaseSettings):
    """Platform settings.

    Args:
        home: where the embedded store, its data directory and the runs live
            (``KGREC_HOME``, default ``./.kgrec`` if it exists, else ``~/.kgrec``).
        graph_uri: ``neo4j://`` / ``bolt://`` (optionally ``+s``/``+ssc``) URI of a Neo4j 5
            server, user and password in the URI or in ``KGREC_GRAPH_USER`` /
            ``KGREC_GRAPH_PASSWORD``, database as the path (``bolt://u:p@host:7687/movies``) or
            ``KGREC_GRAPH_DATABASE``. Unset means the embedded FalkorDB store.
        graph: default graph name (FalkorDB graph key; a Neo4j database keeps one graph).
        startup_timeout: seconds to wait for the embedded server to answer.
        query_timeout: default time cap (seconds) for analysts' read-only queries.
        max_rows: default row cap for analysts' read-only queries.
        query_memory_mb: the embedded server's per-query memory cap in MiB (FalkorDB's
            ``QUERY_MEM_CAPACITY``, applied when the server starts; 0: none).
        lock_timeout: seconds a writer waits for another writer of the same graph.
    """

    model_config = SettingsConfigDict(env_prefix="KGREC_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    graph_uri: str | None = None
    graph_user: str | None = None
    graph_password: str | None = None
    graph_database: str | None = None
    graph: str = "kg"
    startup_timeout: float = 20.0
    connect_timeout: float = 5.0
    query_timeout: float = 30.0
    max_rows: int = 1000
    write_batch: int = 20_000
    query_memory_mb: int = Field(default=1024, ge=0)
    lock_timeout: float = Field(default=3600.0, gt=0)

    @property
    def store_dir(self) -> Path:
        return self.home / "falkordb"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def neo4j_target(self) -> tuple[str, tuple[str, str] | None, str]:
        """Split ``graph_uri`` into (uri without credentials, auth, database)."""
        if not self.graph_uri:
            raise ValueError("KGREC_GRAPH_URI is not set")
        parsed = urlparse(self.graph_uri)
        user = unquote(parsed.username) if parsed.username else self.graph_user
        password = unquote(parsed.password) if parsed.password else self.graph_password
        host = parsed.hostname or "localhost"
        netloc = f"{host}:{parsed.port}" if parsed.port else host
        uri = f"{parsed.scheme}://{netloc}"
        database = parsed.path.strip("/") or self.graph_database or "neo4j"
        auth = (user, password or "") if user else None
        return uri, auth, database


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
