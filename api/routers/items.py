"""``/items/{item_id}``: an item's properties and attributes (read from the graph, under the
served run's spec: its item label and key, ``Video`` and ``id`` in kgrec's own schema)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from api.deps import GraphDep, OptionalServiceDep
from api.schemas import INVALID, Attribute, Item, error_responses
from kg_store import GraphStore
from kgrec.runs import jsonsafe
from kgrec.spec import default_spec, run_spec
from recommend.explain import UnknownEntity

router = APIRouter(prefix="/items", tags=["items"])


def _plain(v: Any) -> Any:
    """JSON-safe property values (vectors and odd driver types become lists / strings)."""
    return jsonsafe(v)


@router.get(
    "/{item_id}",
    operation_id="getItem",
    response_model=Item,
    responses=error_responses(
        {404: "Unknown item.", 422: f"{INVALID}.", 503: "Graph database down."}
    ),
)
def item(
    item_id: Annotated[str, Path(min_length=1, max_length=200, description="The item's key.")],
    graph: GraphDep,
    svc: OptionalServiceDep,
) -> Item:
    """A video: its properties, attribute entities and number of users (from the graph)."""

    spec = run_spec(svc.run.path) if svc is not None else default_spec()
    slots = {"item": spec.item.label, "item_id": spec.item.id, "user": spec.user.label}

    def read(store: GraphStore) -> list[dict[str, Any]]:
        # the store's named read-only path: cypher/api/item.cypher, one row, 10 s at most
        return store.query(
            "api/item", {"item_id": item_id}, max_rows=1, timeout=10.0, slots=slots
        ).records()

    rows = graph.call(read)
    if not rows or rows[0].get("properties") is None:
        raise HTTPException(status_code=404, detail=f"unknown item {item_id!r} (not in the graph)")
    row = rows[0]
    props = {str(k): _plain(v) for k, v in dict(row["properties"]).items() if k != "vector"}
    attrs = [
        Attribute(label=str(a[0]), id=str(a[1]), relation=str(a[2]), name=str(a[3]))
        for a in row.get("attributes") or []
        if a and a[0] is not None and a[1] is not None
    ]
    attrs.sort(key=lambda a: (a.relation or "", a.label, a.id))
    in_run = False
    if svc is not None:
        try:
            svc.item_index(item_id)
            in_run = True
        except UnknownEntity:
            pass
    title = props.get(spec.item.name or "title")
    return Item(id=item_id, title=None if title is None else str(title), properties=props,
                attributes=attrs, users=int(row.get("users") or 0), in_run=in_run)  # fmt: skip
