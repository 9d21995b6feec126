"""MovieLens loader: ML-100K, ML-1M and ML-latest(-small), detected from the files present.

Layouts (GroupLens; files are read in place, never copied):

* **ML-100K** (ISO-8859-1): ``u.data`` ``user<TAB>item<TAB>rating<TAB>unix time``;
  ``u.item`` ``id|title|release date (01-Jan-1995)|video release|IMDb URL|<one 0/1 flag per
  genre of u.genre>``; ``u.genre`` ``name|index``; optional ``u.user``
  ``id|age|gender|occupation|zip`` and ``u.occupation`` (one name per line).
* **ML-1M** (ISO-8859-1, ``::``-separated): ``ratings.dat`` ``UserID::MovieID::Rating::Timestamp``;
  ``movies.dat`` ``MovieID::Title (Year)::Genre|Genre``; optional ``users.dat``
  ``UserID::Gender::Age::Occupation::Zip`` (age is a bucket code 1/18/25/35/45/50/56,
  occupation a code 0-20, see :data:`ML1M_OCCUPATIONS`).
* **ML-latest** (UTF-8 quoted CSV with headers): ``ratings.csv``
  ``userId,movieId,rating,timestamp``; ``movies.csv``
  ``movieId,title,genres`` (``(no genres listed)`` means none); optional
  ``tags.csv`` ``userId,movieId,tag,timestamp`` and ``links.csv`` ``movieId,imdbId,tmdbId``.

The graph (ids are the source's ids as strings; see :mod:`kgrec.schema`):

* ``User {id, age?, zip?}``, ``Video {id, title, year?, release_date?, imdb_url?, imdb_id?,
  tmdb_id?}``; ``(User)-[:RATED {rating: float, ts: int}]->(Video)``.
* ``Genre {id=name}`` + ``HAS_GENRE`` (ML-100K: every genre of ``u.genre``, "unknown"
  included, even if no movie has it); ``Decade {id="1990s"}`` + ``RELEASED_IN`` from the
  release year (ML-100K: the release date; others: the year in the title; none: no link);
  ``Tag {id=normalised tag}`` + ``HAS_TAG {count}`` (ML-latest: number of tag applications,
  case and whitespace folded).
* ``Occupation`` + ``HAS_OCCUPATION`` (ML-100K: every name in ``u.occupation``),
  ``AgeGroup`` (:func:`kgrec.schema.age_group`) + ``IN_AGE_GROUP``, ``Gender`` ("M"/"F")
  + ``HAS_GENDER``.
* ``Textual {id=video id, vector, text}`` + ``HAS_TEXTUAL``: the title, genres and (ML-latest)
  most frequent tags embedded by :func:`kg_ingest.text.embed_texts`.

Validation raises :class:`~kg_ingest.errors.IngestError` naming file, line and field (and, in
the headerless files, the field's column: ``u.item line 12, field 'genre Western' (column
24)``): field counts, integers and floats, 0/1 genre flags, the rating range (1-5 integers;
ML-latest 0.5-5.0), duplicate ratings, ratings and tags of unknown users or movies, missing or
empty required files, and in the CSV files of ML-latest strict quoting (a quote inside a
quoted field must be doubled, ``"Crouching Tiger, Hidden ""Dragon"" (2000)"``; a loose quote
used to load silently as part of the title).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest._common import entity_set, explode_links, link_set, textual
from kg_ingest.csvio import require_file
from kg_ingest.errors import IngestError
from kg_ingest.movielens_releases import ML1M_AGE_CODES, ML1M_OCCUPATIONS, PARSERS, Parsed
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

__all__ = [
    "LAYOUTS", "ML1M_AGE_CODES", "ML1M_OCCUPATIONS", "detect_layout", "load_movielens",
    "movie_text",
]  # fmt: skip

LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # layout: (required files, optional files)
    "ML-100K": (("u.data", "u.item", "u.genre"), ("u.user", "u.occupation")),
    "ML-1M": (("ratings.dat", "movies.dat"), ("users.dat",)),
    "ML-latest": (("ratings.csv", "movies.csv"), ("tags.csv", "links.csv")),
}

_TEXT_TAGS = 10  # most frequent tags put into a movie's embedded text


def detect_layout(path: Path) -> str:
    """Which MovieLens layout ``path`` holds: ``"ML-100K"``, ``"ML-1M"`` or ``"ML-latest"``."""
    if not path.is_dir():
        raise IngestError(path.name, f"not a directory: {path}")
    for layout, (required, _) in LAYOUTS.items():
        if any((path / f).is_file() for f in required):
            for f in required:
                require_file(path / f, f"{layout} layout needs {', '.join(required)}")
            return layout
    expected = "; ".join(f"{k}: {', '.join(r)}" for k, (r, _) in LAYOUTS.items())
    raise IngestError(path.name, f"no MovieLens files found in {path} (expected {expected})")


def load_movielens(path: Path, *, embed: bool = True) -> GraphData:
    """Parse and validate a MovieLens directory into graph frames (see the module docstring).

    Args:
        path: directory holding one of the three layouts.
        embed: add Textual modality nodes (default: True).

    Raises:
        IngestError: a file is missing, empty or malformed; the message names file and line.
    """
    path = Path(path)
    layout = detect_layout(path)
    parsed = PARSERS[layout](path)
    return _build(parsed, embed)


def _build(p: Parsed, embed: bool) -> GraphData:
    g = GraphData()
    u = p.users
    user_props = ["id"] + [c for c in ("age", "zip") if u[c].notna().any()]
    g.nodes.append(NodeSet(model.USER, u[user_props].reset_index(drop=True)))
    v = p.videos
    vcols = ["id", "title"] + [
        c for c in ("year", "release_date", "imdb_url", "imdb_id", "tmdb_id")
        if c in v.columns and v[c].notna().any()
    ]  # fmt: skip
    g.nodes.append(NodeSet(model.VIDEO, v[vcols].reset_index(drop=True)))
    g.rels.append(RelSet(model.RATED, model.USER, model.VIDEO, p.ratings))

    vid = v["id"].tolist()
    src, dst = explode_links(vid, p.genres)
    g.nodes.append(entity_set(model.GENRE, [*p.all_genres, *dst]))
    g.rels.append(link_set(model.HAS_GENRE, model.VIDEO, model.GENRE, src, dst))

    dated = v["year"].notna().to_numpy()
    decades = [model.decade(int(y)) for y in v["year"][dated]]
    if decades:
        g.nodes.append(entity_set(model.DECADE, decades))
        dec_src = v["id"][dated].tolist()
        g.rels.append(link_set(model.RELEASED_IN, model.VIDEO, model.DECADE, dec_src, decades))

    top_tags: dict[str, list[str]] = {}
    if p.tags is not None and len(p.tags):
        g.nodes.append(entity_set(model.TAG, p.tags["tag"]))
        g.rels.append(
            link_set(model.HAS_TAG, model.VIDEO, model.TAG, p.tags["video"], p.tags["tag"],
                     count=p.tags["count"].astype(np.int64).to_numpy())
        )  # fmt: skip
        ranked = p.tags.sort_values(["video", "count", "tag"], ascending=[True, False, True])
        for video, group in ranked.groupby("video", sort=False):
            top_tags[str(video)] = group["tag"].head(_TEXT_TAGS).tolist()

    _user_entities(g, u, p.all_occupations)

    if embed:
        texts = [
            movie_text(t, gs, top_tags.get(i, []))
            for i, t, gs in zip(vid, v["title"], p.genres, strict=True)
        ]
        nodes, rels = textual(vid, texts)
        g.nodes.append(nodes)
        g.rels.append(rels)
    return g


def movie_text(title: str, genres: list[str], tags: list[str]) -> str:
    """The text embedded for a movie.

    ``"Toy Story (1995). Genres: Animation, Comedy. Tags: pixar."``
    """
    parts = [str(title)]
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    return ". ".join(parts) + "."


def _user_entities(g: GraphData, u: pd.DataFrame, all_occupations: list[str]) -> None:
    for col, label, rel, extra in (
        ("occupation", model.OCCUPATION, model.HAS_OCCUPATION, all_occupations),
        ("age_group", model.AGE_GROUP, model.IN_AGE_GROUP, []),
        ("gender", model.GENDER, model.HAS_GENDER, []),
    ):
        known = u[col].notna().to_numpy()
        values = u[col][known].tolist()
        if not values and not extra:
            continue
        g.nodes.append(entity_set(label, [*extra, *values]))
        g.rels.append(link_set(rel, model.USER, label, u["id"][known].tolist(), values))
