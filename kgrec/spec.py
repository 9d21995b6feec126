"""Dataset specs: which part of a graph a model trains on, in the graph's own schema.

A spec (one TOML or YAML file) names the user and item labels, the relationship types that are
interactions, the relationships that form the item-side and user-side knowledge graphs, the
node properties that hold feature vectors, and the filters applied at export. The export
(:func:`kg_store.subgraph.export_spec`) turns the chosen subgraph into the one shape every model
reads: the user and item labels become the roles ``User`` and ``Video`` (the graph's own names
travel with the export, :attr:`kg_store.GraphExport.source_labels`), each interaction's weight
becomes ``rating`` and its timestamp ``ts``.

No spec means kgrec's own schema: :func:`default_spec` (``kgrec spec show`` prints it).

Example::

    [user]
    label = "Customer"          # id property: "id" unless `id = "..."`
    [item]
    label = "Movie"
    name = "title"
    [[interactions]]
    type = "WATCHED"
    weight = "rating"           # positive_min = 4 keeps rating >= 4
    timestamp = "ts"
    [kg]
    item = ["IN_GENRE", "DIRECTED_BY"]
    user = ["FRIEND_OF"]
    [filters]
    kcore = 5
    subgraph = "active_users"   # cypher/export/active_users.cypher, or a .cypher file

The ground floor: pydantic and the standard library only.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kgrec.schema import RATED, USER, VIDEO

SPEC_FILE = "spec.toml"
"""A run directory's copy of the spec it was trained with."""
SUBGRAPH_COPY = "subgraph.cypher"
"""A run directory's copy of the query its spec's ``filters.subgraph`` named."""

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SpecError(ValueError):
    """A spec that cannot be read or does not fit the graph; the message names the key."""


def _ident(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError(f"{value!r} is not a plain identifier (letters, digits, underscores)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeRole(_Strict):
    """The user or the item label."""

    label: str = Field(description="node label")
    id: str = Field(default="id", description="property holding the node's key, unique per label")
    name: str | None = Field(default=None, description="property holding a display name")

    _check = field_validator("label", "id", "name")(lambda v: v if v is None else _ident(v))


class Interaction(_Strict):
    """One relationship type from users to items that counts as an interaction."""

    type: str = Field(description="relationship type")
    weight: str | None = Field(
        default=None, description="numeric property (a rating, a play count)"
    )
    positive_min: float | None = Field(
        default=None, description="keep only interactions with weight >= this (needs weight)"
    )
    timestamp: str | None = Field(default=None, description="property holding unix seconds")
    evidence: bool = Field(
        default=True, description="may an explanation cite an interaction of this kind as a reason"
    )
    evidence_min: float | None = Field(
        default=None,
        description="least weight an explanation cites as a reason (default: 80% of the "
        "largest weight, or the user's own mean if higher)",
    )

    _check = field_validator("type", "weight", "timestamp")(lambda v: v if v is None else _ident(v))

    @model_validator(mode="after")
    def _weighted(self) -> Interaction:
        for key in ("positive_min", "evidence_min"):
            if getattr(self, key) is not None and self.weight is None:
                raise ValueError(f"{key} needs a weight property")
        return self


class KG(_Strict):
    """Relationships that form the knowledge graphs around items and users."""

    item: list[str] | None = Field(
        default=None, description="types around items (default: every type without a user endpoint)"
    )
    user: list[str] | None = Field(
        default=None, description="types around users (default: every type from users to non-items)"
    )
    hops: int | None = Field(
        default=None,
        ge=1,
        description="longest KG path kept from an exported user or item (default: no limit)",
    )

    _check = field_validator("item", "user")(lambda v: v if v is None else [_ident(x) for x in v])


class Filters(_Strict):
    """Filters applied at export, in this order: subgraph, rating, time, sample, k-core."""

    subgraph: str | None = Field(
        default=None,
        description="a query returning `user` and/or `item` ids: a name in cypher/export/, "
        "a library query, or a .cypher file",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the query's parameters")
    min_rating: float | None = Field(
        default=None, description="drop weighted interactions below this"
    )
    since: dt.datetime | dt.date | int | None = Field(
        default=None, description="earliest timestamp"
    )
    until: dt.datetime | dt.date | int | None = Field(default=None, description="latest timestamp")
    sample_users: int | None = Field(default=None, ge=1, description="keep N users at random")
    seed: int = Field(default=0, description="seed of the user sample")
    kcore: int | None = Field(
        default=None,
        ge=1,
        description="every kept user and item has at least this many interactions",
    )

    def bound(self, which: str) -> float | None:
        """``since``/``until`` as unix seconds (dates at midnight UTC)."""
        v = getattr(self, which)
        if v is None:
            return None
        if isinstance(v, int):
            return float(v)
        if isinstance(v, dt.datetime):
            return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).timestamp()
        return dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC).timestamp()


class DatasetSpec(_Strict):
    """Which subgraph to train on, in the graph's own labels and types."""

    user: NodeRole = Field(default_factory=lambda: NodeRole(label=USER))
    item: NodeRole = Field(default_factory=lambda: NodeRole(label=VIDEO, name="title"))
    interactions: list[Interaction] | None = Field(
        default=None, description="default: every relationship type from users to items"
    )
    kg: KG = Field(default_factory=KG)
    keys: dict[str, str] = Field(
        default_factory=dict,
        description="label -> its key property, for labels other than user and item (default: id)",
    )
    features: dict[str, str] = Field(
        default_factory=dict,
        description="label -> property holding its nodes' feature vectors (default: every "
        "label's `vector`); the item label's own vectors become one modality per property",
    )
    filters: Filters = Field(default_factory=Filters)

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if self.user.label == self.item.label:
            raise ValueError("user.label and item.label must differ")
        if self.interactions is not None:
            if not self.interactions:
                raise ValueError("interactions: give at least one, or leave the key out")
            types = [i.type for i in self.interactions]
            if len(set(types)) < len(types):
                raise ValueError("interactions: a type is listed twice")
        for table in (self.features, self.keys):
            for label, prop in table.items():
                _ident(label), _ident(prop)
        return self

    def key_of(self, label: str) -> str:
        """The key property of ``label``'s nodes."""
        if label == self.user.label:
            return self.user.id
        if label == self.item.label:
            return self.item.id
        return self.keys.get(label, "id")

    def interaction(self, type_: str) -> Interaction:
        """The settings of one interaction type (defaults for a type the spec does not list)."""
        for i in self.interactions or ():
            if i.type == type_:
                return i
        if type_ == RATED:
            return Interaction(type=RATED, weight="rating", timestamp="ts")
        return Interaction(type=type_, timestamp="ts")

    def is_default(self) -> bool:
        return self == default_spec()

    # -- files ------------------------------------------------------------------------------
    def to_toml(self) -> str:
        """The spec as TOML (unset keys left out), readable back by :func:`load_spec`."""
        import tomli_w

        data = self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        if not data["filters"].get("params"):
            data["filters"].pop("params", None)
        return tomli_w.dumps(data)


def default_spec() -> DatasetSpec:
    """kgrec's own schema (:mod:`kgrec.schema`): ``User`` and ``Video``, every relationship
    type from users to videos an interaction (``RATED`` weighted by ``rating``), every other
    relationship part of a knowledge graph, no filters."""
    return DatasetSpec()


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_spec(data: dict[str, Any], source: str = "spec") -> DatasetSpec:
    """Validate a spec given as a mapping; errors name the key (``interactions[0].weight``)."""
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = _location(tuple(err["loc"])) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"{source}: {key}: {msg}")
        raise SpecError("\n".join(lines)) from None


def load_spec(path: str | Path) -> DatasetSpec:
    """Read a spec from a ``.toml`` (or ``.yaml``/``.yml``) file.

    Raises:
        SpecError: unreadable file, bad syntax (with its line), or an invalid key.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"{p}: cannot read the spec ({e.strerror})") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise SpecError(f"{p}: not valid YAML: {e}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SpecError(f"{p}: not valid TOML: {e}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{p}: a spec is a table of keys, not {type(data).__name__}")
    return parse_spec(data, str(p))


def run_spec(run_dir: str | Path) -> DatasetSpec:
    """The spec a run was trained with (its ``spec.toml``), or the default for older runs."""
    p = Path(run_dir) / SPEC_FILE
    return load_spec(p) if p.is_file() else default_spec()


def save_spec(spec: DatasetSpec, run_dir: str | Path) -> Path:
    p = Path(run_dir) / SPEC_FILE
    p.write_text(spec.to_toml(), encoding="utf-8")
    return p
