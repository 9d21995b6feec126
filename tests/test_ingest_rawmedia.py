"""Raw-media loader (layout in docs/rawmedia_format.md) on tiny media files the tests write:
decoding to fixed-size arrays, the descriptors stored as multimodal node vectors, validation
errors naming the file, and ``kgrec ingest rawmedia`` as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_ingest import rawmedia
from kg_ingest.errors import IngestError
from kg_ingest.rawmedia import load_rawmedia
from kg_store.falkordb_store import FalkorDBStore
from kg_store.graph_data import GraphData
from tests.media_files import square_frames, write_clip, write_dataset, write_poster, write_tone


@pytest.fixture(autouse=True)
def _hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_TEXT_BACKEND", "hashing")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "raw")


def frame(g: GraphData, label: str) -> pd.DataFrame:
    return next(n.frame for n in g.nodes if n.label == label).set_index("id")


# -- decoding ---------------------------------------------------------------------------------


def test_poster_array(tmp_path: Path) -> None:
    p = write_poster(tmp_path / "media" / "v" / "poster.png", (255, 128, 0), size=(50, 20))
    x = rawmedia.poster_array(p)
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(1, 2)), [1.0, 128 / 255, 0.0], atol=1e-6)


def test_audio_array_resamples_mixes_and_pads(tmp_path: Path) -> None:
    p = write_tone(tmp_path / "a.wav", 500.0, seconds=0.25, rate=8000, channels=2)
    x, seconds = rawmedia.audio_array(p)
    assert x.shape == (32000,) and seconds == pytest.approx(0.25)
    # 0.25 s at 16 kHz = 4000 samples of a 0.5-amplitude tone, then silence
    assert 0.45 < np.abs(x[:4000]).max() <= 0.5 and not x[4000:].any()
    # 500 Hz at 16 kHz: 32 samples per period
    spectrum = np.abs(np.fft.rfft(x[:4000]))
    assert np.argmax(spectrum) * 16000 / 4000 == pytest.approx(500.0)


def test_audio_array_8_bit(tmp_path: Path) -> None:
    p = write_tone(tmp_path / "a.wav", 1000.0, seconds=3.0, rate=16000, width=1)
    x, seconds = rawmedia.audio_array(p)
    assert seconds == pytest.approx(3.0) and x.shape == (32000,)  # cropped to 2 s
    assert 0.45 < np.abs(x).max() < 0.52


@pytest.mark.parametrize("suffix", [".gif", ".npy"])
def test_clip_array(tmp_path: Path, suffix: str) -> None:
    frames = square_frames(5, rgb=(255, 255, 255))
    x, n = rawmedia.clip_array(write_clip(tmp_path / "media" / "v" / f"clip{suffix}", frames))
    assert n == 5 and x.shape == (3, 8, 32, 32)
    # 8 frames sampled from 5: 0, 1, 1, 2, 2, 3, 3, 4; the square moves, so frames differ
    np.testing.assert_allclose(x[:, 1], x[:, 2])
    assert np.abs(x[:, 0] - x[:, 7]).sum() > 1
    # the square is 4x4 of 16x16 pixels: 1/16 of the frame is white
    assert x.mean() == pytest.approx(1 / 16, abs=0.01)


def test_descriptors() -> None:
    red = np.zeros((3, 32, 32), np.float32)
    red[0] = 1.0
    d = rawmedia.poster_descriptor(red)
    assert d.shape == (rawmedia.POSTER_DIM,)
    thumb, hist = d[:192].reshape(3, 8, 8), d[192:].reshape(3, 8)
    assert (thumb[0] == 1).all() and (thumb[1:] == 0).all()
    np.testing.assert_array_equal(hist[0], [0] * 7 + [1])  # all red values in the top bin
    np.testing.assert_array_equal(hist[1], [1] + [0] * 7)
    still = np.ones((3, 8, 32, 32), np.float32)
    c = rawmedia.clip_descriptor(still)
    assert c.shape == (rawmedia.CLIP_DIM,)
    assert (c[:48] == 1).all() and (c[48:] == 0).all()  # no motion
    t = np.arange(32000) / 16000
    a = rawmedia.audio_descriptor(np.sin(2 * np.pi * 440 * t).astype(np.float32))
    assert a.shape == (rawmedia.ACOUSTIC_DIM,)
    # the loudest band weighs the 440 Hz FFT bin most (440 * 512 / 16000 = 14.08)
    assert int(np.argmax(a[:32])) == int(rawmedia.mel_filterbank()[:, 14].argmax())


# -- the loader -------------------------------------------------------------------------------


def test_nodes_and_vectors(root: Path) -> None:
    g = load_rawmedia(root)
    vis, ac, tx = frame(g, "Visual"), frame(g, "Acoustic"), frame(g, "Textual")
    assert sorted(vis.index) == ["v1", "v2"] and sorted(ac.index) == ["v1", "v2"]
    assert sorted(tx.index) == ["v1", "v2", "v3"]  # text for every video
    v1 = np.asarray(vis.loc["v1", "vector"])
    assert v1.shape == (rawmedia.VISUAL_DIM,)
    # v1's poster is pure red: the thumbnail's red plane is 1, green and blue 0
    np.testing.assert_allclose(v1[:64], 1.0, atol=1e-6)
    np.testing.assert_allclose(v1[64:192], 0.0, atol=1e-6)
    # its clip moves: motion energy is positive somewhere
    assert v1[rawmedia.POSTER_DIM + 48 :].max() > 0
    assert vis.loc["v1", "poster"] == "media/v1/poster.png"
    assert vis.loc["v1", "clip"] == "media/v1/clip.gif" and vis.loc["v1", "frames"] == 6
    assert vis.loc["v2", "clip"] == "media/v2/clip.npy" and vis.loc["v2", "frames"] == 4
    assert ac.loc["v1", "audio"] == "media/v1/audio.wav"
    assert ac.loc["v1", "seconds"] == 0.5 and ac.loc["v2", "seconds"] == 0.5
    # 440 Hz and 2 kHz tones: v2's loudest band is higher
    a1, a2 = (np.asarray(ac.loc[v, "vector"])[:32] for v in ("v1", "v2"))
    assert np.argmax(a2) > np.argmax(a1)
    assert "A cat jumps onto a table." in tx.loc["v1", "text"]
    assert tx.loc["v3", "text"] == "Cooking pasta. Genres: Food. Tags: recipe."
    rels = {r.type: r.frame for r in g.rels}
    assert sorted(rels["HAS_VISUAL"]["src"]) == ["v1", "v2"]
    assert len(rels["CLICKED"]) == 4 and len(rels["LIKED"]) == 1


def test_load_into_store_idempotent(falkordb_store: FalkorDBStore, root: Path) -> None:
    falkordb_store.load(load_rawmedia(root))
    stats = falkordb_store.stats()
    assert stats["nodes"]["Visual"] == 2 and stats["nodes"]["Acoustic"] == 2
    assert stats["relationships"]["HAS_ACOUSTIC"] == 2
    falkordb_store.load(load_rawmedia(root))
    assert falkordb_store.stats() == stats
    row = falkordb_store.read_only(
        "MATCH (:Video {id: 'v2'})-[:HAS_VISUAL]->(x:Visual) RETURN x.poster, x.frames"
    ).rows[0]
    assert row == ["media/v2/poster.jpg", 4]


def test_model_data_from_rawmedia(root: Path) -> None:
    """The export of a raw-media graph gives the models Visual and Acoustic features."""
    from recommend.data import build_recdata, export_from_graph_data, make_split

    ex = export_from_graph_data(load_rawmedia(root))
    data = build_recdata(ex, make_split(ex, seed=0))
    assert data.item_features["Visual"].shape == (3, rawmedia.VISUAL_DIM)
    assert data.item_features["Acoustic"].shape == (3, rawmedia.ACOUSTIC_DIM)
    assert not data.item_features["Visual"][2].any()  # v3 has no media


def test_npy_beside_media_of_another_modality(root: Path) -> None:
    np.save(root / "textual.npy", np.ones((3, 4)))
    g = load_rawmedia(root)
    assert frame(g, "Textual").loc["v3", "vector"] == [1.0] * 4


# -- validation -------------------------------------------------------------------------------


def _err(root: Path) -> str:
    with pytest.raises(IngestError) as e:
        load_rawmedia(root)
    return str(e.value)


def test_unknown_video_folder(root: Path) -> None:
    write_poster(root / "media" / "v9" / "poster.png", (1, 2, 3))
    assert _err(root) == "media/v9: unknown video 'v9' (not in videos.csv)"


def test_two_posters(root: Path) -> None:
    write_poster(root / "media" / "v1" / "poster.jpg", (1, 2, 3))
    assert (
        _err(root) == "media/v1/poster.jpg: two posters for one video (poster.png and poster.jpg)"
    )


def test_bad_image(root: Path) -> None:
    (root / "media" / "v2" / "poster.jpg").write_bytes(b"not an image")
    assert _err(root).startswith("media/v2/poster.jpg: not a readable image")


def test_bad_wav(root: Path) -> None:
    (root / "media" / "v1" / "audio.wav").write_bytes(b"RIFF0000WAVEjunk")
    assert _err(root).startswith("media/v1/audio.wav: not a PCM WAV file")


def test_empty_wav(root: Path) -> None:
    with wave.open(str(root / "media" / "v1" / "audio.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    assert _err(root) == "media/v1/audio.wav: has no complete audio frames"


def test_one_frame_clip(root: Path) -> None:
    write_clip(root / "media" / "v2" / "clip.npy", square_frames(1))
    assert _err(root) == "media/v2/clip.npy: a clip needs at least 2 frames, got 1"


def test_bad_npy_clip(root: Path) -> None:
    np.save(root / "media" / "v2" / "clip.npy", np.zeros((4, 8, 8, 3), np.float32))
    assert _err(root) == (
        "media/v2/clip.npy: expected uint8 [frames, height, width, 3], got float32 (4, 8, 8, 3)"
    )


def test_modality_given_twice(root: Path) -> None:
    np.save(root / "visual.npy", np.ones((3, 4)))
    assert _err(root) == (
        "visual.npy: Visual features are given both here and as media files (e.g. media/v1): "
        "give each modality one way"
    )


def test_missing_media_folder(root: Path) -> None:
    shutil.rmtree(root / "media")
    assert _err(root).startswith("media: required folder is missing")


def test_csv_errors_come_from_the_microvideo_layout(root: Path) -> None:
    (root / "interactions.csv").write_text("user,video,kind\nu1,v1,click\nu1,v7,click\n")
    assert (
        _err(root)
        == "interactions.csv line 3, field 'video': unknown video (not in videos.csv) 'v7'"
    )


# -- the command --------------------------------------------------------------------------------


@pytest.mark.slow  # four kgrec processes: ~20 s of CPU on the 2-core machine
def test_cli_ingest_rawmedia(tmp_path: Path, root: Path) -> None:
    kgrec = str(Path(sys.executable).with_name("kgrec"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGREC_")}
    env.update(KGREC_HOME=str(tmp_path / "home"), KGREC_TEXT_BACKEND="hashing", COLUMNS="200")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([kgrec, *args], env=env, capture_output=True, text=True, timeout=300)

    try:
        ok = run("ingest", "rawmedia", str(root), "--graph", "rm")
        assert ok.returncode == 0, ok.stderr
        write_poster(root / "media" / "v9" / "poster.png", (1, 2, 3))
        bad = run("ingest", "rawmedia", str(root), "--graph", "rm")
        assert bad.returncode != 0
        assert "media/v9: unknown video 'v9' (not in videos.csv)" in " ".join(bad.stderr.split())
        # the first load is there, and the failed one wrote nothing
        counts = json.loads(run("stats", "--json", "--graph", "rm").stdout)
        assert counts["nodes"]["Visual"] == 2 and counts["nodes"]["Acoustic"] == 2
        assert counts["nodes"]["Textual"] == 3 and counts["relationships"]["CLICKED"] == 4
        assert counts["nodes"]["Video"] == 3 and counts["nodes"]["User"] == 3
    finally:
        run("db", "stop")


def test_text_npy_clip(root: Path) -> None:
    (root / "media" / "v2" / "clip.npy").write_text("1 2 3\n")
    assert _err(root).startswith(
        "media/v2/clip.npy: not a NumPy .npy file (starts with b'1 2 3\\n'"
    )


def test_bad_utf8_description(root: Path) -> None:
    (root / "media" / "v1" / "description.txt").write_bytes(b"fine\nnot \xff fine\n")
    assert _err(root) == (
        "media/v1/description.txt line 2: not valid utf-8 text (invalid start byte at byte 9)"
    )
