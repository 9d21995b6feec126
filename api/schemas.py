"""Response and request bodies of the HTTP API (they make the OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    """One request value that failed validation."""

    loc: list[str | int] = Field(
        description="Where: the location ('path', 'query', 'body'), then the parameter's name "
        "and, inside a body, the field's path."
    )
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="Machine-readable kind of error ('greater_than_equal', ...).")


class ErrorBody(BaseModel):
    """Every error answer, whatever the status: 400 unparsable body, 404 unknown id, 422 bad
    parameters, 503 graph database down or no model loaded."""

    detail: str = Field(description="What went wrong, in words a user can act on.")
    errors: list[FieldError] = Field(
        default_factory=list,
        description="For a 422 of request validation: one entry per rejected value "
        "(absent otherwise).",
    )


UNPARSABLE_BODY = "The request body is not parsable JSON (or not UTF-8)."
INVALID = "Bad parameters (`errors` lists each rejected value)"


def error_responses(codes: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status code, with its description, answered with an
    :class:`ErrorBody`.

    A route that takes parameters must list 422 (and 400 when it takes a body): FastAPI would
    otherwise document its own validation-error body, which this API does not send (see
    :func:`api.app.create_app`).
    """
    return {code: {"model": ErrorBody, "description": codes[code]} for code in sorted(codes)}


class Status(BaseModel):
    status: str = Field(description="'ok' or 'ready'.")
    run: str | None = Field(default=None, description="The run being served, if any.")
    graph: str | None = Field(default=None, description="The graph database answering.")


# -- recommendations ------------------------------------------------------------------------
class PathNode(BaseModel):
    id: str = Field(description="The node's id property.")
    label: str = Field(description="Its label (User, Video, Genre, ...).")
    name: str = Field(description="Its display name (a video's title, 'user 42', ...).")


class PathCypher(BaseModel):
    """A read-only statement that matches exactly the path's nodes and relationships."""

    statement: str = Field(description="Cypher with the graph's own labels and types.")
    params: dict[str, Any] = Field(
        description="Its parameters: k0..kL, the nodes' keys; forward, each relationship's "
        "direction."
    )


class Counterfactual(BaseModel):
    """The item without this path: its edges masked in the model's propagation."""

    base_score: float = Field(description="The item's score with every edge.")
    base_rank: int = Field(description="Its rank with every edge (1 for the best).")
    score: float = Field(description="Its score with the path's edges masked.")
    rank: int = Field(description="Its rank with the path's edges masked.")
    rank_drop: int = Field(description="Places it falls without the path (rank - base_rank).")


class Reason(BaseModel):
    """One knowledge-graph path from the user to the item."""

    path: list[PathNode] = Field(description="Nodes from the user to the item.")
    relations: list[str] = Field(description="Relationship type of each step.")
    forward: list[bool] = Field(
        description="Per step: whether the relationship points from the user's side."
    )
    score: float = Field(description="The model's path weight: the product of its edge weights.")
    rank_score: float = Field(
        description="What the path was ranked by: the model's weight combined with how specific "
        "the linking entities are (the answer's path_ranking)."
    )
    masking_drop: float | None = Field(
        default=None,
        description="What masking this path's edges would cost the item's score, estimated "
        "from the user's and the item's own layer states (the default path ranking shows the "
        "costliest first); null for models without attention encoders.",
    )
    text: str = Field(description="The path as a plain sentence.")
    cypher: PathCypher = Field(description="The statement that shows this path in the graph.")
    counterfactual: Counterfactual | None = Field(
        default=None,
        description="With explain=counterfactual: the item's score and rank without this path "
        "(null past the request's masking budget).",
    )


class Cost(BaseModel):
    """What answering took, in milliseconds."""

    total_ms: float
    explain_ms: float = Field(description="Ranking and path search.")
    counterfactual_ms: float = Field(description="Masking paths (explain=counterfactual).")
    masked_paths: int = Field(description="Paths masked, one propagation each.")


class RecommendedItem(BaseModel):
    item: str = Field(description="The Video's id.")
    name: str = Field(description="Its title (its id when unknown).")
    score: float = Field(description="The model's score.")
    rank: int = Field(description="1 for the best.")
    reasons: list[Reason] = Field(default_factory=list)


class Recommendations(BaseModel):
    user: str
    run: str = Field(description="The run whose model answered.")
    model: str
    path_ranking: str = Field(description="How the reasons were ranked.")
    items: list[RecommendedItem]
    cost: Cost


class Reasons(BaseModel):
    user: str
    item: str
    run: str
    data: list[Reason]
    count: int


# -- graph entities -------------------------------------------------------------------------
class Attribute(BaseModel):
    label: str
    id: str
    relation: str | None = None
    name: str | None = None


class HistoryEntry(BaseModel):
    item: str
    title: str | None = None
    kinds: list[str] = Field(description="Interaction relationship types, sorted.")
    rating: float | None = None
    ts: int | None = Field(default=None, description="Latest interaction, unix seconds.")


class UserProfile(BaseModel):
    id: str
    age: int | None = None
    attributes: list[Attribute]
    history: list[HistoryEntry] = Field(description="Newest first, at most `history` entries.")
    in_run: bool = Field(description="Whether the served model knows this user.")


class Item(BaseModel):
    id: str
    title: str | None = None
    properties: dict[str, Any]
    attributes: list[Attribute]
    users: int = Field(description="Distinct users who interacted with it.")
    in_run: bool = Field(description="Whether the served model knows this item.")


class SimilarEntity(PathNode):
    score: float = Field(description="Cosine similarity of the model's vectors.")


class SimilarEntities(BaseModel):
    entity: PathNode
    run: str
    data: list[SimilarEntity]
    count: int


# -- library queries and runs ---------------------------------------------------------------
class QueryParam(BaseModel):
    name: str
    description: str
    required: bool
    default: Any = None


class QueryInfo(BaseModel):
    name: str
    description: str
    params: list[QueryParam]


class QueryList(BaseModel):
    data: list[QueryInfo]
    count: int


class QueryRequest(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, description="The query's parameters.")
    max_rows: int | None = Field(default=None, ge=1, le=100_000, description="Row cap.")


class QueryAnswer(BaseModel):
    name: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


class RunInfo(BaseModel):
    run: str
    model: str | None = None
    dataset: str | None = None
    seed: int | None = None
    status: str
    epochs: int | None = None
    best_epoch: int | None = None
    test: dict[str, float] = Field(default_factory=dict)
    served: bool = False
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="The graph's own labels of the run's roles: {'user': 'Customer', 'item': "
        "'Movie'} (User and Video in kgrec's own schema), from the run's dataset spec.",
    )


class RunList(BaseModel):
    served: str | None
    data: list[RunInfo]
    count: int
