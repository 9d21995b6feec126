"""``/queries``: the analysts' read-only Cypher library, listed and run with parameters."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path

from api.deps import GraphDep, SettingsDep
from api.schemas import (
    INVALID,
    UNPARSABLE_BODY,
    QueryAnswer,
    QueryInfo,
    QueryList,
    QueryParam,
    QueryRequest,
    error_responses,
)
from kg_store import GraphStore, QueryError, library, library_names

router = APIRouter(prefix="/queries", tags=["queries"])


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    props = getattr(v, "properties", None)  # nodes, relationships, paths from the drivers
    if isinstance(props, dict):
        return _plain(props)
    return str(v)


@router.get("", operation_id="listQueries", response_model=QueryList)
async def list_queries() -> QueryList:
    """The library queries (``cypher/*.cypher``) with their parameters and defaults."""
    out = []
    for name in library_names():
        st = library.load(name, "falkordb")
        params = [QueryParam(name=p.name, description=p.description, required=p.required,
                             default=p.default) for p in st.params]  # fmt: skip
        out.append(QueryInfo(name=name, description=st.description, params=params))
    return QueryList(data=out, count=len(out))


@router.post(
    "/{name}",
    operation_id="runQuery",
    response_model=QueryAnswer,
    responses=error_responses({
        400: UNPARSABLE_BODY,
        404: "No such library query.",
        422: f"{INVALID}; missing or unknown query parameters, values the database refuses, "
        "or a statement that would write.",
        503: "Graph database down.",
    }),
)  # fmt: skip
def run_query(
    name: Annotated[str, Path(max_length=100, pattern=r"^\w+$", description="Query name.")],
    graph: GraphDep,
    settings: SettingsDep,
    body: Annotated[QueryRequest | None, Body()] = None,
) -> QueryAnswer:
    """Run one library query, read-only and capped in rows and time."""
    req = body or QueryRequest()
    if name not in library_names():
        raise HTTPException(status_code=404, detail=f"no library query named {name!r}")
    max_rows = min(req.max_rows or settings.max_rows, settings.max_rows)

    def run(store: GraphStore) -> Any:
        return store.query(name, req.params, max_rows=max_rows, timeout=settings.query_timeout)

    try:
        res = graph.call(run)
    except ValueError as e:  # missing or unknown parameters
        raise HTTPException(status_code=422, detail=str(e)) from e
    except QueryError as e:  # the server refused the values (types, time cap)
        raise HTTPException(status_code=422, detail=str(e).split("\n")[0]) from e
    return QueryAnswer(name=name, columns=list(res.columns), rows=_plain(res.rows),
                       truncated=res.truncated, elapsed_ms=res.elapsed_s * 1000)  # fmt: skip
