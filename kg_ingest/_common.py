"""Helpers shared by the loaders: ``.npy`` matrices, builders for the node/relationship frames
that every source produces (attribute entities, modality nodes), multi-valued cells and the
text embedded for a video. Reading the text files is :mod:`kg_ingest.csvio`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest.csvio import Table
from kg_ingest.errors import IngestError
from kg_ingest.text import embed_texts
from kg_store.graph_data import NodeSet, RelSet
from kgrec import media
from kgrec import schema as model


def ingest_error(e: media.MediaError) -> IngestError:
    """The loaders' error for a media decoding error: the same file and message. Raise it
    ``from e.__cause__`` to keep the failure behind it."""
    return IngestError(e.file, e.detail)


def load_npy(path: Path, name: str | None = None) -> np.ndarray:
    """A NumPy ``.npy`` array (never pickled objects); other files raise :class:`IngestError`
    (the checks of :func:`kgrec.media.load_npy`).

    Args:
        path: the file.
        name: how messages name it (default: the file name).
    """
    try:
        return media.load_npy(path, name)
    except media.MediaError as e:
        raise ingest_error(e) from e.__cause__


# -- frame builders ---------------------------------------------------------------------------


def id_strings(values: Iterable[object]) -> pd.Series:
    return pd.Series([str(v) for v in values], dtype=object)


def entity_set(label: str, names: Iterable[str]) -> NodeSet:
    """Attribute entities keyed by their readable name (also stored as ``name``)."""
    uniq = list(dict.fromkeys(n for n in names if n))
    return NodeSet(label, pd.DataFrame({"id": uniq, "name": uniq}, dtype=object))


def link_set(
    rel: str,
    src_label: str,
    dst_label: str,
    src: Iterable[object],
    dst: Iterable[object],
    **props: object,
) -> RelSet:
    """Relationships ``src[i] -> dst[i]`` with property columns ``props`` (row-aligned)."""
    frame = pd.DataFrame({"src": list(src), "dst": list(dst), **props})
    return RelSet(rel, src_label, dst_label, frame)


def textual(video_ids: Sequence[str], texts: Sequence[str]) -> tuple[NodeSet, RelSet]:
    """Textual modality nodes (``id`` = video id, ``vector``, ``text``) and HAS_TEXTUAL links.

    ``vector`` holds a plain list of floats (``embed_texts``, default 384 wide).
    """
    vecs = embed_texts(list(texts))
    return modality(model.TEXTUAL, video_ids, vecs, texts=texts)


def modality(
    label: str,
    video_ids: Sequence[str],
    vectors: np.ndarray,
    texts: Sequence[str] | None = None,
) -> tuple[NodeSet, RelSet]:
    """Modality nodes for one label (row i of ``vectors`` belongs to ``video_ids[i]``)."""
    ids = list(video_ids)
    frame = pd.DataFrame({"id": ids})
    frame["vector"] = [row.astype(np.float64).tolist() for row in vectors]
    if texts is not None:
        frame["text"] = list(texts)
    rels = link_set(model.HAS_MODALITY[label], model.VIDEO, label, ids, ids)
    return NodeSet(label, frame), rels


def normalise_tag(tag: str) -> str:
    """Tags compare case-insensitively with runs of whitespace folded: ``" Dark  Comedy"`` ->
    ``"dark comedy"``."""
    return " ".join(str(tag).lower().split())


def split_multi(values: pd.Series, sep: str = "|") -> list[list[str]]:
    """Split multi-valued cells; empty parts are dropped."""
    return [[p.strip() for p in str(v).split(sep) if p.strip()] for v in values]


def explode_links(
    video_ids: Sequence[str], values: Sequence[Sequence[str]]
) -> tuple[list[str], list[str]]:
    src: list[str] = []
    dst: list[str] = []
    for vid, vals in zip(video_ids, values, strict=True):
        for v in dict.fromkeys(vals):  # a value repeated in one cell links once
            src.append(vid)
            dst.append(v)
    return src, dst


def multi_values(t: Table, col: str, tag: bool = False) -> list[list[str]]:
    """The ``|``-separated values of column ``col`` per row (no values where the table has no
    such column); tags (``tag``) normalised by :func:`normalise_tag`, empty ones dropped."""
    if col not in t.frame.columns:
        return [[] for _ in range(len(t))]
    vals = split_multi(t.frame[col])
    if tag:
        vals = [[n for n in (normalise_tag(v) for v in vs) if n] for vs in vals]
    return vals


def video_texts(vt: Table) -> list[str]:
    """:func:`video_text` of every row of a micro-video ``videos.csv`` table (its ``title``,
    ``genre`` and ``tags`` columns)."""
    return [
        video_text(t, gs, ts)
        for t, gs, ts in zip(
            vt.frame["title"],
            multi_values(vt, "genre"),
            multi_values(vt, "tags", tag=True),
            strict=True,
        )
    ]


def video_text(title: str, genres: list[str], tags: list[str]) -> str:
    """The text embedded for a micro-video: ``"<title>. Genres: a, b. Tags: c."``."""
    parts = [str(title).strip()]
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    return ". ".join(parts) + "."
