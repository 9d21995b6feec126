"""Micro-video loader: a layout this project defines for short-video platforms (the kind of data
behind MMGCN/MMKGAT: fine-grained interactions plus per-video visual, acoustic and textual
features). The full description, with an example, is ``docs/microvideo_format.md``.

Directory layout (CSV files are UTF-8 with a header row, quoted as in RFC 4180 and read
strictly: a quote inside a quoted field is doubled, every row has the header's number of
fields; ids are strings):

* ``interactions.csv`` (required): ``user,video,kind[,ts][,split]``. ``kind`` is one of
  ``click like finish share comment follow`` (case-insensitive) and becomes the relationship
  type ``CLICKED LIKED FINISHED SHARED COMMENTED FOLLOWED``. ``ts``: unix seconds (integer,
  may be empty). ``split``: ``train``/``valid``/``test`` (may be empty). Repeated
  (user, video, kind) events collapse into one relationship with ``count`` = number of events
  and the ``ts``/``split`` of the last one in file order.
* ``videos.csv`` (required): ``video,title`` plus optional columns. ``genre`` -> ``Genre`` +
  ``HAS_GENRE``; ``tags`` -> ``Tag`` (case and whitespace folded) + ``HAS_TAG {count: 1}``;
  ``creator`` -> ``Person`` + ``CREATED_BY``; each may hold several values separated by ``|``.
  ``year`` (integer) -> ``Video.year`` + ``Decade``/``RELEASED_IN``. Any other column (its
  name a plain identifier) is stored as a string property of the Video.
* ``users.csv`` (optional): ``user`` plus optional ``age`` (integer -> ``User.age`` +
  ``AgeGroup``), ``gender`` -> ``Gender``, ``occupation`` -> ``Occupation``; other columns
  become string properties. When present, every interaction's user must be listed; when
  absent, users are taken from ``interactions.csv``.
* ``visual.npy``, ``acoustic.npy``, ``textual.npy`` (each optional): a 2-D float matrix,
  shape ``(n_videos, dim)``. Row ``i`` belongs to the video on line ``i + 1`` of
  ``video_ids.txt`` if that file exists (one id per line; a subset of ``videos.csv`` is
  allowed), else to the ``i``-th data row of ``videos.csv``. Each gives nodes ``Visual`` /
  ``Acoustic`` / ``Textual`` ``{id: video id, vector}`` + ``HAS_VISUAL`` / ``HAS_ACOUSTIC`` /
  ``HAS_TEXTUAL``. Without ``textual.npy``, Textual nodes embed the title, genres and tags
  with :func:`kg_ingest.text.embed_texts` (``embed=False`` turns that off).

Validation raises :class:`~kg_ingest.errors.IngestError`: missing columns, unknown kinds or
splits (file + line + field), unknown users/videos, bad integers, a matrix whose row count
differs from the video count (names the ``.npy`` file and both counts), a ``.npy`` name on a
file that is no NumPy array file (or holds pickled objects), NaN or infinite features (names
the file, row and video).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest._common import (
    entity_set,
    explode_links,
    link_set,
    load_npy,
    modality,
    multi_values,
    textual,
    video_texts,
)
from kg_ingest.csvio import Table, read_csv, read_text, require_file, text_lines
from kg_ingest.errors import IngestError
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

KINDS = dict(
    zip(
        ("click", "like", "finish", "share", "comment", "follow"),
        model.INTERACTION_KINDS,
        strict=True,
    )
)
"""``kind`` values of ``interactions.csv`` and the relationship type each becomes."""

MODALITY_FILES = {model.VISUAL: "visual.npy", model.ACOUSTIC: "acoustic.npy",
                  model.TEXTUAL: "textual.npy"}  # fmt: skip

_LAYOUT = "micro-video layout: interactions.csv, videos.csv (see docs/microvideo_format.md)"
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VIDEO_ATTRS = ("genre", "tags", "creator", "year")
_USER_ATTRS = ("age", "gender", "occupation")


def load_microvideo(path: Path, *, embed: bool = True) -> GraphData:
    """Parse and validate a micro-video directory into graph frames (see the module docstring).

    Args:
        path: the directory.
        embed: when there is no ``textual.npy``, embed titles for Textual nodes (default: True).

    Raises:
        IngestError: a file is missing or malformed; the message names file, line and field.
    """
    path = Path(path)
    vt = read_csv(require_file(path / "videos.csv", _LAYOUT), ["video", "title"])
    it = read_csv(require_file(path / "interactions.csv", _LAYOUT), ["user", "video", "kind"])

    g = GraphData()
    videos = _videos(g, vt)
    known_videos = pd.Index(videos)

    users: pd.Index | None = None
    if (path / "users.csv").is_file():
        users = _users(g, read_csv(path / "users.csv", ["user"]))
    _interactions(g, it, known_videos, users)

    have_text = False
    for label, fname in MODALITY_FILES.items():
        if (path / fname).is_file():
            rows = _row_ids(path, vt, known_videos)
            nodes, rels = modality(label, rows, _matrix(path / fname, rows, rows_from(path)))
            g.nodes.append(nodes)
            g.rels.append(rels)
            have_text |= label == model.TEXTUAL
    if embed and not have_text:
        texts = video_texts(vt)
        nodes, rels = textual(videos, texts)
        g.nodes.append(nodes)
        g.rels.append(rels)
    return g


def rows_from(path: Path) -> str:
    """Which file gives the row order of the ``.npy`` matrices in ``path``."""
    return "video_ids.txt" if (path / "video_ids.txt").is_file() else "videos.csv"


# -- parts ------------------------------------------------------------------------------------


def _videos(g: GraphData, vt: Table) -> list[str]:
    ids = vt.require("video")
    vt.frame["video"] = ids
    vt.check_unique(["video"], "video id")
    vid = ids.tolist()
    frame = pd.DataFrame({"id": vid, "title": vt.frame["title"].str.strip()})
    if "year" in vt.frame.columns:
        year = _optional_ints(vt, "year")
        frame["year"] = year
        dated = year.notna().to_numpy()
        if dated.any():
            decades = [model.decade(int(y)) for y in year[dated]]
            g.rels.append(
                link_set(model.RELEASED_IN, model.VIDEO, model.DECADE, frame["id"][dated], decades)
            )
            g.nodes.append(entity_set(model.DECADE, decades))
    for col in vt.frame.columns:
        if col in ("video", "title", *_VIDEO_ATTRS):
            continue
        frame[_property(vt, col)] = vt.frame[col].str.strip().replace("", None)
    g.nodes.append(NodeSet(model.VIDEO, frame))
    for col, label, rel in (
        ("genre", model.GENRE, model.HAS_GENRE),
        ("tags", model.TAG, model.HAS_TAG),
        ("creator", model.PERSON, model.CREATED_BY),
    ):
        if col not in vt.frame.columns:
            continue
        src, dst = explode_links(vid, multi_values(vt, col, tag=col == "tags"))
        g.nodes.append(entity_set(label, dst))
        props = {"count": np.ones(len(src), dtype=np.int64)} if rel == model.HAS_TAG else {}
        g.rels.append(link_set(rel, model.VIDEO, label, src, dst, **props))
    return vid


def _users(g: GraphData, ut: Table) -> pd.Index:
    ids = ut.require("user")
    ut.frame["user"] = ids
    ut.check_unique(["user"], "user id")
    frame = pd.DataFrame({"id": ids})
    if "age" in ut.frame.columns:
        age = _optional_ints(ut, "age", 0, 150)
        frame["age"] = age
        known = age.notna().to_numpy()
        groups = [model.age_group(int(a)) for a in age[known]]
        g.nodes.append(entity_set(model.AGE_GROUP, groups))
        g.rels.append(link_set(model.IN_AGE_GROUP, model.USER, model.AGE_GROUP, ids[known], groups))
    for col, label, rel in (
        ("gender", model.GENDER, model.HAS_GENDER),
        ("occupation", model.OCCUPATION, model.HAS_OCCUPATION),
    ):
        if col in ut.frame.columns:
            vals = ut.frame[col].str.strip()
            known = (vals != "").to_numpy()
            g.nodes.append(entity_set(label, vals[known]))
            g.rels.append(link_set(rel, model.USER, label, ids[known], vals[known]))
    for col in ut.frame.columns:
        if col not in ("user", *_USER_ATTRS):
            frame[_property(ut, col)] = ut.frame[col].str.strip().replace("", None)
    g.nodes.append(NodeSet(model.USER, frame))
    return pd.Index(ids)


def _interactions(g: GraphData, it: Table, videos: pd.Index, users: pd.Index | None) -> None:
    user = it.require("user")
    video = it.require("video")
    kind = it.require("kind").str.lower()
    bad = np.flatnonzero(~kind.isin(list(KINDS)).to_numpy())
    if len(bad):
        raise it.error(
            int(bad[0]), f"unknown kind {kind.iloc[bad[0]]!r} (expected {', '.join(KINDS)})", "kind"
        )
    it.check_refs("video", video, videos, "video (not in videos.csv)")
    if users is not None:
        it.check_refs("user", user, users, "user (not in users.csv)")
    else:
        uniq = pd.unique(user.to_numpy())
        g.nodes.append(NodeSet(model.USER, pd.DataFrame({"id": uniq})))
    events = pd.DataFrame({"src": user, "dst": video, "kind": kind})
    if "ts" in it.frame.columns:
        events["ts"] = _optional_ints(it, "ts", 0)
    if "split" in it.frame.columns:
        split = it.frame["split"].str.strip().str.lower()
        bad = np.flatnonzero(~split.isin(["", *model.SPLITS]).to_numpy())
        if len(bad):
            raise it.error(
                int(bad[0]), f"unknown split {split.iloc[bad[0]]!r} (expected train, valid, test)",
                "split",
            )  # fmt: skip
        events["split"] = split.replace("", None)
    keys = ["src", "dst", "kind"]
    events["count"] = events.groupby(keys, sort=False)["src"].transform("size").astype(np.int64)
    events = events.drop_duplicates(keys, keep="last")
    for k, rel in KINDS.items():
        sub = events[events["kind"] == k].drop(columns="kind").reset_index(drop=True)
        if len(sub):
            g.rels.append(RelSet(rel, model.USER, model.VIDEO, sub))


def _row_ids(path: Path, vt: Table, videos: pd.Index) -> list[str]:
    if not (path / "video_ids.txt").is_file():
        return vt.frame["video"].tolist()
    lines = text_lines(read_text(path / "video_ids.txt"))
    ids: list[str] = []
    seen: dict[str, int] = {}
    for i, ln in enumerate(lines, start=1):
        vid = ln.strip()
        if not vid:
            continue
        if vid not in videos:
            raise IngestError("video_ids.txt", f"unknown video {vid!r} (not in videos.csv)", line=i)
        if vid in seen:
            raise IngestError(
                "video_ids.txt", f"duplicate video {vid!r} (first at line {seen[vid]})", line=i
            )
        seen[vid] = i
        ids.append(vid)
    return ids


def _matrix(path: Path, rows: list[str], order: str) -> np.ndarray:
    m = load_npy(path)
    if m.ndim != 2:
        raise IngestError(path.name, f"expected a 2-D matrix (videos x dim), got shape {m.shape}")
    if not np.issubdtype(m.dtype, np.number) or np.iscomplexobj(m):
        raise IngestError(path.name, f"expected real numbers, got dtype {m.dtype}")
    if m.shape[0] != len(rows):
        raise IngestError(path.name, f"has {m.shape[0]} rows but {order} lists {len(rows)} videos")
    m = m.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(m).all(axis=1))
    if len(bad):
        r = int(bad[0])
        raise IngestError(
            path.name, f"row {r} (video {rows[r]!r}) holds NaN or infinite values"
            f" ({len(bad)} bad row(s) in all)",
        )  # fmt: skip
    return m


def _optional_ints(t: Table, col: str, lo: int | None = None, hi: int | None = None) -> pd.Series:
    """An integer column whose empty cells mean unknown (nullable ``Int64``)."""
    s = t.frame[col].str.strip()
    present = (s != "").to_numpy()
    out = pd.Series(pd.NA, index=t.frame.index, dtype="Int64")
    if present.any():
        out[present] = t.subset(present).ints(col, lo, hi)
    return out


def _property(t: Table, col: str) -> str:
    if not _PROPERTY.match(col) or col == "id":
        raise IngestError(
            t.file, "a column name must be a property name (letters, digits, _; not id)",
            line=1, field=col,
        )  # fmt: skip
    return col
