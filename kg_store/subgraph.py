"""Exports chosen by a dataset spec (:mod:`kgrec.spec`): a graph in its own schema, the part of
it a spec selects, as the :class:`GraphExport` every model reads.

The steps, all through named read statements (``cypher/store/spec_*.cypher``, the same on
FalkorDB and Neo4j):

1. **Check the spec against the graph** before anything is exported: the labels, the
   relationship types (and that each interaction goes from the user label to the item label),
   key properties present on every node, weight properties present on every interaction.
2. **Users and items**: every node's key, a page at a time (keyset paging on the key), then
   the ids returned by the spec's ``filters.subgraph`` query (read-only) when it has one.
3. **Interactions** of the kept users, a page of users per statement; then the filters:
   ``positive_min``, ``min_rating``, ``since``/``until``, ``sample_users``, ``kcore``.
4. **Knowledge graphs**: breadth-first from the kept items (and users) over the KG types, one
   page of frontier nodes per statement, at most ``kg.hops`` hops. Users and items outside the
   kept sets are never reached through the KG.
5. **Features** of the kept nodes, and the roles: the user label becomes ``User``, the item label
   ``Video`` (``source_labels`` records the graph's names), an interaction's weight ``rating``
   and its timestamp ``ts``.

Every query holds at most one page of rows, so memory grows with the export, not the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kg_store.errors import StoreError
from kg_store.export import EdgeKey, GraphExport
from kg_store.subgraph_filters import apply_filters, role_columns, slots, subgraph_statement
from kgrec.schema import USER, VIDEO
from kgrec.spec import DatasetSpec, SpecError

if TYPE_CHECKING:
    from kg_store.base import GraphStore

PAGE = 5_000
"""Node keys per statement (a page of keys, or of frontier nodes whose edges are fetched)."""
Progress = Callable[[str, int, int], None]
Keys = dict[str, pd.Index]  # label -> kept node keys (str)


def export_spec(
    store: GraphStore, spec: DatasetSpec, progress: Progress | None = None, page: int = PAGE
) -> GraphExport:
    """The subgraph ``spec`` selects, as a :class:`GraphExport` in the roles' labels.

    Raises:
        SpecError: the spec does not fit the graph, or its filters leave nothing; the message
            names the spec key.
    """
    ex = _Exporter(store, spec, progress, page)
    return ex.run()


class _Exporter:
    def __init__(
        self, store: GraphStore, spec: DatasetSpec, progress: Progress | None, page: int
    ) -> None:
        self.store, self.spec, self.progress, self.page = store, spec, progress, page
        self.ul, self.il = spec.user.label, spec.item.label
        # label -> key as text -> the key as the graph holds it, where that is not text
        self.raw: dict[str, dict[str, Any]] = {}

    # -- 1. the spec against the graph ------------------------------------------------------
    def check(self) -> tuple[list[tuple[int, EdgeKey]], list[EdgeKey], list[EdgeKey]]:
        spec, ul, il = self.spec, self.ul, self.il
        labels = set(self.store.labels())
        for key, label in (("user.label", ul), ("item.label", il)):
            if label not in labels:
                raise SpecError(
                    f"{key}: the graph has no nodes labelled {label!r}; "
                    f"its labels: {', '.join(sorted(labels)) or 'none'}"
                )
        for role, name in ((USER, il), (VIDEO, ul)):
            if role in labels and role not in (ul, il):
                raise SpecError(
                    f"{'item' if role == VIDEO else 'user'}.label: the graph also has a label "
                    f"{role!r}, the name kgrec gives the {name!r} role: rename that label"
                )
        triples = sorted(tuple(map(str, r)) for r in self.store.run("store/edge_types").rows)
        edge_keys = [(s, t, d) for s, t, d in triples]
        types = {t for _, t, _ in edge_keys}
        between = [k for k in edge_keys if k[0] == ul and k[2] == il]
        if spec.interactions is None:
            inter = list(enumerate(between))
            if not inter:
                raise SpecError(
                    f"interactions: no relationship goes from {ul} to {il} nodes; name the "
                    "interaction types with [[interactions]]"
                )
        else:
            inter = []
            for i, it in enumerate(spec.interactions):
                found = [k for k in between if k[1] == it.type]
                if not found:
                    where = sorted({f"{s}->{d}" for s, t, d in edge_keys if t == it.type})
                    raise SpecError(
                        f"interactions[{i}].type: no {it.type!r} relationship from {ul} to "
                        f"{il}" + (f" (it goes {', '.join(where)})" if where else
                                   f"; types from {ul} to {il}: "
                                   f"{', '.join(sorted({k[1] for k in between})) or 'none'}")
                    )  # fmt: skip
                inter += [(i, k) for k in found]
        # relationships between users and items are interactions or nothing
        rest = [k for k in edge_keys if {k[0], k[2]} != {ul, il}]
        item_side = [k for k in rest if ul not in (k[0], k[2])]
        user_side = [k for k in rest if ul in (k[0], k[2])]
        for side, pool, given in (("item", item_side, spec.kg.item), ("user", user_side,
                                                                      spec.kg.user)):  # fmt: skip
            if given is None:
                continue
            for j, t in enumerate(given):
                if t not in types:
                    raise SpecError(f"kg.{side}[{j}]: the graph has no relationship type {t!r}")
                if not any(k[1] == t for k in pool):
                    what = "items" if side == "item" else "users"
                    raise SpecError(f"kg.{side}[{j}]: {t!r} does not link {what} to other nodes")
        kg_item = [k for k in item_side if spec.kg.item is None or k[1] in spec.kg.item]
        kg_user = [k for k in user_side if spec.kg.user is None or k[1] in spec.kg.user]
        for label in sorted({lab for k in kg_item + kg_user for lab in (k[0], k[2])} | {ul, il}):
            self._check_key(label)
        for i, k in inter:
            it = spec.interaction(k[1])
            for prop, key in ((it.weight, "weight"), (it.timestamp, "timestamp")):
                # kgrec's own schema: RATED's rating and every ts are optional properties
                if prop is None or (spec.interactions is None and prop in ("rating", "ts")):
                    continue
                self._check_prop(k, prop, f"interactions[{i}].{key}")
            if it.timestamp is None and (spec.filters.since or spec.filters.until):
                raise SpecError(
                    f"filters.since/until: interactions[{i}] ({k[1]}) has no timestamp property"
                )
        return inter, kg_item, kg_user

    def _check_key(self, label: str) -> None:
        key = self.spec.key_of(label)
        row = self.store.run("store/spec_missing_key", label=label, key=key).rows[0]
        missing, total = int(row[0] or 0), int(row[1] or 0)
        if missing:
            where = ("user.id" if label == self.ul else "item.id" if label == self.il
                     else f"keys.{label}")  # fmt: skip
            raise SpecError(
                f"{where}: {missing} of {total} {label} nodes have no {key!r} property"
                + (
                    ""
                    if label in (self.ul, self.il)
                    else f' (name its key with [keys] {label} = "...")'
                )  # fmt: skip
            )

    def _check_prop(self, k: EdgeKey, prop: str, where: str) -> None:
        row = self.store.run(
            "store/spec_missing_prop", src=k[0], type=k[1], dst=k[2], prop=prop
        ).rows[0]
        missing, total = int(row[0] or 0), int(row[1] or 0)
        if missing:
            raise SpecError(
                f"{where}: {missing} of {total} {k[1]} relationships have no {prop!r} property"
            )

    # -- 2. users and items -----------------------------------------------------------------
    def node_keys(self, label: str) -> pd.Index:
        key, out, after = self.spec.key_of(label), [], None
        while True:
            rows = self.store.run(
                "store/spec_keys", {"after": after, "page": self.page}, label=label, key=key
            ).rows
            out += [r[0] for r in rows]
            if len(rows) < self.page:
                break
            after = rows[-1][0]
        self._remember(label, out)
        idx = pd.Index([str(v) for v in out], name=label)
        if not idx.is_unique:
            dup = idx[idx.duplicated()][0]
            raise SpecError(
                f"{'user.id' if label == self.ul else 'item.id' if label == self.il else 'keys'}"
                f": {label} nodes share the key {key}={dup!r}; keys must be unique per label"
            )
        return idx

    def subgraph(self, users: pd.Index, items: pd.Index) -> tuple[pd.Index, pd.Index]:
        f = self.spec.filters
        if not f.subgraph:
            return users, items
        st = subgraph_statement(f.subgraph, self.store)
        try:
            params = st.bind(dict(f.params))
        except ValueError as e:
            raise SpecError(f"filters.params: {e}") from None
        try:
            res = self.store.read_only(st.render(**slots(self.spec)), params,
                                       max_rows=50_000_000, timeout=600.0)  # fmt: skip
        except StoreError as e:
            raise SpecError(f"filters.subgraph: {f.subgraph}: {e}") from None
        cols = [c for c in res.columns if c in ("user", "item")]
        if not cols:
            raise SpecError(
                f"filters.subgraph: {f.subgraph} returns {res.columns}; it must return a "
                "`user` and/or an `item` column of node keys"
            )
        out = {"user": users, "item": items}
        for c in cols:
            j = res.columns.index(c)
            got = pd.Index(sorted({str(r[j]) for r in res.rows if r[j] is not None}))
            known = out[c]
            unknown = got.difference(known)
            if len(unknown):
                raise SpecError(
                    f"filters.subgraph: {f.subgraph} returned {len(unknown)} {c} keys that are "
                    f"not {c} nodes, e.g. {unknown[0]!r}"
                )
            out[c] = got.rename(known.name)
        return out["user"], out["item"]

    # -- edges, a page of endpoint keys at a time -------------------------------------------
    def edges(self, k: EdgeKey, keys: pd.Index, side: str) -> pd.DataFrame:
        """Relationships ``k`` with their source (``side="src"``) or target among ``keys``."""
        slots_ = dict(src=k[0], type=k[1], dst=k[2], src_key=self.spec.key_of(k[0]),
                      dst_key=self.spec.key_of(k[2]))  # fmt: skip
        name = "store/spec_edges_from" if side == "src" else "store/spec_edges_to"
        frames = []
        values = self._raw_keys(k[0] if side == "src" else k[2], keys)
        for lo in range(0, len(values), self.page):
            rows = self.store.run(name, {"keys": values[lo : lo + self.page]}, **slots_).rows
            if rows:
                self._remember(k[0], [r[0] for r in rows])
                self._remember(k[2], [r[1] for r in rows])
                f = pd.DataFrame({"src": [str(r[0]) for r in rows],
                                  "dst": [str(r[1]) for r in rows]})  # fmt: skip
                props = pd.DataFrame([r[2] or {} for r in rows], index=f.index)
                frames.append(pd.concat([f, props], axis=1))
        if not frames:
            return pd.DataFrame({"src": pd.Series([], dtype=str), "dst": pd.Series([], dtype=str)})
        return pd.concat(frames, ignore_index=True)

    def _remember(self, label: str, values: list[Any]) -> None:
        typed = {str(v): v for v in values if not isinstance(v, str)}
        if typed:
            self.raw.setdefault(label, {}).update(typed)

    def _raw_keys(self, label: str, keys: pd.Index) -> list[Any]:
        """Keys as the graph holds them (an integer key property stays an integer)."""
        raw = self.raw.get(label)
        return [raw.get(str(v), v) for v in keys] if raw else [str(v) for v in keys]

    def run(self) -> GraphExport:
        inter, kg_item, kg_user = self.check()
        self._tick("export users and items", 0, 3)
        users, items = self.node_keys(self.ul), self.node_keys(self.il)
        users, items = self.subgraph(users, items)
        self._tick("export interactions", 1, 3)
        frames = self.interactions(inter, users, items)
        users, items, frames = apply_filters(self.spec, users, items, frames)
        self._tick("export knowledge graphs", 2, 3)
        keys: Keys = {self.ul: users, self.il: items}
        kg: dict[EdgeKey, pd.DataFrame] = {}
        for start, types in ((self.il, kg_item), (self.ul, kg_user)):
            kg.update(self.expand(start, types, keys))
        self._tick("export features", 3, 3)
        return self.assemble(keys, frames, kg)

    def interactions(
        self, inter: list[tuple[int, EdgeKey]], users: pd.Index, items: pd.Index
    ) -> dict[EdgeKey, pd.DataFrame]:
        out = {}
        for _, k in inter:
            f = self.edges(k, users, "src")
            f = f[f["dst"].isin(items)]
            it = self.spec.interaction(k[1])
            if it.weight and it.weight in f.columns:
                f = f.assign(**{it.weight: pd.to_numeric(f[it.weight], errors="coerce")})
            out[k] = f.reset_index(drop=True)
        return out

    def expand(self, start: str, types: list[EdgeKey], keys: Keys) -> dict[EdgeKey, pd.DataFrame]:
        """Breadth-first over ``types`` from the kept ``start`` nodes; adds reached labels to
        ``keys`` (never users or items beyond the kept ones)."""
        roles = {self.ul, self.il}
        reached: dict[str, set[str]] = {lab: set(map(str, keys[lab])) for lab in keys}
        frontier: dict[str, pd.Index] = {start: keys[start]}
        found: dict[EdgeKey, list[pd.DataFrame]] = {}
        hop = 0
        while frontier and (self.spec.kg.hops is None or hop < self.spec.kg.hops):
            hop += 1
            new: dict[str, set[str]] = {}
            for k in types:
                for side, label, other in (("src", k[0], k[2]), ("dst", k[2], k[0])):
                    if label not in frontier or not len(frontier[label]):
                        continue
                    f = self.edges(k, frontier[label], side)
                    far = f["dst" if side == "src" else "src"]
                    if other in roles:  # stay inside the kept users and items
                        f = f[far.isin(reached.get(other, set()))]
                        far = far.loc[f.index]
                    found.setdefault(k, []).append(f)
                    fresh = set(far) - reached.get(other, set())
                    if fresh:
                        new.setdefault(other, set()).update(fresh)
            for label, ks in new.items():
                reached.setdefault(label, set()).update(ks)
            frontier = {lab: pd.Index(sorted(ks), name=lab) for lab, ks in new.items()}
        out = {}
        for k, fs in found.items():
            f = pd.concat(fs, ignore_index=True).drop_duplicates(["src", "dst"])
            f = f[f["src"].isin(reached.get(k[0], set())) & f["dst"].isin(reached.get(k[2], set()))]
            out[k] = f.reset_index(drop=True)
        for label, ks in reached.items():
            if label not in roles:
                keys[label] = pd.Index(sorted(ks), name=label)
        return out

    def assemble(
        self, keys: Keys, inter: dict[EdgeKey, pd.DataFrame], kg: dict[EdgeKey, pd.DataFrame]
    ) -> GraphExport:
        role = {self.ul: USER, self.il: VIDEO}

        def name(label: str) -> str:
            return role.get(label, label)

        out = GraphExport(source_labels={USER: self.ul, VIDEO: self.il})
        out.source_labels = {r: s for r, s in out.source_labels.items() if r != s}
        for label, ks in keys.items():
            out.ids[name(label)] = pd.Index(sorted(map(str, ks)), name=name(label))
        for k, f in [*inter.items(), *kg.items()]:
            src = out.ids[name(k[0])].get_indexer(pd.Index(f["src"]))
            dst = out.ids[name(k[2])].get_indexer(pd.Index(f["dst"]))
            keep = (src >= 0) & (dst >= 0)
            frame = pd.DataFrame({"src": src[keep].astype(np.int64),
                                  "dst": dst[keep].astype(np.int64)})  # fmt: skip
            props = f.loc[keep, [c for c in f.columns if c not in ("src", "dst")]]
            if k in inter:
                props = role_columns(props, self.spec.interaction(k[1]))
            for c in props.columns:
                frame[c] = props[c].to_numpy()
            out.edges[(name(k[0]), k[1], name(k[2]))] = frame.sort_values(
                ["src", "dst"], ignore_index=True
            )
        self.features(keys, out, name)
        return out

    def features(self, keys: Keys, out: GraphExport, name: Callable[[str], str]) -> None:
        spec = self.spec
        for label, ks in keys.items():
            prop = spec.features.get(label, None if spec.features else "vector")
            if prop is None or not len(ks):
                continue
            vecs = self.vectors(label, ks, prop)
            if not vecs:
                continue
            dim = len(next(iter(vecs.values())))
            mat = np.zeros((len(ks), dim), np.float32)
            pos = out.ids[name(label)].get_indexer(pd.Index(list(vecs)))
            mat[pos] = np.asarray(list(vecs.values()), np.float32)
            if label == self.il and spec.features:  # the item's own vector: one modality
                mod = "".join(p.capitalize() for p in prop.split("_"))
                have = list(out.ids[VIDEO][np.flatnonzero(mat.any(axis=1))])
                out.ids[mod] = pd.Index(sorted(have), name=mod)
                out.features[mod] = mat[out.ids[VIDEO].get_indexer(out.ids[mod])]
                idx = np.arange(len(have), dtype=np.int64)
                out.edges[(VIDEO, f"HAS_{mod.upper()}", mod)] = pd.DataFrame(
                    {"src": out.ids[VIDEO].get_indexer(out.ids[mod]).astype(np.int64), "dst": idx}
                ).sort_values(["src", "dst"], ignore_index=True)
            else:
                out.features[name(label)] = mat

    def vectors(self, label: str, ks: pd.Index, prop: str) -> dict[str, list[float]]:
        got: dict[str, list[float]] = {}
        values = self._raw_keys(label, ks)
        for lo in range(0, len(values), self.page):
            chunk = {"keys": values[lo : lo + self.page]}
            key = self.spec.key_of(label)
            rows = self.store.run("store/spec_vectors", chunk, label=label, key=key, prop=prop).rows
            got.update({str(r[0]): list(r[1]) for r in rows})
        return got

    def names(self, label: str, keys: list[str], prop: str) -> list[list[Any]]:
        typed = self._typed_keys(label, keys)
        slots_ = {"label": label, "key": self.spec.key_of(label), "prop": prop}
        return self.store.run("store/spec_names", {"keys": typed}, **slots_).rows

    def _typed_keys(self, label: str, keys: list[str]) -> list[Any]:
        """Text keys back as the graph holds them: integers where the key property is one."""
        if label not in self.raw:
            sample = self.store.run("store/spec_keys", {"after": None, "page": 1}, label=label,
                                    key=self.spec.key_of(label)).rows  # fmt: skip
            if sample and not isinstance(sample[0][0], str):
                self._remember(label, [int(k) for k in keys if k.lstrip("-").isdigit()])
        return self._raw_keys(label, pd.Index(keys))

    def _tick(self, stage: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(stage, done, total)
