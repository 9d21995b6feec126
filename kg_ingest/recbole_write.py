"""Writing a graph export as RecBole atomic files (the format :mod:`kg_ingest.recbole` reads).

:func:`write_recbole` writes ``<name>.<suffix>`` files, tab-separated, each with a header of
RecBole's ``field:type`` entries (``token``, ``token_seq``, ``float``, ``float_seq``), values
quoted by :mod:`csv` only where they hold a tab, newline or quote. The users are the export's
``User`` nodes and the items its ``Video`` nodes (the role labels of
:class:`~kg_store.GraphExport`). Exactly these fields:

* ``<name>.inter``: ``user_id:token item_id:token``, then ``rating:float`` when an
  interaction type has ``rating``, ``timestamp:float`` when one has ``ts``, and
  ``interaction:token`` (the relationship type) when users reach items by more than one type;
  a value the type has not is empty. Rows sorted by user, then timestamp, then item.
* ``<name>.user``: ``user_id:token``, ``name:token`` (the display names given), the node
  properties given (strings ``token``, numbers and booleans ``float``, number lists
  ``float_seq``, string lists ``token_seq``; a property whose field is taken is left out), one
  ``<label>:token_seq`` per label users link to other than users and items (``Occupation`` ->
  ``occupation``, ``AgeGroup`` -> ``age_group``; the linked nodes' ids, spaces written as
  ``_`` because RecBole splits a sequence at spaces) and ``vector:float_seq`` for user
  feature vectors.
* ``<name>.item``: ``item_id:token``, ``title:token`` (the display names given), the node
  properties given (typed as in ``.user``), one
  ``<label>:token_seq`` per attribute label items link to (``genre``, ``tag``, ...), and
  ``vector:float_seq`` / ``visual:float_seq`` / ``acoustic:float_seq`` / ``textual:float_seq``
  for the items' own and their modality nodes' feature vectors.
* ``<name>.kg``: ``head_id:token relation_id:token tail_id:token``, every relationship among
  non-user nodes except modality links and ``SIMILAR_*`` scores; an entity is written
  ``<Label>:<id>`` (``Genre:Comedy``, ``Video:42``), the relation is the relationship type
  (without the ``KG_`` prefix of KG relations, which the reader adds back).
* ``<name>.link``: ``item_id:token entity_id:token`` for the items in ``.kg``.
* ``<name>.net``: ``source_id:token target_id:token`` for user-to-user relationships.

``.kg``, ``.link`` and ``.net`` are left out when they would have no rows.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kg_store.export import GraphExport
from kgrec import schema as model

_SKIP_KG = ("SIMILAR_",)


def field_name(label: str) -> str:
    """A label as a RecBole field: ``AgeGroup`` -> ``age_group``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", label).lower()


def entity_token(label: str, key: str) -> str:
    return f"{label}:{key}"


def write_recbole(
    export: GraphExport,
    directory: str | Path,
    name: str,
    names: Mapping[str, Mapping[str, str]] | None = None,
    properties: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, int]:
    """Write ``export`` as RecBole atomic files ``<directory>/<name>.*`` (see the module
    docstring for the exact fields).

    Args:
        export: the graph as arrays; its ``User`` and ``Video`` nodes are users and items.
        directory: created if missing.
        name: the dataset name RecBole is given (``dataset: NAME``).
        names: per label, display names by node key (a title, a name), written as
            ``title:token`` / ``name:token`` (default: none).
        properties: per label (``User``, ``Video``), a frame of node properties with an
            ``id`` column, as :func:`kg_store.dump.node_pages` gives (default: none).

    Returns:
        rows written per file name.

    Raises:
        ValueError: the export has no ``User`` or ``Video`` nodes, or no interactions.
    """
    d = Path(directory)
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"dataset name {name!r}: use letters, digits, '.', '-' and '_'")
    for label in (model.USER, model.VIDEO):
        if not export.num_nodes(label):
            raise ValueError(f"the export has no {label} nodes: nothing to write as RecBole "
                             "users and items")  # fmt: skip
    d.mkdir(parents=True, exist_ok=True)
    names = names or {}
    properties = properties or {}
    written = {f"{name}.inter": _write(d / f"{name}.inter", *_inter(export))}
    for label, key, title in ((model.USER, "user_id", "name"), (model.VIDEO, "item_id", "title")):
        header, rows = _features(
            export, label, key, title, names.get(label, {}), properties.get(label)
        )
        suffix = "user" if label == model.USER else "item"  # every one, interactions or not
        written[f"{name}.{suffix}"] = _write(d / f"{name}.{suffix}", header, rows)
    kg, link = _knowledge(export)
    if kg:
        written[f"{name}.kg"] = _write(
            d / f"{name}.kg", ["head_id:token", "relation_id:token", "tail_id:token"], kg
        )
        written[f"{name}.link"] = _write(
            d / f"{name}.link", ["item_id:token", "entity_id:token"], link
        )
    net = _net(export)
    if net:
        written[f"{name}.net"] = _write(
            d / f"{name}.net", ["source_id:token", "target_id:token"], net
        )
    return written


def _write(path: Path, header: list[str], rows: list[list[str]]) -> int:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return len(rows)


def _num(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    f = float(v)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def _inter(export: GraphExport) -> tuple[list[str], list[list[str]]]:
    users, items = export.ids[model.USER], export.ids[model.VIDEO]
    keys = [k for k in export.types() if k[0] == model.USER and k[2] == model.VIDEO]
    if not keys:
        raise ValueError("the export has no User -> Video relationships: nothing to write as "
                         "RecBole interactions")  # fmt: skip
    parts = []
    for key in keys:
        f = export.edges[key]
        part = pd.DataFrame({"user": users[f["src"].to_numpy()], "item": items[f["dst"].to_numpy()],
                             "type": key[1]})  # fmt: skip
        for c, out in (("rating", "rating"), ("ts", "timestamp")):
            if c in f.columns:
                part[out] = pd.to_numeric(f[c], errors="coerce").to_numpy()
        parts.append(part)
    inter = pd.concat(parts, ignore_index=True)
    sort = ["user", "timestamp", "item"] if "timestamp" in inter.columns else ["user", "item"]
    inter = inter.sort_values(sort, kind="stable", na_position="first")
    header = ["user_id:token", "item_id:token"]
    cols: list[list[str]] = [inter["user"].astype(str).tolist(), inter["item"].astype(str).tolist()]
    for c in ("rating", "timestamp"):
        if c in inter.columns:
            header.append(f"{c}:float")
            cols.append([_num(v) for v in inter[c].tolist()])
    if len(keys) > 1:
        header.append("interaction:token")
        cols.append(inter["type"].tolist())
    return header, [list(r) for r in zip(*cols, strict=True)]


def _features(
    export: GraphExport,
    label: str,
    key: str,
    title: str,
    names: Mapping[str, str],
    props: pd.DataFrame | None,
) -> tuple[list[str], list[list[str]]]:
    """The ``.user`` / ``.item`` fields: the key, the display name, the node properties whose
    names no other field takes, the attribute lists, the feature vectors."""
    ids = export.ids[label]
    first: dict[str, tuple[str, list[str]]] = {key: ("token", [str(k) for k in ids])}
    if names:
        first[title] = ("token", [str(names.get(str(k), "")) for k in ids])
    graph: dict[str, tuple[str, list[str]]] = {}
    skip = {model.USER, model.VIDEO, model.ENTITY, *model.MODALITIES}
    for src, rel, dst in export.types():
        if src != label or dst in skip or rel.startswith(_SKIP_KG):
            continue
        f = export.edges[(src, rel, dst)]
        targets = export.ids[dst]
        seqs: list[list[str]] = [[] for _ in range(len(ids))]
        for s, t in zip(f["src"].to_numpy(), f["dst"].to_numpy(), strict=True):
            seqs[int(s)].append(str(targets[int(t)]).replace(" ", "_"))
        name = field_name(dst)  # a second type to the same label: <label>_<type>
        name = f"{name}_{rel.lower()}" if name in graph or name in first else name
        graph[name] = ("token_seq", [" ".join(dict.fromkeys(x)) for x in seqs])
    own = [(label, "vector")]
    if label == model.VIDEO:
        own += [(m, m.lower()) for m in model.MODALITIES]
    for flabel, fname in own:
        if flabel in export.features and fname not in graph:
            mat = export.features[flabel]
            pos = export.ids[flabel].get_indexer(ids)
            vecs = [" ".join(repr(float(x)) for x in mat[p]) if p >= 0 else "" for p in pos]
            graph[fname] = ("float_seq", vecs)
    given: dict[str, tuple[str, list[str]]] = {}
    if props is not None and len(props):
        by_id = props.assign(id=props["id"].astype(str)).drop_duplicates("id").set_index("id")
        for c in sorted(set(by_id.columns) - set(first) - set(graph)):
            values = by_id[c].astype(object).reindex(pd.Index(ids).astype(str)).tolist()
            ftype = _field_type(values)
            if ftype is not None:
                given[c] = (ftype, [_field(v, ftype) for v in values])
    fields = {**first, **given, **graph}
    header = [f"{n}:{t}" for n, (t, _) in fields.items()]
    return header, [list(r) for r in zip(*(c for _, c in fields.values()), strict=True)]


def _field_type(values: list[object]) -> str | None:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not vals:
        return None
    if all(isinstance(v, list | tuple | np.ndarray) for v in vals):
        elems = [x for v in vals for x in v]  # type: ignore[attr-defined]
        numeric = all(isinstance(x, int | float | np.number) for x in elems)
        return "float_seq" if numeric and elems else "token_seq"
    if all(isinstance(v, int | float | bool | np.number | np.bool_) for v in vals):
        return "float"
    return "token"


def _field(v: object, ftype: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if ftype == "float_seq":
        return " ".join(repr(float(x)) for x in v)  # type: ignore[attr-defined]
    if ftype == "token_seq":
        seq = v if isinstance(v, list | tuple | np.ndarray) else [v]
        return " ".join(str(x).replace(" ", "_") for x in seq)
    if ftype == "float":
        return _num(float(v))  # type: ignore[arg-type]
    return str(v)


def _knowledge(export: GraphExport) -> tuple[list[list[str]], list[list[str]]]:
    kg: list[list[str]] = []
    linked: set[int] = set()
    for src, rel, dst in export.types():
        if model.USER in (src, dst) or src in model.MODALITIES or dst in model.MODALITIES:
            continue
        if rel.startswith(_SKIP_KG):
            continue
        f = export.edges[(src, rel, dst)]
        s_ids, d_ids = export.ids[src], export.ids[dst]
        relation = rel.removeprefix(model.KG_PREFIX) or rel
        for s, t in zip(f["src"].to_numpy(), f["dst"].to_numpy(), strict=True):
            kg.append(
                [entity_token(src, str(s_ids[s])), relation, entity_token(dst, str(d_ids[t]))]
            )
            if src == model.VIDEO:
                linked.add(int(s))
            if dst == model.VIDEO:
                linked.add(int(t))
    items = export.ids[model.VIDEO]
    link = [[str(items[i]), entity_token(model.VIDEO, str(items[i]))] for i in sorted(linked)]
    return kg, link


def _net(export: GraphExport) -> list[list[str]]:
    users = export.ids[model.USER]
    rows: list[list[str]] = []
    for src, rel, dst in export.types():
        if src == dst == model.USER:
            f = export.edges[(src, rel, dst)]
            pairs = zip(f["src"].to_numpy(), f["dst"].to_numpy(), strict=True)
            rows += [[str(users[s]), str(users[t])] for s, t in pairs]
    return rows
