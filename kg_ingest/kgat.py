"""KGAT-format loader (Wang et al., "KGAT: Knowledge Graph Attention Network for
Recommendation", KDD 2019; the data layout of its reference code,
github.com/xiangwang1223/knowledge_graph_attention_network).

Files (all space-separated integers, ids already remapped to ``0..n-1``):

* ``train.txt``, ``test.txt``: one line per user, ``user item item ...``; a line with only the
  user is allowed (no interactions in that file). ``train.txt`` is required unless
  ``train1.txt`` and ``valid1.txt`` are both present; ``test.txt`` is optional.
* optional ``valid.txt``, or ``train1.txt`` + ``valid1.txt`` (a split of ``train.txt`` into
  training and validation). With both ``train1.txt`` and ``valid1.txt``, their interactions
  get split ``"train"`` / ``"valid"`` and ``train.txt`` is not read; otherwise ``train.txt``
  is ``"train"`` and ``valid.txt`` (if any) ``"valid"``. ``test.txt`` is ``"test"``. A
  (user, item) pair in several files keeps the later split in the order train, valid, test.
* optional ``kg_final.txt``: ``head relation tail`` per line. Entity ids below ``n_items`` ARE
  the items (Video nodes); the others become ``Entity`` nodes (only those the KG mentions).
* optional ``user_list.txt``, ``item_list.txt``, ``entity_list.txt``, ``relation_list.txt``:
  header ``org_id remap_id [more columns]``. ``org_id`` (and extra columns such as
  ``freebase_id``) become node properties. ``n_items`` is the number of rows of
  ``item_list.txt`` when present, else the largest item id in the interactions plus one.

The graph: ``User {id, org_id?}``, ``Video {id, org_id?, freebase_id?}`` for every item id
``0..n_items-1``, ``(User)-[:INTERACTED {split}]->(Video)``, ``Entity {id, org_id?}`` and one
relationship type per KG relation, ``KG_<name>`` with ``name`` the relation's ``org_id``
reduced to letters, digits and underscores (the part after the last ``/`` of a URL; e.g.
``film.film.genre`` -> ``KG_film_film_genre``), or ``KG_<remap id>`` when there is no name.
Ids are the remapped integers as strings.

Interaction files are parsed in bulk (one ``bytes.split`` per line, ids converted in one pass);
a malformed file is re-scanned only to name the offending line.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest.csvio import Table, read_text, text_lines
from kg_ingest.errors import IngestError
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPLIT_ORDER = {"train": 0, "valid": 1, "test": 2}


def load_kgat(path: Path) -> GraphData:
    """Parse and validate a KGAT-format directory into graph frames (see the module docstring).

    Raises:
        IngestError: a required file is missing, a line is malformed, or an id is out of
            range; the message names the file and line.
    """
    path = Path(path)
    if not path.is_dir():
        raise IngestError(path.name, f"not a directory: {path}")
    sources = _interaction_files(path)

    users_l = _read_list(path / "user_list.txt")
    items_l = _read_list(path / "item_list.txt")
    ents_l = _read_list(path / "entity_list.txt")
    rels_l = _read_list(path / "relation_list.txt")

    parts: list[pd.DataFrame] = []
    tables: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for fname, split in sources:
        user, item, line, column = _read_adjacency(path / fname)
        tables.append((fname, user, item, line, column))
        parts.append(pd.DataFrame({"user": user, "item": item, "rank": _SPLIT_ORDER[split]}))
    n_items = (
        len(items_l)
        if items_l is not None
        else max((int(t[2].max()) + 1 for t in tables if len(t[2])), default=0)
    )
    for fname, user, item, line, column in tables:
        _check_ids(fname, item, line, n_items, "item", "item_list.txt", "item", column)
        if users_l is not None:
            _check_ids(fname, user, line, len(users_l), "user", "user_list.txt", "user", 1)

    inter = pd.concat(parts, ignore_index=True)
    # Later files win (train < valid < test); a stable sort keeps file order within a rank.
    inter = inter.sort_values("rank", kind="stable").drop_duplicates(["user", "item"], keep="last")
    splits = np.asarray(model.SPLITS, dtype=object)

    g = GraphData()
    user_ids = np.unique(np.concatenate([t[1] for t in tables] + [np.zeros(0, np.int64)]))
    if users_l is not None:
        user_ids = np.union1d(user_ids, np.arange(len(users_l)))
    g.nodes.append(NodeSet(model.USER, _nodes(user_ids, users_l)))
    g.nodes.append(NodeSet(model.VIDEO, _nodes(np.arange(n_items), items_l)))
    g.rels.append(
        RelSet(
            model.INTERACTED,
            model.USER,
            model.VIDEO,
            pd.DataFrame(
                {
                    "src": _str(inter["user"].to_numpy()),
                    "dst": _str(inter["item"].to_numpy()),
                    "split": splits[inter["rank"].to_numpy()],
                }
            ),
        )
    )
    if (path / "kg_final.txt").is_file():
        _knowledge(g, path / "kg_final.txt", n_items, ents_l, rels_l)
    return g


def relation_type(org_id: str | None, remap_id: int) -> str:
    """``KG_<name>`` for a relation: ``"film.film.genre"`` -> ``"KG_film_film_genre"``,
    ``"http://rdf.freebase.com/ns/type.object.type"`` -> ``"KG_type_object_type"``, and
    ``KG_<remap_id>`` when the name leaves nothing usable."""
    name = (org_id or "").strip()
    if "://" in name:
        name = re.split(r"[/#]", name.rstrip("/#"))[-1]
    name = _NOT_IDENT.sub("_", name).strip("_")
    return f"{model.KG_PREFIX}{name or remap_id}"


# -- parsing ----------------------------------------------------------------------------------


def _interaction_files(path: Path) -> list[tuple[str, str]]:
    has = {f: (path / f).is_file() for f in ("train.txt", "train1.txt", "valid1.txt")}
    if has["train1.txt"] and has["valid1.txt"]:
        out = [("train1.txt", "train"), ("valid1.txt", "valid")]
    elif has["train.txt"]:
        out = [("train.txt", "train")]
        if (path / "valid.txt").is_file():
            out.append(("valid.txt", "valid"))
    else:
        raise IngestError(
            "train.txt",
            f"required file is missing from {path} (KGAT layout: train.txt and test.txt, "
            "or train1.txt + valid1.txt + test.txt)",
        )
    if (path / "test.txt").is_file():
        out.append(("test.txt", "test"))
    return out


def _field(fields: tuple[str, ...], pos: int) -> str:
    """The name of 0-based field ``pos`` of a line; the last name repeats (``user item ...``)."""
    return fields[min(pos, len(fields) - 1)]


def _int_lines(
    path: Path, fields: tuple[str, ...]
) -> tuple[list[list[bytes]], np.ndarray, np.ndarray]:
    """Tokens of each non-blank line, the 1-based line numbers, and all tokens as int64.

    ``fields`` names the fields of a line in messages (the last name repeats)."""
    try:
        raw = path.read_bytes().splitlines()
    except OSError as e:
        raise IngestError(path.name, f"cannot read: {e.strerror}") from e
    toks: list[list[bytes]] = []
    lines: list[int] = []
    for i, ln in enumerate(raw):
        t = ln.split()
        if t:
            toks.append(t)
            lines.append(i + 1)
    if not toks:
        raise IngestError(path.name, "file has no data lines")
    flat = list(itertools.chain.from_iterable(toks))
    try:
        values = np.fromiter(map(int, flat), dtype=np.int64, count=len(flat))
    except (ValueError, OverflowError) as e:
        for t, n in zip(toks, lines, strict=True):
            for pos, tok in enumerate(t):
                try:
                    np.int64(int(tok))
                except (ValueError, OverflowError) as cause:
                    raise IngestError(
                        path.name,
                        f"{tok.decode(errors='replace')!r} is not an integer id",
                        line=n,
                        field=_field(fields, pos),
                        column=pos + 1,
                    ) from cause
        raise IngestError(path.name, f"cannot parse integers: {e}") from e
    neg = np.flatnonzero(values < 0)
    if len(neg):
        counts = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        ends = np.cumsum(counts)
        row = int(np.searchsorted(ends, neg[0], side="right"))
        pos = int(neg[0] - (ends[row] - counts[row]))
        raise IngestError(
            path.name, f"negative id {values[neg[0]]}", line=lines[row],
            field=_field(fields, pos), column=pos + 1,
        )  # fmt: skip
    return toks, np.asarray(lines, dtype=np.int64), values


def _read_adjacency(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``user item item ...`` lines -> (user, item, line number, item's 1-based column) per
    interaction."""
    toks, lines, values = _int_lines(path, ("user", "item"))
    counts = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    users = values[starts]
    is_item = np.ones(len(values), dtype=bool)
    is_item[starts] = False
    n_items = counts - 1
    column = np.arange(len(values)) - np.repeat(starts, counts) + 1
    return np.repeat(users, n_items), values[is_item], np.repeat(lines, n_items), column[is_item]


def _check_ids(
    fname: str,
    ids: np.ndarray,
    lines: np.ndarray,
    n: int,
    what: str,
    list_file: str,
    field: str,
    column: int | np.ndarray,
) -> None:
    """Every id must be below ``n``; ``column`` is the ids' 1-based column (one for all, or
    one per id)."""
    bad = np.flatnonzero(ids >= n)
    if len(bad):
        k = int(bad[0])
        col = int(column) if np.ndim(column) == 0 else int(np.asarray(column)[k])
        raise IngestError(
            fname,
            f"{what} id {ids[k]} is out of range ({list_file} lists {n} {what}s)",
            line=int(lines[k]),
            field=field,
            column=col,
        )


def _read_list(path: Path) -> Table | None:
    """An ``org_id remap_id [...]`` map, checked to hold remap ids ``0..n-1`` once each.

    When ``remap_id`` is the last column, the org id is everything before it: amazon-book's
    entity_list has names with spaces (``"I Love You 25708``).
    """
    if not path.is_file():
        return None
    rows: list[list[str]] = []
    lines: list[int] = []
    text = text_lines(read_text(path))
    header = text[0].split() if text else []
    if "remap_id" not in header:
        raise IngestError(path.name, f"header must name remap_id (got {header})", line=1)
    n = len(header)
    last = header[-1] == "remap_id"
    for i, ln in enumerate(text[1:], start=2):
        parts = ln.rsplit(None, n - 1) if last else ln.split(None, n - 1)
        if not parts:
            continue
        parts = [p.strip() for p in parts]
        # An org id may be empty (amazon-book's entity_list line 30183 is " 30181"), as
        # may trailing columns (item_list's freebase_id): pad on the side that can be.
        pad = [""] * (n - len(parts))
        rows.append(pad + parts if last else parts + pad)
        lines.append(i)
    t = Table(path.name, pd.DataFrame(rows, columns=header, dtype=object),
              np.asarray(lines, dtype=np.int64))  # fmt: skip
    remap = t.ints("remap_id", 0)
    if not np.array_equal(np.sort(remap), np.arange(len(remap))):
        out = np.flatnonzero(remap >= len(remap))
        if len(out):
            raise t.error(int(out[0]), f"{remap[out[0]]} is out of range: {len(remap)} rows "
                          f"need remap ids 0..{len(remap) - 1}, each once", "remap_id")  # fmt: skip
        t.frame["remap_id"] = remap.astype(str)
        t.check_unique(["remap_id"], "remap_id")
    t.frame = t.frame.assign(remap_id=remap).sort_values("remap_id").reset_index(drop=True)
    return t


def _nodes(ids: np.ndarray, listing: Table | None) -> pd.DataFrame:
    frame = pd.DataFrame({"id": _str(ids)})
    if listing is None:
        return frame
    props = [c for c in listing.frame.columns if c != "remap_id" and _PROPERTY.match(c)]
    table = listing.frame.set_index("remap_id")[props].replace("", None)
    for c in props:
        frame[c] = table[c].reindex(ids).to_numpy()
    return frame


def _str(ids: np.ndarray) -> np.ndarray:
    return ids.astype(str).astype(object)


def _knowledge(
    g: GraphData, path: Path, n_items: int, ents: Table | None, rels: Table | None
) -> None:
    toks, lines, values = _int_lines(path, ("head", "relation", "tail"))
    counts = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    bad = np.flatnonzero(counts != 3)
    if len(bad):
        raise IngestError(
            path.name,
            f"expected 3 space-separated fields (head relation tail), got {counts[bad[0]]}",
            line=int(lines[bad[0]]),
        )
    trip = values.reshape(-1, 3)
    head, rel, tail = trip[:, 0], trip[:, 1], trip[:, 2]
    if ents is not None:
        for col, ids, pos in (("head", head, 1), ("tail", tail, 3)):
            _check_ids(path.name, ids, lines, len(ents), f"{col} entity", "entity_list.txt",
                       col, pos)  # fmt: skip
    names: dict[int, str] = {}
    if rels is not None:
        for rid, org in zip(rels.frame["remap_id"], rels.frame["org_id"], strict=True):
            names[int(rid)] = str(org)
    types: dict[int, str] = {}
    taken: set[str] = set()
    for rid in np.unique(rel).tolist():
        t = relation_type(names.get(rid), rid)
        if t in taken:  # two relation names that sanitise alike stay distinct
            t = f"{t}_{rid}"
        taken.add(t)
        types[rid] = t

    ent_ids = np.unique(np.concatenate([head[head >= n_items], tail[tail >= n_items]]))
    if len(ent_ids):
        g.nodes.append(NodeSet(model.ENTITY, _nodes(ent_ids, ents)))
    h_item = head < n_items
    t_item = tail < n_items
    frame = pd.DataFrame({"rel": rel, "hi": h_item, "ti": t_item, "src": head, "dst": tail})
    label = {True: model.VIDEO, False: model.ENTITY}
    for key, grp in frame.groupby(["rel", "hi", "ti"], sort=True):
        rid, hi, ti = (int(k) for k in key)  # type: ignore[call-overload]
        g.rels.append(
            RelSet(
                types[rid],
                label[bool(hi)],
                label[bool(ti)],
                pd.DataFrame(
                    {"src": _str(grp["src"].to_numpy()), "dst": _str(grp["dst"].to_numpy())}
                ),
            )
        )
