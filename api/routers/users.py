"""``/users/{user_id}``: profile and history (graph), recommendations and reasons (model)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from api.deps import GraphDep, OptionalServiceDep, ServiceDep
from api.schemas import (
    INVALID,
    Attribute,
    HistoryEntry,
    Reasons,
    Recommendations,
    UserProfile,
    error_responses,
)
from kg_store import GraphStore
from recommend.explain import MAX_LEN, NotMaskable, UnknownEntity
from recommend.serving import MAX_K, MAX_MASKED, MAX_PATHS

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[str, Path(min_length=1, max_length=200, description="The User's id.")]
_TRUE, _FALSE = {"true", "1", "yes", "on", "t", "y"}, {"false", "0", "no", "off", "f", "n"}


def _explain_mode(v: Any) -> str:
    """``true``/``false`` as FastAPI reads a boolean, or ``counterfactual``."""
    text = str(v).strip().lower()
    if text in _TRUE or v is True:
        return "true"
    if text in _FALSE or v is False:
        return "false"
    if text == "counterfactual":
        return text
    raise PydanticCustomError(
        "bool_parsing", "Input should be a valid boolean or 'counterfactual', unable to interpret"
    )


@contextmanager
def _maskable() -> Iterator[None]:
    """A counterfactual asked of a model without attention edges: 422, saying so."""
    try:
        yield
    except NotMaskable as e:
        raise HTTPException(status_code=422, detail=f"no counterfactuals: {e}") from e


ExplainMode = Annotated[
    Literal["true", "false", "counterfactual"],
    BeforeValidator(_explain_mode),
    Query(
        description="Add path explanations (true), none (false), or add to each path the item's "
        f"score and rank without it (counterfactual: one propagation per path, at most "
        f"{MAX_MASKED} per request; attention models only)."
    ),
]
Ranking = Annotated[  # the names of recommend.explain.PRESETS (a test checks they agree)
    Literal["model", "balanced", "specific", "faithful"] | None,
    Query(description="How paths are ranked: model, balanced, specific or faithful (default: "
          "the service's, balanced)."),
]  # fmt: skip


@router.get(
    "/{user_id}/recommendations",
    operation_id="getRecommendations",
    response_model=Recommendations,
    responses=error_responses({404: "Unknown user.", 422: f"{INVALID}.", 503: "No model loaded."}),
)
async def recommendations(
    user_id: UserId,
    svc: ServiceDep,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many items.")] = 10,
    explain: ExplainMode = "true",
    paths: Annotated[int, Query(ge=0, le=MAX_PATHS, description="Paths per item.")] = 3,
    max_len: Annotated[int, Query(ge=1, le=MAX_LEN, description="Longest path.")] = 3,
    path_ranking: Ranking = None,
) -> Any:
    """The user's top-k unseen videos, each with the knowledge-graph paths that led to it, and
    what answering cost.

    Scoring is one matrix-vector product over precomputed vectors; no database call. Reasons
    cite only positive evidence; each carries the Cypher that shows it in the graph.
    """
    with _maskable():
        return svc.recommend(user_id, k=k, explain=explain != "false", paths=paths,
                             max_len=max_len, path_ranking=path_ranking,
                             counterfactual=explain == "counterfactual")  # fmt: skip


@router.get(
    "/{user_id}/items/{item_id}/reasons",
    operation_id="getReasons",
    response_model=Reasons,
    responses=error_responses(
        {404: "Unknown user or item.", 422: f"{INVALID}.", 503: "No model loaded."}
    ),
)
async def reasons(
    user_id: UserId,
    item_id: Annotated[str, Path(min_length=1, max_length=200, description="The Video's id.")],
    svc: ServiceDep,
    paths: Annotated[int, Query(ge=1, le=MAX_PATHS, description="How many paths.")] = 3,
    max_len: Annotated[int, Query(ge=1, le=MAX_LEN, description="Longest path.")] = 3,
    path_ranking: Ranking = None,
    counterfactual: Annotated[
        bool, Query(description="Add the item's score and rank without each path.")
    ] = False,
) -> Any:
    """The best paths from a user to any video (recommended or not)."""
    with _maskable():
        data = svc.explain(user_id, item_id, paths=paths, max_len=max_len,
                           path_ranking=path_ranking, counterfactual=counterfactual)  # fmt: skip
    return {"user": user_id, "item": item_id, "run": svc.run_name, "data": data,
            "count": len(data)}  # fmt: skip


def _int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


@router.get(
    "/{user_id}",
    operation_id="getUser",
    response_model=UserProfile,
    responses=error_responses(
        {404: "Unknown user.", 422: f"{INVALID}.", 503: "Graph database down."}
    ),
)
def user(
    user_id: UserId,
    graph: GraphDep,
    svc: OptionalServiceDep,
    history: Annotated[int, Query(ge=0, le=1000, description="Most history rows.")] = 50,
) -> UserProfile:
    """A user's attributes and interaction history, newest first (read from the graph)."""

    def read(store: GraphStore) -> list[dict[str, Any]]:
        res = store.query("user_profile", {"user_id": user_id, "limit": max(history, 1)},
                          max_rows=max(history, 1))  # fmt: skip
        return res.records()

    rows = graph.call(read)
    if not rows:
        raise HTTPException(status_code=404, detail=f"unknown user {user_id!r} (not in the graph)")
    attrs = []
    for a in rows[0].get("attributes") or []:
        label, _, key = str(a).partition(": ")
        attrs.append(Attribute(label=label, id=key))
    hist = [
        HistoryEntry(
            item=str(r["item_id"]),
            title=r.get("title"),
            kinds=list(r.get("kinds") or []),
            rating=r.get("rating"),
            ts=_int(r.get("ts")),
        )  # fmt: skip
        for r in rows[:history]
        if r.get("item_id") is not None
    ]
    in_run = False
    if svc is not None:
        try:
            svc.user_index(user_id)
            in_run = True
        except UnknownEntity:
            pass
    return UserProfile(id=user_id, age=_int(rows[0].get("age")), attributes=attrs, history=hist,
                       in_run=in_run)  # fmt: skip
