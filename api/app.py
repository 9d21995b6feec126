"""The FastAPI application: one router per resource, every error as an
:class:`api.schemas.ErrorBody` ``{"detail": "...", "errors": [...]}``.

``create_app`` builds it around a :class:`recommend.serving.RecommenderService` (given, or
loaded at start-up from a run: ``run`` argument, ``KGREC_RUN``, or the latest run) and a
:class:`api.graph.GraphGateway`. Errors: a body that is not JSON answers 400, an unknown id 404,
bad parameters 422 (request validation lists each rejected value under ``errors``), the graph
database down or no model loaded 503 (and the next request reconnects).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.graph import GraphGateway, GraphUnavailable
from api.routers import entities, health, items, queries, runs, users
from api.schemas import ErrorBody, FieldError
from kg_store import ReadOnlyViolation, UnknownQuery
from kgrec.settings import Settings
from recommend.explain import UnknownEntity
from recommend.serving import RecommenderService

log = logging.getLogger("kgrec.api")

RUN_ENV = "KGREC_RUN"
"""Environment variable naming the run to serve (path, name, prefix or ``latest``)."""


def load_service(settings: Settings, run: str | None) -> RecommenderService:
    """Load the run and, when it has no cached display names, read them from the graph."""
    svc = RecommenderService.load(run or "latest", settings.runs_dir)
    if not svc.names:
        from recommend.serving import names_from_store

        gateway = GraphGateway(settings)
        try:
            names = gateway.call(lambda s: names_from_store(s, svc.graph.labels))
            if names:
                svc.set_names(names)
        except Exception as e:  # names are cosmetic: ids will do
            log.warning("display names not read from the graph: %s", e)
        finally:
            gateway.close()
    return svc


def _where(loc: Sequence[str | int]) -> str:
    """``("query", "k")`` as ``query parameter 'k'``, ``("body", "params", "x")`` as
    ``body field 'params.x'``."""
    if not loc:
        return "request"
    kind, rest = str(loc[0]), [str(x) for x in loc[1:]]
    if kind == "body":
        return f"body field {'.'.join(rest)!r}" if rest else "body"
    if not rest:
        return kind
    name = rest[0] + "".join(f"[{x}]" for x in rest[1:])
    return f"{kind} parameter {name!r}"


def validation_error_body(exc: RequestValidationError) -> tuple[int, ErrorBody]:
    """FastAPI's validation errors as the API's one error shape: a body that is not JSON is 400,
    anything else 422 with a sentence in ``detail`` and each rejected value under ``errors``."""
    raw = list(exc.errors())
    for e in raw:
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error") or e.get("msg") or "not JSON"
            return 400, ErrorBody(detail=f"the request body is not valid JSON: {reason}")
    errors = [
        FieldError(loc=[x if isinstance(x, int) else str(x) for x in e.get("loc", ())],
                   msg=str(e.get("msg", "")), type=str(e.get("type", "")))
        for e in raw
    ]  # fmt: skip
    detail = "; ".join(f"{_where(e.loc)}: {e.msg}" for e in errors) or "invalid request"
    return 422, ErrorBody(detail=detail, errors=errors)


def create_app(
    service: RecommenderService | None = None,
    settings: Settings | None = None,
    run: str | None = None,
    graph: GraphGateway | None = None,
) -> FastAPI:
    """The API.

    Args:
        service: a loaded run (default: load ``run`` at start-up).
        settings: where the store and the runs are (default: from the environment).
        run: the run to load when no ``service`` is given (default: ``KGREC_RUN`` or the
            latest run).
        graph: the graph connection (default: from ``settings``).
    """
    s = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.service is None:
            try:
                app.state.service = load_service(s, run or os.environ.get(RUN_ENV))
            except (FileNotFoundError, ValueError, KeyError) as e:
                app.state.load_error = str(e).strip("'\"")
                log.error("no model served: %s", app.state.load_error)
        yield
        app.state.graph.close()

    app = FastAPI(
        title="kgrec",
        summary="Explainable video recommendations on a knowledge graph.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = s
    app.state.service = service
    app.state.load_error = None
    app.state.graph = graph or GraphGateway(s)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, body = validation_error_body(exc)
        return JSONResponse(status_code=status, content=body.model_dump(exclude_defaults=True))

    @app.exception_handler(UnknownEntity)
    async def _unknown(request: Request, exc: UnknownEntity) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(UnknownQuery)
    async def _unknown_query(request: Request, exc: UnknownQuery) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(GraphUnavailable)
    async def _down(request: Request, exc: GraphUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(ReadOnlyViolation)
    async def _write(request: Request, exc: ReadOnlyViolation) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    for module in (health, users, items, entities, queries, runs):
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.app:app_from_env`` (several workers)."""
    return create_app()
