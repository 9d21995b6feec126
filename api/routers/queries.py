"""``/queries``: the analysts' read-only Cypher library, listed and run with parameters."""

from __future__ import annotations

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
from kgrec.runs import jsonsafe

router = APIRouter(prefix="/queries", tags=["queries"])


def _plain(v: Any) -> Any:
    """JSON-safe query values: NaN/inf as null, the drivers' nodes as their properties."""
    return jsonsafe(v, finite=True, str_keys=True, unwrap=True)


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
