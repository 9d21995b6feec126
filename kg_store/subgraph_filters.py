"""The filters of a dataset spec's export, and its subgraph query (see :mod:`kg_store.subgraph`).

Plain pandas over interaction frames whose ``src``/``dst`` are node keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kg_store import library
from kg_store.errors import UnknownQuery
from kg_store.export import EdgeKey
from kgrec.spec import DatasetSpec, SpecError

if TYPE_CHECKING:
    from kg_store.base import GraphStore

EXPORT_QUERIES = "export"
"""Folder of ``cypher/`` holding the library's subgraph queries."""


def role_columns(props: pd.DataFrame, it: Any) -> pd.DataFrame:
    """An interaction's weight as ``rating`` and its timestamp as ``ts``."""
    ren = {}
    if it.weight and it.weight != "rating" and it.weight in props.columns:
        props = props.drop(columns=[c for c in ("rating",) if c in props.columns])
        ren[it.weight] = "rating"
    if it.timestamp and it.timestamp != "ts" and it.timestamp in props.columns:
        props = props.drop(columns=[c for c in ("ts",) if c in props.columns])
        ren[it.timestamp] = "ts"
    return props.rename(columns=ren)


def apply_filters(
    spec: DatasetSpec, users: pd.Index, items: pd.Index, frames: dict[EdgeKey, pd.DataFrame]
) -> tuple[pd.Index, pd.Index, dict[EdgeKey, pd.DataFrame]]:
    """The spec's interaction filters, in order: weights, time window, user sample, k-core."""
    f = spec.filters
    out = {}
    for k, fr in frames.items():
        it = spec.interaction(k[1])
        if it.weight and it.weight in fr.columns:
            w = fr[it.weight]
            for bound in (it.positive_min, f.min_rating):
                if bound is not None:
                    fr = fr[w.loc[fr.index] >= bound]
        if it.timestamp and it.timestamp in fr.columns:
            ts = pd.to_numeric(fr[it.timestamp], errors="coerce")
            lo, hi = f.bound("since"), f.bound("until")
            if lo is not None:
                fr = fr[ts.loc[fr.index] >= lo]
            if hi is not None:
                fr = fr[ts.loc[fr.index] <= hi]
        out[k] = fr
    if f.sample_users is not None:
        active = pd.Index(sorted(set().union(*(set(fr["src"]) for fr in out.values()))))
        if f.sample_users < len(active):
            rng = np.random.default_rng(f.seed)
            active = active[np.sort(rng.choice(len(active), f.sample_users, replace=False))]
        users = users.intersection(active).rename(users.name)
        out = {k: fr[fr["src"].isin(users)] for k, fr in out.items()}
    if f.kcore is not None:
        users, items, out = kcore(users, items, out, f.kcore)
        if not len(users) or not len(items):
            raise SpecError(
                f"filters.kcore: no user and item keep {f.kcore} interactions each; "
                "lower kcore or widen the other filters"
            )
    total = sum(len(fr) for fr in out.values())
    if not total:
        raise SpecError("filters: no interaction is left after the filters")
    return users, items, {k: fr.reset_index(drop=True) for k, fr in out.items()}


def kcore(
    users: pd.Index, items: pd.Index, frames: dict[EdgeKey, pd.DataFrame], k: int
) -> tuple[pd.Index, pd.Index, dict[EdgeKey, pd.DataFrame]]:
    """Drop users and items with fewer than ``k`` distinct interacted partners, until none is
    left to drop."""
    pairs = pd.concat([fr[["src", "dst"]] for fr in frames.values()]).drop_duplicates()
    while True:
        du, di = pairs["src"].value_counts(), pairs["dst"].value_counts()
        ok_u, ok_i = du.index[du >= k], di.index[di >= k]
        keep = pairs["src"].isin(ok_u) & pairs["dst"].isin(ok_i)
        if bool(keep.all()):
            break
        pairs = pairs[keep]
    users, items = users[users.isin(pairs["src"])], items[items.isin(pairs["dst"])]
    out = {key: fr[fr["src"].isin(users) & fr["dst"].isin(items)] for key, fr in frames.items()}
    return users, items, out


def slots(spec: DatasetSpec) -> dict[str, str]:
    """What a subgraph query's ``{{slots}}`` are filled with: the spec's labels and keys."""
    ts = next((i.timestamp for i in spec.interactions or () if i.timestamp), "ts")
    return {"user": spec.user.label, "item": spec.item.label, "user_id": spec.user.id,
            "item_id": spec.item.id, "timestamp": ts}  # fmt: skip


def subgraph_statement(ref: str, store: GraphStore) -> library.Statement:
    """The statement a spec's ``filters.subgraph`` names: a ``.cypher`` file, a query of
    ``cypher/export/``, or an analysts' library query (in the store's dialect)."""
    if ref.endswith(".cypher") or "/" in ref or "\\" in ref:
        path = Path(ref)
        if not path.is_file():
            raise SpecError(f"filters.subgraph: no file {ref}")
        try:
            return library.parse_file(path)
        except (OSError, ValueError) as e:
            raise SpecError(f"filters.subgraph: {e}") from None
    for name in (f"{EXPORT_QUERIES}/{ref}", ref):
        try:
            return store.statement(name)
        except UnknownQuery:
            continue
    known = ", ".join(export_query_names())
    raise SpecError(f"filters.subgraph: no query named {ref!r}; in cypher/export/: {known}")


def export_query_names() -> list[str]:
    return sorted(p.stem for p in (library.CYPHER_DIR / EXPORT_QUERIES).glob("*.cypher"))
