"""Small but realistic datasets in other tools' file formats, written at test time.

* :func:`write_music_recbole`: a music service as RecBole atomic files: 30 listeners, 40
  artists (the items), tags as ``token_seq``, friendships (``.net``), a small KG with
  ``.link``.
* :func:`write_movie_admin_csv`: a movie graph as neo4j-admin import CSV files: ``Customer``,
  ``Movie``, ``Genre``, ``Person`` nodes, ``WATCHED {rating, ts}``, ``IN_GENRE``,
  ``DIRECTED_BY``, ``FRIEND_OF``.

Both plant a taste structure a recommender can learn: every user belongs to one of four
"scenes" (music scenes, film genres) and rates most of its items inside it, highly, and a few
outside, low. Everything is invented and seeded (the same files on every run).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SCENES = ("rock", "jazz", "electronic", "hiphop")
GENRES = ("Comedy", "Drama", "Horror", "SciFi")
USERS = 30
ITEMS = 40  # 10 per scene: item i belongs to scene i % 4
START_TS = 1_700_000_000


def scene_of_user(u: int) -> int:
    return u % len(SCENES)


def scene_of_item(i: int) -> int:
    return i % len(SCENES)


def _interactions(seed: int) -> list[tuple[int, int, int, int]]:
    """(user, item, rating 1-5, unix time): 9 in-scene items rated 4-5, 3 others rated 1-3
    per user; times increase per user."""
    rng = random.Random(seed)
    out = []
    for u in range(USERS):
        home = [i for i in range(ITEMS) if scene_of_item(i) == scene_of_user(u)]
        away = [i for i in range(ITEMS) if scene_of_item(i) != scene_of_user(u)]
        picks = [(i, rng.choice((4, 5))) for i in rng.sample(home, 9)]
        picks += [(i, rng.choice((1, 2, 3))) for i in rng.sample(away, 3)]
        rng.shuffle(picks)
        ts = START_TS + u * 86_400
        for i, r in picks:
            ts += rng.randint(60, 7_200)
            out.append((u, i, r, ts))
    return out


def _write(path: Path, rows: list[list[str]], delimiter: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)


def _friends() -> list[tuple[int, int]]:
    """Users of one scene in a ring, plus a few ties across scenes."""
    pairs = []
    for s in range(len(SCENES)):
        members = [u for u in range(USERS) if scene_of_user(u) == s]
        pairs += [(a, b) for a, b in zip(members, members[1:] + members[:1], strict=True)]
    return pairs + [(0, 1), (5, 10), (14, 27)]


def write_music_recbole(directory: Path, name: str = "music") -> Path:
    """A music service as RecBole atomic files ``<directory>/<name>.*``; returns the folder.

    ``.inter`` user_id:token item_id:token rating:float timestamp:float (360 rows);
    ``.user`` user_id:token age:float country:token; ``.item`` item_id:token
    artist_name:token_seq tags:token_seq listeners:float audio:float_seq; ``.net``
    source_id:token target_id:token weight:float; ``.kg`` head_id:token relation_id:token
    tail_id:token; ``.link`` item_id:token entity_id:token (the first 32 artists).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    inter = [["user_id:token", "item_id:token", "rating:float", "timestamp:float"]]
    inter += [[f"u{u}", f"a{i}", str(r), str(ts)] for u, i, r, ts in _interactions(1)]
    _write(d / f"{name}.inter", inter, "\t")
    countries = ("SE", "US", "JP", "BR", "DE")
    users = [["user_id:token", "age:float", "country:token"]]
    users += [[f"u{u}", str(18 + (u * 7) % 40), countries[u % 5]] for u in range(USERS)]
    _write(d / f"{name}.user", users, "\t")
    extra = {
        "rock": "guitar live",
        "jazz": "saxophone live",
        "electronic": "synth dance",
        "hiphop": "rap dance",
    }
    items = [
        [
            "item_id:token",
            "artist_name:token_seq",
            "tags:token_seq",
            "listeners:float",
            "audio:float_seq",
        ]
    ]
    for i in range(ITEMS):
        scene = SCENES[scene_of_item(i)]
        audio = [0.1] * 4
        audio[scene_of_item(i)] = 0.9
        audio = [round(a + rng.uniform(-0.05, 0.05), 4) for a in audio]
        items.append(
            [
                f"a{i}",
                f"The {scene.title()} Band {i}",
                f"{scene} {extra[scene]}",
                str(1000 + 37 * i),
                " ".join(map(str, audio)),
            ]
        )
    _write(d / f"{name}.item", items, "\t")
    net = [["source_id:token", "target_id:token", "weight:float"]]
    net += [
        [f"u{a}", f"u{b}", "1.0" if scene_of_user(a) == scene_of_user(b) else "0.2"]
        for a, b in _friends()
    ]
    _write(d / f"{name}.net", net, "\t")
    kg = [["head_id:token", "relation_id:token", "tail_id:token"]]
    link = [["item_id:token", "entity_id:token"]]
    for i in range(32):
        kg.append([f"m.artist{i}", "music.artist.genre", f"m.genre_{SCENES[scene_of_item(i)]}"])
        kg.append([f"m.artist{i}", "music.artist.origin", f"m.country_{countries[i % 5]}"])
        link.append([f"a{i}", f"m.artist{i}"])
    for g in SCENES:
        kg.append([f"m.genre_{g}", "music.genre.parent_genre", "m.genre_music"])
    kg.append(["m.artist0", "music.artist.influenced_by", "m.artist4"])
    _write(d / f"{name}.kg", kg, "\t")
    _write(d / f"{name}.link", link, "\t")
    return d


def write_movie_admin_csv(directory: Path) -> Path:
    """A movie graph as neo4j-admin import files in ``directory``; returns the folder.

    ``customers.csv`` (``customerId:ID(Customer)``, ``name``, ``age:int``, ``vip:boolean``,
    ``:LABEL``), ``movies.csv`` (``movieId:ID(Movie)``, ``title``, ``year:int``,
    ``languages:string[]``, ``:LABEL``), ``Genre.csv`` (``name:ID(Genre)``, the label from
    the file's name), ``people.csv`` (``:ID(Person)``, ``name``, ``:LABEL``),
    ``watched.csv`` (``WATCHED {rating:double, ts:long}``, 360 rows), ``IN_GENRE.csv`` (the
    type from the file's name), ``directed_by.csv``, ``friends.csv`` (``FRIEND_OF``).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    first = ("Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo")
    customers = [["customerId:ID(Customer)", "name", "age:int", "vip:boolean", ":LABEL"]]
    customers += [
        [
            f"c{u}",
            f"{first[u % 10]} {chr(65 + u // 10)}.",
            str(20 + (u * 3) % 45),
            "true" if u % 7 == 0 else "false",
            "Customer",
        ]
        for u in range(USERS)
    ]
    _write(d / "customers.csv", customers, ",")
    langs = ("en", "fr", "sv", "ja")
    movies = [["movieId:ID(Movie)", "title", "year:int", "languages:string[]", ":LABEL"]]
    for i in range(ITEMS):
        genre = GENRES[scene_of_item(i)]
        lang = ";".join(sorted({"en", langs[i % 4]}))
        movies.append(
            [
                f"m{i}",
                f'{genre} Story {i}: "Part {i % 3 + 1}", revisited',
                str(1970 + i),
                lang,
                "Movie",
            ]
        )
    _write(d / "movies.csv", movies, ",")
    _write(d / "Genre.csv", [["name:ID(Genre)"], *[[g] for g in GENRES]], ",")
    people = [[":ID(Person)", "name", ":LABEL"]]
    people += [[f"p{k}", f"Director {k}", "Person"] for k in range(8)]
    _write(d / "people.csv", people, ",")
    watched = [[":START_ID(Customer)", ":END_ID(Movie)", "rating:double", "ts:long", ":TYPE"]]
    watched += [
        [f"c{u}", f"m{i}", f"{r}.0", str(ts), "WATCHED"] for u, i, r, ts in _interactions(2)
    ]
    _write(d / "watched.csv", watched, ",")
    in_genre = [[":START_ID(Movie)", ":END_ID(Genre)"]]
    in_genre += [[f"m{i}", GENRES[scene_of_item(i)]] for i in range(ITEMS)]
    _write(d / "IN_GENRE.csv", in_genre, ",")
    directed = [[":START_ID(Movie)", ":END_ID(Person)", ":TYPE"]]
    directed += [[f"m{i}", f"p{2 * scene_of_item(i) + i % 2}", "DIRECTED_BY"] for i in range(ITEMS)]
    _write(d / "directed_by.csv", directed, ",")
    friends = [[":START_ID(Customer)", ":END_ID(Customer)", "since:int", ":TYPE"]]
    friends += [[f"c{a}", f"c{b}", str(2010 + (a + b) % 10), "FRIEND_OF"] for a, b in _friends()]
    _write(d / "friends.csv", friends, ",")
    return d
