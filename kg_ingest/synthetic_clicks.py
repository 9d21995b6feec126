"""The click sampler of :mod:`kg_ingest.synthetic` (step 7 of its generative story): distinct
videos per user, drawn without replacement from a softmax over every video, fast enough for a
million users (no cumulative sum over all ``users x videos`` weights)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import numpy as np

_BLOCK = 32
"""Videos per block of the two-level draw (:func:`_draw`)."""


def sample_clicks(
    rng: np.random.Generator,
    taste: np.ndarray,
    latent: np.ndarray,
    popularity: np.ndarray,
    n_u: np.ndarray,
    sharpness: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_u[u]`` distinct videos per user, without replacement from the click softmax
    ``softmax_v(sharpness * taste[u] . latent[v] + popularity[v])``.

    Drawing with replacement and keeping first occurrences, in draw order, is sequential
    sampling without replacement: about 1.5 draws per wanted click are made at once, and the
    rare user left short draws again. Each draw picks a block of :data:`_BLOCK` videos by the
    block's total weight, then a video inside the block, which avoids a cumulative sum over
    all ``U x V`` weights (the slow part). Users go in chunks so the weights stay small.

    Returns:
        (user rows, video rows), each ``[sum(n_u)]``, grouped by user in click order.
    """
    videos = len(latent)
    blocks = -(-videos // _BLOCK)
    pad = blocks * _BLOCK - videos
    # logits = sharpness * t.l + b as one product; |logits| <= sharpness + |b| keeps exp
    # finite; padding videos get logit -1e4, i.e. weight 0
    a = np.hstack([sharpness * taste, np.ones((len(taste), 1))]).astype(np.float32)
    b = np.vstack([
        np.hstack([latent, popularity[:, None]]),
        np.hstack([np.zeros((pad, latent.shape[1])), np.full((pad, 1), -1e4)]),
    ]).astype(np.float32)  # fmt: skip
    chunk = max(1, 2_000_000 // (blocks * _BLOCK))
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    with _one_blas_thread():
        for lo in range(0, len(taste), chunk):
            r, v = _chunk_clicks(rng, a[lo : lo + chunk], b, n_u[lo : lo + chunk], videos)
            us.append(r + lo)
            vs.append(v)
    return np.concatenate(us), np.concatenate(vs)


def _one_blas_thread() -> AbstractContextManager[object]:
    """The products here have an inner size of 17: BLAS threads only add synchronisation, and
    on a busy machine they made generation several times slower. threadpoolctl is optional."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def _chunk_clicks(
    rng: np.random.Generator,
    a_chunk: np.ndarray,
    b: np.ndarray,
    need: np.ndarray,
    videos: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows into ``a_chunk``, video rows) of the clicks of a chunk of users (see
    :func:`sample_clicks`); ``need`` ``[C]`` is each user's click count."""
    w = a_chunk @ b.T
    np.exp(w, out=w)
    row, v = _draw(rng, w, np.ceil(need * 1.5).astype(np.int64) + 3)
    _, first = np.unique(row * videos + v, return_index=True)
    first.sort()  # first occurrences, back in draw order (rows stay grouped)
    kr, kv = row[first], v[first]
    rank = np.arange(len(kr)) - np.searchsorted(kr, kr, side="left")
    take = rank < need[kr]
    kr, kv = kr[take], kv[take]
    short = np.flatnonzero(np.bincount(kr, minlength=len(need)) < need)
    if len(short):  # rare: a user whose draws repeated too often draws again
        keep = ~np.isin(kr, short)
        parts_r, parts_v = [kr[keep]], [kv[keep]]
        for i in short.tolist():
            have = kv[kr == i].tolist()
            seen = set(have)
            while len(have) < need[i]:
                _, more = _draw(rng, w[i : i + 1], np.array([2 * need[i]]))
                for x in more.tolist():
                    if x not in seen and len(have) < need[i]:
                        seen.add(x)
                        have.append(x)
            parts_r.append(np.full(len(have), i))
            parts_v.append(np.asarray(have, dtype=np.int64))
        kr, kv = np.concatenate(parts_r), np.concatenate(parts_v)
    order = np.argsort(kr, kind="stable")
    return kr[order], kv[order]


def _draw(
    rng: np.random.Generator, w: np.ndarray, draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``draws[i]`` columns of row ``i`` of the weights ``w`` ``[C, blocks * _BLOCK]``, with
    replacement, proportional to weight. Returns (rows, columns), grouped by row."""
    c = len(w)
    blocks = w.shape[1] // _BLOCK
    cum = np.cumsum(w.reshape(c, blocks, _BLOCK).sum(axis=2, dtype=np.float64), axis=1)
    row = np.repeat(np.arange(c), draws)
    # one search over all rows: row i's normalised cumulative weights shifted into [i, i + 1]
    flat = (cum / cum[:, -1:] + np.arange(c)[:, None]).ravel()
    blk = np.searchsorted(flat, row + rng.random(len(row)), side="right") - row * blocks
    np.clip(blk, 0, blocks - 1, out=blk)  # float rounding at a row's top end
    cols = blk[:, None] * _BLOCK + np.arange(_BLOCK)
    seg = np.cumsum(w[row[:, None], cols], axis=1)
    pick = (seg <= rng.random(len(row))[:, None] * seg[:, -1:]).sum(axis=1)
    return row, blk * _BLOCK + np.minimum(pick, _BLOCK - 1)
