"""Parsing the three MovieLens releases (ML-100K, ML-1M, ML-latest) into one shape,
:class:`Parsed`, that :func:`kg_ingest.movielens.load_movielens` turns into graph frames (the
layouts and the validation are described in :mod:`kg_ingest.movielens`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kg_ingest._common import id_strings, normalise_tag, split_multi
from kg_ingest.csvio import Table, read_csv, read_delimited
from kgrec import schema as model

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
_LATIN1 = "latin-1"


@dataclass
class Parsed:
    """What every layout yields before it becomes graph frames."""

    users: pd.DataFrame  # id, age (Int64), zip, gender, occupation, age_group (str or None)
    videos: pd.DataFrame  # id, title, year (Int64) and optional release_date / imdb_* / tmdb_id
    genres: list[list[str]]  # per video, aligned with ``videos``
    ratings: pd.DataFrame  # src, dst, rating (float64), ts (int64)
    all_genres: list[str] = field(default_factory=list)
    all_occupations: list[str] = field(default_factory=list)
    tags: pd.DataFrame | None = None  # video, tag, count


# -- ML-100K ----------------------------------------------------------------------------------


def parse_ml100k(path: Path) -> Parsed:
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
    return Parsed(users, videos, genres, ratings, genre_names, occupations)


# -- ML-1M ------------------------------------------------------------------------------------


def parse_ml1m(path: Path) -> Parsed:
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
    return Parsed(users, videos, genres, ratings)


# -- ML-latest --------------------------------------------------------------------------------


def parse_mllatest(path: Path) -> Parsed:
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
    return Parsed(_bare_users(user_ids), videos, genres, ratings, tags=tags)


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


PARSERS: dict[str, Callable[[Path], Parsed]] = {
    "ML-100K": parse_ml100k,
    "ML-1M": parse_ml1m,
    "ML-latest": parse_mllatest,
}
"""The parser of each layout of :data:`kg_ingest.movielens.LAYOUTS`."""
