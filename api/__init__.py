"""HTTP API (FastAPI): path-explained recommendations, users, items, entities, library
queries, runs, health. ``create_app()`` builds it; ``kgrec serve`` runs it.

Imported lazily by ``kgrec.cli.serve``, so that ``kgrec`` does not load FastAPI and torch for
every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
