"""``/livez`` (the process answers, no database call) and ``/readyz`` (database and model)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from api.deps import GraphDep
from api.graph import GraphUnavailable
from api.schemas import Status, error_responses

router = APIRouter(tags=["health"])


@router.get("/livez", operation_id="livez", response_model=Status)
async def livez() -> Status:
    """The process is up. Never touches the database."""
    return Status(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Status,
    responses=error_responses({503: "Database down or no model loaded."}),
)
def readyz(request: Request, graph: GraphDep) -> Status:
    """Ready: the graph database answers and a model is loaded."""
    svc = request.app.state.service
    if svc is None:
        reason = request.app.state.load_error or "no model is loaded"
        raise HTTPException(status_code=503, detail=f"not ready: {reason}")
    try:
        graph.ping()
    except GraphUnavailable as e:
        raise HTTPException(status_code=503, detail=f"not ready: {e}") from e
    return Status(status="ready", run=svc.run_name, graph=graph.describe())
