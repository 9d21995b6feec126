"""A seeded synthetic micro-video knowledge graph whose interactions follow latent tastes.

Real datasets are large, licensed or slow to fetch; tests, benchmarks and demos need a graph of
any size, in seconds, where the *right* answer is known. The generative story:

1. **Tastes.** ``K`` taste clusters, each a unit centroid ``c_k`` in a latent space of
   :data:`LATENT_DIM` dimensions.
2. **Item attributes.** Every genre, tag and creator (``Person``) has a home cluster and a
   latent vector near its centroid. A video draws its cluster ``z_v`` (some clusters are bigger
   than others), then a creator, 1-2 genres and 2-5 tags (a repeat links once), mostly from
   its cluster's own (with probability :data:`OFF_CLUSTER` from anywhere), a year
   (cluster-dependent era -> ``Decade``) and a readable title from its cluster's vocabulary.
3. **Item latent vector.** ``l_v = unit(c_z + mean(genres) + creator + mean(tags) + noise)``:
   the attributes carry most of it, a per-video part is only visible through interactions.
4. **Modalities.** ``Visual``/``Acoustic``/``Textual`` features are noisy linear projections
   ``l_v @ W_m + e`` (``W_m`` random, width ``dims``), so features place a video even when
   nobody has watched it. Noise grows Textual < Visual < Acoustic.
5. **Users.** Gender, age (-> ``AgeGroup``) and occupation each carry a latent shift; a user's
   cluster is drawn from a softmax of the centroids against the summed shifts, and the taste is
   ``t_u = unit(c_z + shifts + noise)``: users with the same attributes like the same things.
6. **Popularity.** A long tail: ``b_v = -POP_EXPONENT * log(rank_v)`` over a random ranking,
   so most videos are rarely watched and held-out interactions often hit rare items (where a
   model that uses the KG can beat pure matrix factorisation).
7. **Clicks.** User ``u`` clicks ``n_u`` distinct videos (log-normal around
   ``interactions_per_user``), drawn without replacement from
   ``softmax_v(SHARPNESS * t_u . l_v + b_v)`` (draws with replacement, first occurrences
   kept, which is sequential sampling without replacement; :mod:`kg_ingest.synthetic_clicks`).
   Clicks are spaced in time from a per-user start (``ts``, unix seconds, 2023 onwards).
8. **Funnel.** Every interaction is a ``CLICKED``; with a probability rising with the user's
   affinity it is also ``FINISHED`` (at click + duration), ``LIKED`` (more likely when
   finished) and, when liked, possibly ``SHARED``. Each kind is its own relationship type.

Everything is vectorised numpy; :func:`generate` of 20,000 users x 10,000 videos with 50
interactions per user (1,000,000 clicks, 2,000,000 interaction relationships) takes about
3 CPU seconds. The same seed gives the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kg_ingest._common import entity_set, link_set, modality
from kg_ingest.synthetic_clicks import sample_clicks
from kg_store.graph_data import GraphData, NodeSet, RelSet
from kgrec import schema as model

LATENT_DIM = 16
"""Width of the latent taste space."""
SHARPNESS = 8.0
"""Scale of ``t_u . l_v`` (both unit vectors) in the click softmax: a video to the user's
taste (``t.l`` about 0.5) gets about e^4 times the weight of an unrelated one."""
POP_EXPONENT = 1.0
"""Zipf exponent of the popularity term (long tail)."""
OFF_CLUSTER = 0.15
"""Probability that an attribute of a video is drawn from outside its cluster."""
START_TS = 1_672_531_200  # 2023-01-01 UTC
CLICKED, LIKED, FINISHED, SHARED = model.INTERACTION_KINDS[:4]

GENRES = ("Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama",
          "Family", "Fantasy", "Horror", "Music", "Mystery", "Romance", "Sci-Fi", "Sport",
          "Thriller", "Travel", "Food")  # fmt: skip
TAGS = ("slow motion", "behind the scenes", "tutorial", "prank", "dance", "cover song",
        "unboxing", "vlog", "timelapse", "drone", "street food", "recipe", "workout", "cats",
        "dogs", "asmr", "speedrun", "review", "challenge", "lip sync", "magic trick",
        "skateboarding", "surfing", "hiking", "city walk", "makeup", "fashion", "diy",
        "gardening", "science", "history", "space", "cars", "football", "basketball", "chess",
        "anime", "retro", "synthwave", "jazz", "rap", "piano", "guitar", "comedy sketch",
        "parody", "storytime", "true crime", "ghost story", "wedding", "travel hack",
        "life hack", "minimalism", "budget", "camping", "fishing", "baking", "coffee", "tea",
        "painting", "origami")  # fmt: skip
OCCUPATIONS = ("academic/educator", "artist", "clerical/admin", "college/grad student",
               "customer service", "doctor/health care", "executive/managerial", "farmer",
               "homemaker", "K-12 student", "lawyer", "programmer", "retired",
               "sales/marketing", "scientist", "self-employed", "technician/engineer",
               "tradesman/craftsman", "unemployed", "writer", "other")  # fmt: skip
AGE_RANGE = (13, 70)
GENDERS = ("F", "M")
_ADJECTIVES = ("Silent", "Golden", "Midnight", "Electric", "Lost", "Tiny", "Wild", "Secret",
               "Endless", "Crimson", "Lazy", "Brave", "Frozen", "Hidden", "Lucky", "Broken",
               "Sunny", "Quiet", "Rapid", "Velvet")  # fmt: skip
_NOUNS = ("River", "Kitchen", "Galaxy", "Garden", "Robot", "Harbor", "Mountain", "Dragon",
          "Diner", "Forest", "Engine", "Canvas", "Stadium", "Castle", "Market", "Desert",
          "Studio", "Island", "Tunnel", "Library", "Carnival", "Orchard", "Lighthouse",
          "Arcade", "Circus", "Volcano", "Subway", "Bakery", "Temple", "Glacier", "Festival",
          "Workshop")  # fmt: skip
_FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai",
          "Lea", "Milo", "Nia", "Otto", "Pia", "Quin", "Rui", "Sara", "Tom")  # fmt: skip
_LAST = ("Abe", "Berg", "Cruz", "Dahl", "Engel", "Fox", "Gray", "Holm", "Ito", "Jensen",
         "Kato", "Lind", "Moss", "Novak", "Ortiz", "Park", "Quist", "Ross", "Stone",
         "Tran")  # fmt: skip
MIN_USERS, MAX_USERS = 1, 1_000_000
"""Allowed numbers of users (``kgrec ingest synthetic --users``). At 30 interactions each a
user takes about 9 kB of memory while the frames are built: the maximum needs about 9 GB."""
MIN_VIDEOS, MAX_VIDEOS = 2, 1_000_000
"""Allowed numbers of videos (``--videos``): each user clicks at least one video and leaves at
least one unclicked. A video takes about 5 kB (features, attributes): the maximum, about 5 GB."""
_MODALITY_NOISE = {model.VISUAL: 0.8, model.ACOUSTIC: 1.2, model.TEXTUAL: 0.5}
"""Noise std of each modality's features relative to their signal std."""


@dataclass
class SyntheticTruth:
    """The latent variables behind a generated graph (row ``i`` = user/video ``i``).

    Attributes:
        user_ids, video_ids: node keys, ``[U]`` and ``[V]``.
        user_taste: ``[U, LATENT_DIM]`` unit taste vectors.
        user_cluster: ``[U]`` taste cluster of each user.
        video_latent: ``[V, LATENT_DIM]`` unit latent vectors.
        video_cluster: ``[V]`` cluster of each video.
        popularity: ``[V]`` log-popularity term ``b_v`` of the click softmax.
        clicks: ``[N, 2]`` (user row, video row) of every interaction, per user in click order.
    """

    user_ids: np.ndarray
    video_ids: np.ndarray
    user_taste: np.ndarray
    user_cluster: np.ndarray
    video_latent: np.ndarray
    video_cluster: np.ndarray
    popularity: np.ndarray
    clicks: np.ndarray


def generate(
    users: int,
    videos: int,
    seed: int = 0,
    *,
    interactions_per_user: float = 30,
    dims: tuple[int, int, int] = (32, 16, 24),
) -> GraphData:
    """A synthetic micro-video KG (see the module docstring for the generative story).

    Args:
        users: number of ``User`` nodes (ids ``u0`` ...), :data:`MIN_USERS` to
            :data:`MAX_USERS`.
        videos: number of ``Video`` nodes (ids ``v0`` ...), :data:`MIN_VIDEOS` (each user
            clicks one and leaves one) to :data:`MAX_VIDEOS`.
        seed: seed of every random draw; the same seed gives identical frames (default: 0).
        interactions_per_user: mean number of distinct videos a user clicks; each user clicks
            at least 1 and at most ``videos - 1`` (default: 30).
        dims: widths of the Visual, Acoustic and Textual ``vector`` (default: (32, 16, 24)).

    Raises:
        ValueError: a size outside its range (the message names the argument and its
            ``kgrec ingest synthetic`` option), or a bad ``interactions_per_user`` / ``dims``.

    Returns:
        Nodes: User (age), Video (title, year, duration), Genre, Tag, Person, Decade, AgeGroup,
        Gender, Occupation, Visual/Acoustic/Textual (``vector``). Relationships: the attribute
        links, HAS_TAG ``{count}``, HAS_VISUAL/HAS_ACOUSTIC/HAS_TEXTUAL, and CLICKED, FINISHED,
        LIKED, SHARED ``{ts}`` (one CLICKED per interaction; the others are subsets of it).
    """
    return generate_with_truth(
        users, videos, seed, interactions_per_user=interactions_per_user, dims=dims
    )[0]


def generate_with_truth(
    users: int,
    videos: int,
    seed: int = 0,
    *,
    interactions_per_user: float = 30,
    dims: tuple[int, int, int] = (32, 16, 24),
) -> tuple[GraphData, SyntheticTruth]:
    """:func:`generate`, also returning the :class:`SyntheticTruth` behind the graph."""
    for name, value, lo, hi in (
        ("users", users, MIN_USERS, MAX_USERS),
        ("videos", videos, MIN_VIDEOS, MAX_VIDEOS),
    ):
        if not lo <= value <= hi:
            raise ValueError(f"{name} (--{name}) must be {lo:,} to {hi:,}, got {value:,}")
    if interactions_per_user <= 0:
        raise ValueError(f"interactions_per_user must be positive, got {interactions_per_user}")
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"dims must be three positive widths, got {dims}")
    rng = np.random.default_rng(seed)
    k = int(np.clip(round(np.sqrt(videos) / 2), 2, 12))
    centroids = _unit(rng.standard_normal((k, LATENT_DIM)))
    g = GraphData()

    # -- items ------------------------------------------------------------------------------
    cluster_weight = rng.dirichlet(np.full(k, 2.0))  # some tastes are mainstream, some niche
    vc = rng.choice(k, size=videos, p=cluster_weight)
    genre_home = np.arange(len(GENRES)) % k
    tag_home = rng.integers(0, k, len(TAGS))
    n_people = max(k, videos // 20)
    person_home = np.arange(n_people) % k
    genre_vec = _near(rng, centroids[genre_home], 0.6)
    tag_vec = _near(rng, centroids[tag_home], 0.8)
    person_vec = _near(rng, centroids[person_home], 0.5)

    creator = _pick(rng, person_home, vc, k)
    n_genres = 1 + (rng.random(videos) < 0.4)
    genre1 = _pick(rng, genre_home, vc, k)
    genre2 = _pick(rng, genre_home, vc, k)
    two = (n_genres == 2) & (genre2 != genre1)
    n_tags = rng.integers(2, 6, videos)
    tag_slots = np.stack([_pick(rng, tag_home, vc, k) for _ in range(5)], axis=1)  # [V, 5]
    tag_used = np.arange(5)[None, :] < n_tags[:, None]
    # a tag drawn twice for one video links once (first slot wins)
    dup = (tag_slots[:, :, None] == tag_slots[:, None, :]) & np.tri(5, k=-1, dtype=bool).T[None]
    tag_used &= ~dup.any(axis=1)

    tag_mean = (tag_vec[tag_slots] * tag_used[..., None]).sum(1) / tag_used.sum(1, keepdims=True)
    genre_mean = np.where(two[:, None], (genre_vec[genre1] + genre_vec[genre2]) / 2,
                          genre_vec[genre1])  # fmt: skip
    latent = _unit(
        centroids[vc] + genre_mean + person_vec[creator] + 0.5 * tag_mean
        + 0.6 * rng.standard_normal((videos, LATENT_DIM))
    )  # fmt: skip

    era = rng.integers(1960, 2015, k)
    year = np.clip(np.round(era[vc] + rng.normal(0, 8, videos)), 1950, 2024).astype(np.int64)
    duration = np.clip(rng.lognormal(np.log(40), 0.8, videos), 5, 600).astype(np.int64)
    video_ids = np.array([f"v{i}" for i in range(videos)], dtype=object)
    adj = rng.integers(0, len(_ADJECTIVES), videos)
    # each cluster has its own run of nouns, so titles carry the taste too
    noun = (vc * 3 + rng.integers(0, 4, videos)) % len(_NOUNS)
    part = rng.integers(0, 5, videos)
    titles = [
        f"The {_ADJECTIVES[a]} {_NOUNS[n]}" + (f" Part {p}" if p > 2 else "")
        for a, n, p in zip(adj.tolist(), noun.tolist(), part.tolist(), strict=True)
    ]
    g.nodes.append(
        NodeSet(
            model.VIDEO,
            pd.DataFrame({"id": video_ids, "title": titles, "year": year, "duration": duration}),
        )
    )
    decades = [model.decade(int(y)) for y in year]
    g.nodes.append(entity_set(model.DECADE, sorted(set(decades))))
    g.rels.append(link_set(model.RELEASED_IN, model.VIDEO, model.DECADE, video_ids, decades))
    person_names = np.array([_person(i) for i in range(n_people)], dtype=object)
    used_people = np.unique(creator)
    g.nodes.append(entity_set(model.PERSON, person_names[used_people]))
    g.rels.append(
        link_set(model.CREATED_BY, model.VIDEO, model.PERSON, video_ids, person_names[creator])
    )
    genre_names = np.array(GENRES, dtype=object)
    gv = np.concatenate([np.arange(videos), np.flatnonzero(two)])
    gg = np.concatenate([genre1, genre2[two]])
    g.nodes.append(entity_set(model.GENRE, genre_names[np.unique(gg)]))
    g.rels.append(link_set(model.HAS_GENRE, model.VIDEO, model.GENRE, video_ids[gv],
                           genre_names[gg]))  # fmt: skip
    tv, slot = np.nonzero(tag_used)
    tt = tag_slots[tv, slot]
    tag_names = np.array(TAGS, dtype=object)
    g.nodes.append(entity_set(model.TAG, tag_names[np.unique(tt)]))
    g.rels.append(
        link_set(
            model.HAS_TAG,
            model.VIDEO,
            model.TAG,
            video_ids[tv],
            tag_names[tt],
            count=1 + rng.poisson(3, len(tv)),
        )
    )
    for label, dim in zip(model.MODALITIES, dims, strict=True):
        # each feature of l @ w has std 1/sqrt(LATENT_DIM); the noise is a multiple of it
        w = rng.standard_normal((LATENT_DIM, dim)) / np.sqrt(LATENT_DIM)
        noise = _MODALITY_NOISE[label] / np.sqrt(LATENT_DIM) * rng.standard_normal((videos, dim))
        feats = latent @ w + noise
        nodes, rels = modality(label, video_ids.tolist(), feats.astype(np.float32))
        g.nodes.append(nodes)
        g.rels.append(rels)

    # -- users ------------------------------------------------------------------------------
    age = rng.integers(AGE_RANGE[0], AGE_RANGE[1] + 1, users)
    age_names = np.array([model.age_group(int(a)) for a in range(AGE_RANGE[1] + 1)], dtype=object)
    groups = sorted(set(age_names[AGE_RANGE[0] :]), key=list(age_names).index)
    age_group = pd.Index(groups).get_indexer(age_names[age])
    gender = rng.integers(0, len(GENDERS), users)
    occupation = rng.choice(len(OCCUPATIONS), users, p=rng.dirichlet(np.full(len(OCCUPATIONS), 3)))
    shift = (
        1.2 * _near(rng, centroids[rng.integers(0, k, len(OCCUPATIONS))], 0.3)[occupation]
        + 0.8 * _near(rng, centroids[rng.integers(0, k, len(groups))], 0.3)[age_group]
        + 0.4 * _near(rng, centroids[rng.integers(0, k, len(GENDERS))], 0.3)[gender]
    )
    uc = _gumbel_argmax(rng, 2.0 * shift @ centroids.T)  # attributes make a cluster likelier
    taste = _unit(centroids[uc] + 0.5 * shift + 0.4 * rng.standard_normal((users, LATENT_DIM)))
    user_ids = np.array([f"u{i}" for i in range(users)], dtype=object)
    g.nodes.append(NodeSet(model.USER, pd.DataFrame({"id": user_ids, "age": age})))
    for label, rel, names, idx in (
        (model.AGE_GROUP, model.IN_AGE_GROUP, np.array(groups, dtype=object), age_group),
        (model.GENDER, model.HAS_GENDER, np.array(GENDERS, dtype=object), gender),
        (model.OCCUPATION, model.HAS_OCCUPATION, np.array(OCCUPATIONS, dtype=object), occupation),
    ):
        g.nodes.append(entity_set(label, names[np.unique(idx)]))
        g.rels.append(link_set(rel, model.USER, label, user_ids, names[idx]))

    # -- interactions -----------------------------------------------------------------------
    rank = rng.permutation(videos) + 1
    popularity = -POP_EXPONENT * np.log(rank)
    n_u = np.clip(
        np.round(interactions_per_user * rng.lognormal(-0.18, 0.6, users)), 1, videos - 1
    ).astype(np.int64)  # lognormal(-s^2/2, s) has mean 1
    u_rows, v_rows = sample_clicks(rng, taste, latent, popularity, n_u, SHARPNESS)
    aff = np.einsum("ij,ij->i", taste[u_rows], latent[v_rows])
    z = (aff - aff.mean()) / (aff.std() + 1e-9)
    start = START_TS + rng.integers(0, 180 * 86_400, users)
    gaps = rng.exponential(3_600.0, len(u_rows)).astype(np.int64) + 1
    first = np.concatenate([[0], np.cumsum(n_u)[:-1]])
    run = np.cumsum(gaps)
    ts = start[u_rows] + run - (run[first] - gaps[first])[u_rows]  # per-user running time
    finished = rng.random(len(z)) < _sigmoid(1.5 * z)
    liked = rng.random(len(z)) < _sigmoid(1.5 * z - 1.5 + 1.0 * finished)
    shared = liked & (rng.random(len(z)) < _sigmoid(1.5 * z - 2.0))
    watch = duration[v_rows]
    like_at = ts + (rng.random(len(z)) * watch).astype(np.int64) + 1
    su, sv = user_ids[u_rows], video_ids[v_rows]
    for rel, mask, when in (
        (CLICKED, slice(None), ts),
        (FINISHED, finished, ts + watch),
        (LIKED, liked, like_at),
        (SHARED, shared, like_at + rng.integers(1, 120, len(z))),
    ):
        # frames straight from the arrays: a million-row list round trip costs seconds
        frame = pd.DataFrame({"src": su[mask], "dst": sv[mask], "ts": when[mask]})
        g.rels.append(RelSet(rel, model.USER, model.VIDEO, frame))

    truth = SyntheticTruth(
        user_ids=user_ids,
        video_ids=video_ids,
        user_taste=taste,
        user_cluster=uc,
        video_latent=latent,
        video_cluster=vc,
        popularity=popularity,
        clicks=np.stack([u_rows, v_rows], axis=1),
    )
    return g, truth


# -- helpers ----------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _near(rng: np.random.Generator, centres: np.ndarray, noise: float) -> np.ndarray:
    """Unit vectors scattered around ``centres`` ``[n, d]``."""
    return _unit(centres + noise * rng.standard_normal(centres.shape))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _gumbel_argmax(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``logits`` ``[n, k]``."""
    return np.asarray(np.argmax(logits + rng.gumbel(size=logits.shape), axis=1))


def _pick(rng: np.random.Generator, home: np.ndarray, cluster: np.ndarray, k: int) -> np.ndarray:
    """For each row of ``cluster`` ``[n]``, an entity (index into ``home``) of that cluster,
    or with probability :data:`OFF_CLUSTER` any entity. Falls back to any entity when the
    cluster has none."""
    order = np.argsort(home, kind="stable")
    counts = np.bincount(home, minlength=k)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = len(cluster)
    size = np.maximum(counts[cluster], 1)
    slot = offsets[cluster] + (rng.random(n) * size).astype(np.int64) % size
    own = order[np.minimum(slot, len(home) - 1)]
    anyone = rng.integers(0, len(home), n)
    return np.where((rng.random(n) < OFF_CLUSTER) | (counts[cluster] == 0), anyone, own)


def _person(i: int) -> str:
    name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST)) % len(_LAST)]}"
    rounds = i // (len(_FIRST) * len(_LAST))
    return f"{name} {rounds + 1}" if rounds else name
