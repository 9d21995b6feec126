"""RecBole atomic files (Zhao et al., "RecBole: Towards a Unified, Comprehensive and Efficient
Framework for Recommendation Algorithms", CIKM 2021; recbole.io/docs, "Atomic Files").

A folder holds one dataset ``<name>.*`` (``--dataset-name``; default: the folder's name, or
the one ``*.inter`` there). Every file is tab-separated with a header row of
``field:type`` entries, ``type`` one of ``token`` (a string), ``token_seq`` (strings
separated by single spaces), ``float`` and ``float_seq`` (numbers separated by spaces); a
value may be empty (missing). Files and the fields this loader reads:

* ``<name>.inter`` (required): ``user_id:token``, ``item_id:token``, optional
  ``rating:float`` and ``timestamp:float``; other fields become relationship properties.
* ``<name>.user``, ``<name>.item`` (optional): ``user_id:token`` / ``item_id:token`` and
  feature fields. When present, they list every user / item: an id the other files use that
  is not listed is an error.
* ``<name>.kg`` (optional): ``head_id:token relation_id:token tail_id:token``.
* ``<name>.link`` (optional): ``item_id:token entity_id:token``, which item is which entity
  of the KG (one entity per item, one item per entity).
* ``<name>.net`` (optional, social): ``source_id:token target_id:token`` between users.

The graph (ids are the tokens as written; see :mod:`kgrec.schema`):

* ``User {id, ...}``, ``Video {id, ...}`` (the RecBole item is what is recommended);
  ``(User)-[:RATED {rating, ts?}]->(Video)`` when the ``.inter`` has a ``rating`` field, else
  ``INTERACTED {ts?}``; ``ts`` is ``timestamp`` (an integer when every value is whole). A
  repeated (user, item) pair keeps its latest interaction (by ``timestamp``, else the last
  line).
* ``.user`` / ``.item`` fields: ``token`` -> a string property, ``float`` -> a float
  property, ``float_seq`` -> a list-of-floats property of the same name (a field named
  ``vector`` is the node's feature vector in exports); ``token_seq`` -> attribute entities
  labelled after the field, singular and CamelCase (``genre``/``genres`` -> ``Genre`` linked
  by ``HAS_GENRE``, ``tags`` -> ``Tag``/``HAS_TAG``, ``sub_category`` -> ``SubCategory``),
  except text fields (the name contains ``title``, ``name``, ``text``, ``review``,
  ``description``, ``summary`` or ``comment``, as ``movie_title:token_seq`` in RecBole's own
  ML-1M), which become one string property, their tokens joined by spaces.
* ``.kg``: ``Entity {id}`` nodes and one relationship type per relation,
  ``KG_<relation id reduced to letters, digits and _>`` (as the KGAT loader names them). An
  entity linked to an item by ``.link`` is that ``Video`` node: the item takes its relations.
* ``.net``: ``(User)-[:FRIEND_OF]->(User)``; other fields become its properties.

Errors name the file, line and field (:class:`~kg_ingest.errors.IngestError`). The writer,
:func:`write_recbole`, is :mod:`kg_ingest.recbole_write`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from kg_ingest.csvio import Table, read_records
from kg_ingest.errors import IngestError
from kg_ingest.kgat import relation_type
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
SUFFIXES = ("inter", "user", "item", "kg", "link", "net")
FRIEND_OF = "FRIEND_OF"  # (User)-[:FRIEND_OF]->(User), from a .net file
SEQ_SEP = " "
_TEXT_FIELD = re.compile(r"title|name|text|review|description|summary|comment")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Atomic:
    """One atomic file: its rows as strings (columns named by field) and each field's type."""

    table: Table
    types: dict[str, str]

    @property
    def file(self) -> str:
        return self.table.file

    def need(self, field: str, ftype: str = "token") -> None:
        if self.types.get(field) != ftype:
            got = f" (it is {field}:{self.types[field]})" if field in self.types else ""
            raise IngestError(
                self.file, f"the header needs the field {field}:{ftype}{got}", line=1,
                field=field,
            )  # fmt: skip

    def values(self, field: str) -> pd.Series:
        """Field ``field`` as Python values (None where empty): see :func:`field_values`."""
        return field_values(self.table, field, self.types[field])


def parse_header(file: str, header: list[str], line: int = 1) -> dict[str, str]:
    """``field:type`` entries -> {field: type}; anything else names the entry."""
    types: dict[str, str] = {}
    for entry in header:
        name, sep, ftype = entry.strip().rpartition(":")
        if not sep or not name:
            raise IngestError(file, "a header entry must read name:type (e.g. item_id:token)",
                              line=line, field=entry)  # fmt: skip
        if ftype not in FIELD_TYPES:
            raise IngestError(
                file, f"unknown field type {ftype!r}; RecBole's are {', '.join(FIELD_TYPES)}",
                line=line, field=entry,
            )  # fmt: skip
        if name in types:
            raise IngestError(file, f"field {name!r} appears twice in the header", line=line,
                              field=entry)  # fmt: skip
        types[name] = ftype
    return types


def read_atomic(path: Path) -> Atomic:
    """Parse one atomic file (tab-separated, typed header) into strings per field."""
    header, hline, records, lines = read_records(path, "\t")
    if not header:
        raise IngestError(path.name, "file is empty (expected a header of field:type entries)")
    types = parse_header(path.name, header, hline)
    return Atomic(Table(path.name, records.set_axis(list(types), axis=1), lines), types)


def field_values(t: Table, field: str, ftype: str) -> pd.Series:
    """A field's values by type: ``token`` a str, ``float`` a float, ``token_seq`` a list of
    str, ``float_seq`` a list of floats; None where the value is empty."""
    raw = t.frame[field].astype(str)
    empty = (raw.str.strip() == "").to_numpy()
    if ftype == "token":  # whole columns at once: an .inter may have millions of rows
        return raw.astype(object).where(~empty, None)
    if ftype == "float":
        nums = pd.to_numeric(raw.str.strip().where(~empty, None), errors="coerce")
        bad = np.flatnonzero(~np.isfinite(nums.to_numpy(np.float64)) & ~empty)
        if len(bad):
            raise t.error(int(bad[0]), f"{raw.iloc[bad[0]].strip()!r} is not a finite number "
                          "(float)", field)  # fmt: skip
        return nums.astype(object).where(~empty, None)
    out: list[object] = []
    for pos, v in enumerate(raw.tolist()):
        if empty[pos]:
            out.append(None)
        elif ftype == "token_seq":
            out.append([p for p in v.split(SEQ_SEP) if p])
        else:
            parts = v.split()
            seq = pd.to_numeric(pd.Series(parts), errors="coerce").to_numpy(np.float64)
            if not np.isfinite(seq).all():
                word = parts[int(np.flatnonzero(~np.isfinite(seq))[0])]
                raise t.error(pos, f"{word!r} is not a finite number ({ftype})", field)
            out.append(seq.tolist())
    return pd.Series(out, index=raw.index, dtype=object)


def entity_label(field: str) -> str:
    """The label of a ``token_seq`` field's values: singular CamelCase (``genres`` ->
    ``Genre``, ``sub_categories`` -> ``SubCategory``, ``class`` -> ``Class``)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", field) if w]
    if not words:
        return ""
    last = words[-1]
    if last.lower().endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.lower().endswith("s") and not last.lower().endswith("ss") and len(last) > 3:
        last = last[:-1]
    words[-1] = last
    return "".join(w[:1].upper() + w[1:] for w in words)


def has_type(label: str) -> str:
    """``HAS_<LABEL>`` in upper snake case: ``SubCategory`` -> ``HAS_SUB_CATEGORY``."""
    return "HAS_" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", label).upper()


# -- the loader -------------------------------------------------------------------------------


def find_dataset(path: Path, given: str | None = None) -> str:
    """Which ``<name>.inter`` of the folder to read (see the module docstring)."""
    if given:
        if not (path / f"{given}.inter").is_file():
            raise IngestError(f"{given}.inter", f"required file is missing from {path}")
        return given
    if (path / f"{path.resolve().name}.inter").is_file():
        return path.resolve().name
    found = sorted(p.name[: -len(".inter")] for p in path.glob("*.inter"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise IngestError(path.name, f"no RecBole atomic files (<name>.inter) in {path}")
    raise IngestError(path.name, f"several datasets in {path} ({', '.join(found)}); choose one "
                      "with --dataset-name")  # fmt: skip


def load_recbole(path: Path, dataset_name: str | None = None) -> GraphData:
    """Parse and validate RecBole atomic files into graph frames (see the module docstring).

    Args:
        path: the folder.
        dataset_name: the files' name (``ml-1m`` for ``ml-1m.inter``); default: the folder's.

    Raises:
        IngestError: a file is missing or malformed; the message names file, line and field.
    """
    path = Path(path)
    if not path.is_dir():
        raise IngestError(path.name, f"not a directory: {path}")
    name = find_dataset(path, dataset_name)
    files = {s: read_atomic(path / f"{name}.{s}") for s in SUFFIXES
             if (path / f"{name}.{s}").is_file()}  # fmt: skip
    inter = files["inter"]
    inter.need("user_id")
    inter.need("item_id")
    g = GraphData(dataset=f"recbole:{name}")
    users = _nodes(g, files.get("user"), "user_id", model.USER)
    items = _nodes(g, files.get("item"), "item_id", model.VIDEO)
    u = inter.table.require("user_id")
    i = inter.table.require("item_id")
    used_users, user_refs = [u], [(inter, "user_id")]
    net = files.get("net")
    if net is not None:
        for field in ("source_id", "target_id"):
            net.need(field)
            used_users.append(net.table.require(field))
            user_refs.append((net, field))
    used_items, item_refs = [i], [(inter, "item_id")]
    link = files.get("link")
    if link is not None:
        link.need("item_id")
        link.need("entity_id")
        used_items.append(link.table.require("item_id"))
        item_refs.append((link, "item_id"))
    _known(g, users, model.USER, "user", files.get("user"), used_users, user_refs)
    _known(g, items, model.VIDEO, "item", files.get("item"), used_items, item_refs)
    _interactions(g, inter, u, i)
    if net is not None:
        g.rels.append(_links(net, FRIEND_OF, model.USER, model.USER, "source_id", "target_id"))
    if "kg" in files:
        _knowledge(g, files["kg"], link)
    return g


def _nodes(g: GraphData, f: Atomic | None, key: str, label: str) -> pd.Index | None:
    """Nodes of a ``.user`` / ``.item`` file with their features; their ids."""
    if f is None:
        return None
    f.need(key)
    ids = f.table.require(key)
    f.table.check_unique([key], key.removesuffix("_id"))
    frame = pd.DataFrame({"id": ids.astype(str).to_numpy()})
    taken = {model.USER, model.VIDEO, model.ENTITY}
    for field, ftype in f.types.items():
        if field == key:
            continue
        if not _PROPERTY.match(field) or field in ("id", "src", "dst"):
            raise IngestError(f.file, "a feature's name must be letters, digits and _ (and "
                              "not id)", line=1, field=f"{field}:{ftype}")  # fmt: skip
        vals = f.values(field)
        if ftype != "token_seq":
            frame[field] = vals.to_numpy()
        elif _TEXT_FIELD.search(field.lower()):
            frame[field] = [None if v is None else SEQ_SEP.join(v) for v in vals]
        else:
            ent = entity_label(field)
            if not ent or ent in taken:
                raise IngestError(f.file, f"a token_seq field names its entities' label; "
                                  f"{field!r} gives {ent or 'none'!r}, which is taken or empty",
                                  line=1, field=f"{field}:{ftype}")  # fmt: skip
            taken.add(ent)
            dst = [v for vs in vals for v in dict.fromkeys(vs or [])]
            src = [k for k, vs in zip(frame["id"], vals, strict=True)
                   for _ in dict.fromkeys(vs or [])]  # fmt: skip
            uniq = list(dict.fromkeys(dst))
            g.nodes.append(NodeSet(ent, pd.DataFrame({"id": uniq, "name": uniq}, dtype=object)))
            g.rels.append(RelSet(has_type(ent), label, ent,
                                 pd.DataFrame({"src": src, "dst": dst}, dtype=object)))  # fmt: skip
    g.nodes.append(NodeSet(label, frame))
    return pd.Index(frame["id"])


def _known(
    g: GraphData,
    listed: pd.Index | None,
    label: str,
    what: str,
    listing: Atomic | None,
    used: list[pd.Series],
    refs: list[tuple[Atomic, str]],
) -> pd.Index:
    """The ids of a label: the listing file's (every reference checked against it), else all
    the ids the other files use (their nodes added without properties)."""
    if listed is not None and listing is not None:
        for f, field in refs:
            f.table.check_refs(field, f.table.frame[field].str.strip(), listed,
                               f"{what} (not in {listing.file})")  # fmt: skip
        return listed
    ids = pd.Index(pd.unique(pd.concat(used, ignore_index=True).to_numpy()))
    g.nodes.append(NodeSet(label, pd.DataFrame({"id": ids.to_numpy()}, dtype=object)))
    return ids


def _props(f: Atomic, skip: tuple[str, ...]) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for field, ftype in f.types.items():
        if field in skip:
            continue
        if not _PROPERTY.match(field) or field in ("src", "dst"):
            raise IngestError(f.file, "a field's name must be letters, digits and _ (and not "
                              "src or dst)", line=1, field=f"{field}:{ftype}")  # fmt: skip
        vals = f.values(field)
        if ftype == "token_seq":
            vals = pd.Series([None if v is None else SEQ_SEP.join(v) for v in vals],
                             dtype=object)  # fmt: skip
        out[field] = vals.reset_index(drop=True)
    return out


def _interactions(g: GraphData, inter: Atomic, u: pd.Series, i: pd.Series) -> None:
    rated = inter.types.get("rating") == "float"
    frame = pd.DataFrame({"src": u.to_numpy(), "dst": i.to_numpy()})
    props = _props(inter, ("user_id", "item_id"))
    if rated:
        rating = props.pop("rating")
        if rating.isna().any():
            raise inter.table.error(int(np.flatnonzero(rating.isna().to_numpy())[0]),
                                    "value is missing", "rating")  # fmt: skip
        frame["rating"] = rating.astype(np.float64).to_numpy()
    if inter.types.get("timestamp") == "float":
        ts = props.pop("timestamp").astype(np.float64).to_numpy()
        known = ts[~np.isnan(ts)]
        if not bool((known == np.floor(known)).all()):
            frame["ts"] = ts
        elif len(known) == len(ts):
            frame["ts"] = ts.astype(np.int64)
        else:
            frame["ts"] = pd.Series([None if np.isnan(x) else int(x) for x in ts], dtype=object)
        frame = frame.iloc[np.argsort(np.nan_to_num(ts, nan=-np.inf), kind="stable")]
    for k, v in props.items():
        frame[k] = v.reindex(frame.index).to_numpy()
    rel = model.RATED if rated else model.INTERACTED
    g.rels.append(RelSet(rel, model.USER, model.VIDEO, frame.reset_index(drop=True)))


def _links(f: Atomic, rel: str, src_label: str, dst_label: str, s: str, d: str) -> RelSet:
    frame = pd.DataFrame({"src": f.table.require(s).to_numpy(),
                          "dst": f.table.require(d).to_numpy()})  # fmt: skip
    for k, v in _props(f, (s, d)).items():
        frame[k] = v.to_numpy()
    return RelSet(rel, src_label, dst_label, frame)


def _knowledge(g: GraphData, kg: Atomic, link: Atomic | None) -> None:
    for field in ("head_id", "relation_id", "tail_id"):
        kg.need(field)
    item_of: dict[str, str] = {}
    if link is not None:
        link.table.check_unique(["item_id"], "item")
        link.table.check_unique(["entity_id"], "entity")
        ents = link.table.require("entity_id")
        item_of = dict(zip(ents, link.table.frame["item_id"].str.strip(), strict=True))
    head = kg.table.require("head_id")
    rel = kg.table.require("relation_id")
    tail = kg.table.require("tail_id")
    props = _props(kg, ("head_id", "relation_id", "tail_id"))
    nodes, rels = knowledge(head, rel, tail, item_of, props)
    g.nodes += nodes
    g.rels += rels


def knowledge(
    head: pd.Series,
    rel: pd.Series,
    tail: pd.Series,
    item_of: Mapping[str, str],
    props: Mapping[str, pd.Series] | None = None,
) -> tuple[list[NodeSet], list[RelSet]]:
    """KG triples (row-aligned string columns) as ``Entity`` nodes and one relationship type
    per relation (``KG_<relation>``, see :func:`kg_ingest.kgat.relation_type`); an entity in
    ``item_of`` is that item's ``Video`` node. ``props``: relationship properties."""
    props = props or {}
    types: dict[str, str] = {}
    for k, r in enumerate(pd.unique(rel.to_numpy())):
        t = relation_type(str(r), k)
        if t in types.values():  # two relation ids that sanitise alike stay distinct
            t = f"{t}_{k}"
        types[str(r)] = t
    h_item = head.isin(list(item_of)).to_numpy()
    t_item = tail.isin(list(item_of)).to_numpy()
    ent = pd.unique(np.concatenate([head[~h_item].to_numpy(), tail[~t_item].to_numpy()]))
    nodes = [NodeSet(model.ENTITY, pd.DataFrame({"id": ent}, dtype=object))] if len(ent) else []
    frame = pd.DataFrame({
        "rel": rel.map(types).to_numpy(), "hi": h_item, "ti": t_item,
        "src": [item_of.get(h, h) for h in head], "dst": [item_of.get(t, t) for t in tail],
        **{k: v.to_numpy() for k, v in props.items()},
    })  # fmt: skip
    label = {True: model.VIDEO, False: model.ENTITY}
    rels = []
    for key, grp in frame.groupby(["rel", "hi", "ti"], sort=True):
        rtype, hi, ti = cast("tuple[str, bool, bool]", key)
        cols = ["src", "dst", *props]
        rels.append(RelSet(str(rtype), label[bool(hi)], label[bool(ti)],
                           grp[cols].reset_index(drop=True)))  # fmt: skip
    return nodes, rels
