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

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest._common import (
    Table,
    entity_set,
    explode_links,
    id_strings,
    link_set,
    normalise_tag,
    read_csv,
    read_delimited,
    require_file,
    split_multi,
    textual,
)
from kg_ingest.errors import IngestError
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # layout: (required files, optional files)
    "ML-100K": (("u.data", "u.item", "u.genre"), ("u.user", "u.occupation")),
    "ML-1M": (("ratings.dat", "movies.dat"), ("users.dat",)),
    "ML-latest": (("ratings.csv", "movies.csv"), ("tags.csv", "links.csv")),
}

ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
"""ML-1M ``users.dat`` occupation codes 0-20 (its README); 0 is "other or not specified"."""

ML1M_AGE_CODES = (1, 18, 25, 35, 45, 50, 56)
"""ML-1M age codes: the lower bound of each bucket (1 means under 18)."""

_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")
_NO_GENRES = "(no genres listed)"
_TEXT_TAGS = 10  # most frequent tags put into a movie's embedded text
_LATIN1 = "latin-1"


@dataclass
class _Parsed:
    """What every layout yields before it becomes graph frames."""

    users: pd.DataFrame  # id, age (Int64), zip, gender, occupation, age_group (str or None)
    videos: pd.DataFrame  # id, title, year (Int64) and optional release_date / imdb_* / tmdb_id
    genres: list[list[str]]  # per video, aligned with ``videos``
    ratings: pd.DataFrame  # src, dst, rating (float64), ts (int64)
    all_genres: list[str] = field(default_factory=list)
    all_occupations: list[str] = field(default_factory=list)
    tags: pd.DataFrame | None = None  # video, tag, count


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
    parsed = {"ML-100K": _ml100k, "ML-1M": _ml1m, "ML-latest": _mllatest}[layout](path)
    return _build(parsed, embed)


# -- ML-100K ----------------------------------------------------------------------------------


def _ml100k(path: Path) -> _Parsed:
    gt = read_delimited(path / "u.genre", "|", ["name", "index"], encoding=_LATIN1)
    index = gt.ints("index", 0)
    names = gt.require("name")
    gt.frame["name"] = names
    gt.check_unique(["name"], "genre")
    _check_indices(gt, index)
    genre_names = [names.iloc[i] for i in np.argsort(index)]

    # The 19 genre flags of ML-100K, named after u.genre ("genre Western", column 24).
    flags = [f"genre {g}" for g in genre_names]
    it = read_delimited(
        path / "u.item",
        "|",
        ["id", "title", "release date", "video release date", "IMDb URL", *flags],
        encoding=_LATIN1,
    )
    ids = id_strings(it.ints("id", 1))
    it.frame["id"] = ids
    it.check_unique(["id"], "movie id")
    flag_matrix = np.stack([_flag(it, f) for f in flags], axis=1)
    genres = [[genre_names[j] for j in np.flatnonzero(row)] for row in flag_matrix]
    release = it.frame["release date"].str.strip()
    dates = pd.to_datetime(release, format="%d-%b-%Y", errors="coerce")
    bad = np.flatnonzero((dates.isna() & (release != "")).to_numpy())
    if len(bad):
        raise it.error(int(bad[0]), f"{release.iloc[bad[0]]!r} is not a date like 01-Jan-1995",
                       "release date")  # fmt: skip
    videos = pd.DataFrame(
        {
            "id": ids,
            "title": it.frame["title"].str.strip(),
            "year": dates.dt.year.astype("Int64"),
            "release_date": dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None),
            "imdb_url": it.frame["IMDb URL"].str.strip().replace("", None),
        }
    )

    occupations: list[str] = []
    if (path / "u.occupation").is_file():
        ot = read_delimited(path / "u.occupation", "|", ["name"], encoding=_LATIN1)
        occupations = ot.require("name").tolist()

    dt = read_delimited(path / "u.data", "\t", ["user", "item", "rating", "ts"])
    ratings = _ratings(dt, "user", "item", dt.ints("rating", 1, 5).astype(np.float64), "ts")

    if (path / "u.user").is_file():
        ut = read_delimited(
            path / "u.user", "|", ["id", "age", "gender", "occupation", "zip"], encoding=_LATIN1
        )
        uid = id_strings(ut.ints("id", 1))
        ut.frame["id"] = uid
        ut.check_unique(["id"], "user id")
        age = ut.ints("age", 0, 150)
        gender = _gender(ut, "gender")
        occ = ut.require("occupation")
        if occupations:
            ut.check_refs("occupation", occ, pd.Index(occupations), "occupation")
        users = pd.DataFrame(
            {
                "id": uid,
                "age": pd.array(age, dtype="Int64"),
                "zip": ut.frame["zip"].str.strip().replace("", None),
                "gender": gender,
                "occupation": occ,
                "age_group": [model.age_group(int(a)) for a in age],
            }
        )
        dt.check_refs("user", ratings["src"], pd.Index(uid), "user (not in u.user)")
    else:
        users = _bare_users(ratings["src"])
    dt.check_refs("item", ratings["dst"], pd.Index(ids), "movie (not in u.item)")
    return _Parsed(users, videos, genres, ratings, genre_names, occupations)


# -- ML-1M ------------------------------------------------------------------------------------


def _ml1m(path: Path) -> _Parsed:
    mt = read_delimited(path / "movies.dat", "::", ["id", "title", "genres"], encoding=_LATIN1)
    ids = id_strings(mt.ints("id", 1))
    mt.frame["id"] = ids
    mt.check_unique(["id"], "movie id")
    title = mt.require("title")
    videos = pd.DataFrame({"id": ids, "title": title, "year": _title_years(title)})
    genres = split_multi(mt.frame["genres"])

    rt = read_delimited(path / "ratings.dat", "::", ["user", "item", "rating", "ts"])
    ratings = _ratings(rt, "user", "item", rt.ints("rating", 1, 5).astype(np.float64), "ts")
    rt.check_refs("item", ratings["dst"], pd.Index(ids), "movie (not in movies.dat)")

    if (path / "users.dat").is_file():
        ut = read_delimited(
            path / "users.dat", "::", ["id", "gender", "age", "occupation", "zip"],
            encoding=_LATIN1,
        )  # fmt: skip
        uid = id_strings(ut.ints("id", 1))
        ut.frame["id"] = uid
        ut.check_unique(["id"], "user id")
        age = ut.ints("age")
        bad = np.flatnonzero(~np.isin(age, ML1M_AGE_CODES))
        if len(bad):
            raise ut.error(int(bad[0]), f"{age[bad[0]]} is not an age code {ML1M_AGE_CODES}", "age")
        occ = ut.ints("occupation", 0, len(ML1M_OCCUPATIONS) - 1)
        users = pd.DataFrame(
            {
                "id": uid,
                # The file holds a bucket code, not an age: only the group is known.
                "age": pd.array([None] * len(uid), dtype="Int64"),
                "zip": ut.frame["zip"].str.strip().replace("", None),
                "gender": _gender(ut, "gender"),
                "occupation": [ML1M_OCCUPATIONS[o] for o in occ],
                "age_group": [model.age_group(int(a)) for a in age],
            }
        )
        rt.check_refs("user", ratings["src"], pd.Index(uid), "user (not in users.dat)")
    else:
        users = _bare_users(ratings["src"])
    return _Parsed(users, videos, genres, ratings)


# -- ML-latest --------------------------------------------------------------------------------


def _mllatest(path: Path) -> _Parsed:
    mt = read_csv(path / "movies.csv", ["movieId", "title", "genres"])
    ids = id_strings(mt.ints("movieId", 1))
    mt.frame["movieId"] = ids
    mt.check_unique(["movieId"], "movie id")
    title = mt.require("title")
    videos = pd.DataFrame({"id": ids, "title": title, "year": _title_years(title)})
    genres = [[g for g in gs if g != _NO_GENRES] for gs in split_multi(mt.frame["genres"])]
    known = pd.Index(ids)

    if (path / "links.csv").is_file():
        lt = read_csv(path / "links.csv", ["movieId", "imdbId", "tmdbId"], allow_empty=True)
        if len(lt):
            lid = id_strings(lt.ints("movieId", 1))
            lt.check_refs("movieId", lid, known, "movie (not in movies.csv)")
            imdb = lt.frame["imdbId"].str.strip()
            tmdb = lt.frame["tmdbId"].str.strip()
            # imdbId is the numeric part of "tt0114709", written without the leading zeros.
            imdb_id = ["tt" + v.zfill(7) if v else None for v in imdb]
            imdb_int = Table(lt.file, pd.DataFrame({"imdbId": imdb.replace("", "0")}), lt.lines,
                             lt.columns)  # fmt: skip
            imdb_int.ints("imdbId", 0)
            tmdb_ok = tmdb != ""
            tmdb_vals = pd.array([None] * len(lt), dtype="Int64")
            if tmdb_ok.any():
                sub = lt.subset(tmdb_ok.to_numpy())
                tmdb_vals[tmdb_ok.to_numpy()] = sub.ints("tmdbId", 0)
            links = pd.DataFrame(
                {
                    "imdb_id": imdb_id,
                    "imdb_url": [
                        f"https://www.imdb.com/title/{v}/" if v else None for v in imdb_id
                    ],
                    "tmdb_id": tmdb_vals,
                },
                index=lid.to_numpy(),
            )
            links = links[~links.index.duplicated(keep="last")]
            videos = videos.join(links, on="id")

    rt = read_csv(path / "ratings.csv", ["userId", "movieId", "rating", "timestamp"])
    ratings = _ratings(rt, "userId", "movieId", rt.floats("rating", 0.5, 5.0), "timestamp")
    rt.check_refs("movieId", ratings["dst"], known, "movie (not in movies.csv)")
    user_ids = ratings["src"]

    tags = None
    if (path / "tags.csv").is_file():
        tt = read_csv(
            path / "tags.csv", ["userId", "movieId", "tag", "timestamp"], allow_empty=True
        )
        if len(tt):
            tu = id_strings(tt.ints("userId", 1))
            tv = id_strings(tt.ints("movieId", 1))
            tt.ints("timestamp", 0)
            tt.check_refs("movieId", tv, known, "movie (not in movies.csv)")
            tag = tt.frame["tag"].map(normalise_tag)
            keep = (tag != "").to_numpy()
            applied = pd.DataFrame({"video": tv[keep].to_numpy(), "tag": tag[keep].to_numpy()})
            tags = (
                applied.groupby(["video", "tag"], sort=False).size().rename("count").reset_index()
            )
            user_ids = pd.concat([user_ids, tu], ignore_index=True)
    return _Parsed(_bare_users(user_ids), videos, genres, ratings, tags=tags)


# -- shared -----------------------------------------------------------------------------------


def _ratings(t: Table, ucol: str, icol: str, rating: np.ndarray, tcol: str) -> pd.DataFrame:
    user = id_strings(t.ints(ucol, 1))
    item = id_strings(t.ints(icol, 1))
    ts = t.ints(tcol, 0)
    t.frame[ucol] = user
    t.frame[icol] = item
    t.check_unique([ucol, icol], "rating of this movie by this user")
    return pd.DataFrame({"src": user, "dst": item, "rating": rating, "ts": ts})


def _check_indices(t: Table, index: np.ndarray) -> None:
    """``u.genre``'s indices must be 0..n-1, each once: name the line of the first that is not."""
    n = len(index)
    out = np.flatnonzero(index >= n)
    if len(out):
        raise t.error(int(out[0]), f"{index[out[0]]} is out of range: {n} genres have indices "
                      f"0..{n - 1}", "index")  # fmt: skip
    t.frame["index"] = index.astype(str)
    t.check_unique(["index"], "genre index")


def _flag(t: Table, col: str) -> np.ndarray:
    """A 0/1 column as bool."""
    s = t.frame[col].str.strip()
    bad = np.flatnonzero(~s.isin(["0", "1"]).to_numpy())
    if len(bad):
        raise t.error(int(bad[0]), f"must be 0 or 1, got {s.iloc[bad[0]]!r}", col)
    return (s == "1").to_numpy()


def _gender(t: Table, col: str) -> list[str]:
    g = t.require(col).str.upper()
    bad = np.flatnonzero(~g.isin(["M", "F"]).to_numpy())
    if len(bad):
        raise t.error(int(bad[0]), f"{t.frame[col].iloc[bad[0]]!r} is not M or F", col)
    return g.tolist()


def _bare_users(ids: pd.Series) -> pd.DataFrame:
    uniq = pd.unique(ids.to_numpy())
    return pd.DataFrame({"id": uniq, "age": pd.array([None] * len(uniq), dtype="Int64")}).assign(
        zip=None, gender=None, occupation=None, age_group=None
    )


def _title_years(title: pd.Series) -> pd.Series:
    years = title.str.extract(_TITLE_YEAR, expand=False)
    return pd.to_numeric(years, errors="coerce").astype("Int64")


def _build(p: _Parsed, embed: bool) -> GraphData:
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
