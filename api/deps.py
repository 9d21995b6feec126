"""Dependencies the routers declare with ``Annotated``: the served model and the graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.graph import GraphGateway
from kgrec.settings import Settings
from recommend.serving import RecommenderService


def get_service(request: Request) -> RecommenderService:
    """The loaded run; 503 when none is (no run trained yet, or it failed to load)."""
    svc: RecommenderService | None = request.app.state.service
    if svc is None:
        reason = request.app.state.load_error or "no model is loaded"
        raise HTTPException(status_code=503, detail=f"no model is being served: {reason}")
    return svc


def get_graph(request: Request) -> GraphGateway:
    gateway: GraphGateway = request.app.state.graph
    return gateway


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[RecommenderService, Depends(get_service)]
GraphDep = Annotated[GraphGateway, Depends(get_graph)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_optional_service(request: Request) -> RecommenderService | None:
    """The loaded run, or None (for endpoints that only add model facts when there is one)."""
    svc: RecommenderService | None = request.app.state.service
    return svc


OptionalServiceDep = Annotated[RecommenderService | None, Depends(get_optional_service)]
