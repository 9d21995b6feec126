"""HTTP API (FastAPI): path-explained recommendations, users, items, entities, library
queries, runs, health. ``create_app()`` builds it; ``kgrec serve`` runs it."""

from api.app import create_app

__all__ = ["create_app"]
