"""``/entities/{entity_id}/similar``: nearest entities of the same label in the model's space."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import ServiceDep
from api.schemas import INVALID, SimilarEntities, error_responses
from recommend.explain import UnknownEntity

router = APIRouter(prefix="/entities", tags=["entities"])


@router.get(
    "/{entity_id}/similar",
    operation_id="getSimilarEntities",
    response_model=SimilarEntities,
    responses=error_responses({
        404: "Unknown entity or label.",
        422: f"{INVALID}, or an id that several labels share and no `label`.",
        503: "No model loaded.",
    }),
)  # fmt: skip
async def similar(
    entity_id: Annotated[str, Path(min_length=1, max_length=200, description="The node's id.")],
    svc: ServiceDep,
    k: Annotated[int, Query(ge=1, le=100, description="How many.")] = 10,
    label: Annotated[
        str | None,
        Query(max_length=100, description="The node's label, needed when several share the id."),
    ] = None,
) -> Any:
    """The ``k`` entities of the same label whose vectors (users' and videos' from the model,
    an attribute's the mean of its neighbours') are nearest by cosine."""
    if label is None:
        labels = svc.labels_of(entity_id)
        if not labels:
            raise UnknownEntity(f"no entity with id {entity_id!r} in run {svc.run_name}")
        if len(labels) > 1:
            raise HTTPException(
                status_code=422,
                detail=f"id {entity_id!r} names a node of each of {', '.join(labels)}: add ?label=",
            )
        label = labels[0]
    elif label not in svc.graph.labels:
        raise UnknownEntity(
            f"no label {label!r} in run {svc.run_name}; labels: {', '.join(svc.graph.labels)}"
        )
    data = svc.similar(label, entity_id, k)
    node = svc.explainer.node_dict(svc.graph.node(label, entity_id))
    return {"entity": node, "run": svc.run_name, "data": data, "count": len(data)}
