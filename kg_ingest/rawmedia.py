"""Raw-media loader: the micro-video layout plus a folder of media files per video (poster,
audio track, short clip, description), from which the multimodal nodes are filled. The full
description, with an example, is ``docs/rawmedia_format.md``.

Directory layout::

    PATH/
      videos.csv, interactions.csv[, users.csv]   the micro-video layout (docs/microvideo_format.md)
      media/<video id>/
        poster.png | poster.jpg | poster.jpeg     -> Visual (poster part)
        clip.gif | clip.npy                       -> Visual (clip part)
        audio.wav                                 -> Acoustic
        description.txt                           -> Textual (with title, genres and tags)

Every file of a video folder is optional; a folder name must be a video id of ``videos.csv``.
The decoding is :mod:`kgrec.media` (re-exported here, its errors raised as
:class:`~kg_ingest.errors.IngestError` with the same message): images are decoded with Pillow,
WAV files with the standard library's :mod:`wave` (PCM 8, 16, 24 or 32 bit, any sample rate,
mono or multi-channel), clips are an animated GIF or a ``.npy`` ``uint8`` array
``[frames, height, width, 3]`` (or ``[frames, height, width]`` for grey).

Each media file is first brought to a fixed size (:func:`poster_array`, :func:`audio_array`,
:func:`clip_array`: 32x32 RGB, 2 s of 16 kHz mono, 8 frames of 32x32 RGB); the model side
(:mod:`recommend.media`) trains its CNNs on exactly these arrays. For the graph, each becomes a
fixed, training-free descriptor stored as the node's ``vector``, so every model (and every
analyst's similarity query) can use the media without a CNN:

* ``Visual.vector`` (280 wide): the poster's 8x8 RGB thumbnail (192) and its 8-bin histogram per
  channel (24), then the clip's mean-frame 4x4 RGB thumbnail (48) and its motion energy (mean
  absolute frame difference) on a 4x4 grid (16). A missing part is zeros.
* ``Acoustic.vector`` (64 wide): mean and standard deviation over time of the 32-band log-mel
  spectrogram (:func:`log_mel`).
* ``Textual.vector``: :func:`kg_ingest.text.embed_texts` of ``"<title>. Genres: …. Tags: ….
  <description>"`` (for every video, as the micro-video loader does without ``textual.npy``).

The nodes also keep the relative paths of their files (``poster``, ``clip``, ``audio``) and
``frames`` / ``seconds`` (the clip's frame count, the audio's duration before cropping).

Validation raises :class:`~kg_ingest.errors.IngestError` naming the file: a media folder that
is no video of ``videos.csv``, two posters or two clips in one folder, an undecodable image or
GIF, a WAV that is not PCM or has no samples, a clip with fewer than 2 frames or a wrongly shaped
``.npy``, and ``visual.npy``/``acoustic.npy``/``textual.npy`` given beside media of the same
modality (each modality comes one way).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd

from kg_ingest._common import ingest_error, modality, textual, video_texts
from kg_ingest.csvio import read_csv, read_text, require_file
from kg_ingest.errors import IngestError
from kg_ingest.microvideo import MODALITY_FILES, load_microvideo
from kg_store.graph_data import GraphData, NodeSet
from kgrec import media
from kgrec import schema as model
from kgrec.media import (
    ACOUSTIC_DIM,
    AUDIO_FILE,
    AUDIO_SECONDS,
    CLIP_DIM,
    CLIP_FILES,
    CLIP_FRAMES,
    DESCRIPTION_FILE,
    HOP,
    IMAGE_SIZE,
    MEDIA_DIR,
    N_FFT,
    N_MELS,
    POSTER_DIM,
    POSTER_FILES,
    SAMPLE_RATE,
    VISUAL_DIM,
    MediaFiles,
    audio_descriptor,
    clip_descriptor,
    log_mel,
    mel_filterbank,
    poster_descriptor,
)

__all__ = [
    "ACOUSTIC_DIM", "AUDIO_FILE", "AUDIO_SECONDS", "CLIP_DIM", "CLIP_FILES", "CLIP_FRAMES",
    "DESCRIPTION_FILE", "HOP", "IMAGE_SIZE", "MEDIA_DIR", "N_FFT", "N_MELS", "POSTER_DIM",
    "POSTER_FILES", "SAMPLE_RATE", "VISUAL_DIM", "MediaFiles", "audio_array",
    "audio_descriptor", "clip_array", "clip_descriptor", "load_rawmedia", "log_mel",
    "mel_filterbank", "poster_array", "poster_descriptor", "scan_media",
]  # fmt: skip

_LAYOUT = "raw-media layout: videos.csv, interactions.csv, media/<video>/ (docs/rawmedia_format.md)"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _ingest_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` of :mod:`kgrec.media`, raising its :class:`~kgrec.media.MediaError` as an
    :class:`IngestError` with the same file and message (and the same cause)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except media.MediaError as e:
            raise ingest_error(e) from e.__cause__

    return wrapper


# the decoders and the folder scan, raising IngestError (kgrec.media's docstrings say more)
poster_array = _ingest_errors(media.poster_array)
audio_array = _ingest_errors(media.audio_array)
clip_array = _ingest_errors(media.clip_array)
scan_media = _ingest_errors(media.scan_media)


# -- the loader -----------------------------------------------------------------------------


def load_rawmedia(path: Path, *, embed: bool = True) -> GraphData:
    """Parse and validate a raw-media directory into graph frames (see the module docstring).

    Args:
        path: the directory.
        embed: embed the texts of the Textual nodes (default: True); without it, Textual nodes
            come only from ``textual.npy``.

    Raises:
        IngestError: a file is missing or malformed; the message names the file (and line and
            field for the CSV files).
    """
    path = Path(path)
    require_file(path / "videos.csv", _LAYOUT)
    if not (path / MEDIA_DIR).is_dir():
        raise IngestError(MEDIA_DIR, f"required folder is missing from {path} ({_LAYOUT})")
    g = load_microvideo(path, embed=False)
    vt = read_csv(path / "videos.csv", ["video", "title"])
    vids = vt.require("video").tolist()
    media = scan_media(path, pd.Index(vids))

    given = {label for label, f in MODALITY_FILES.items() if (path / f).is_file()}
    has = {
        model.VISUAL: [m for m in media.values() if m.poster or m.clip],
        model.ACOUSTIC: [m for m in media.values() if m.audio],
    }
    for label, items in has.items():
        if items and label in given:
            raise IngestError(
                MODALITY_FILES[label],
                f"{label} features are given both here and as media files "
                f"(e.g. {MEDIA_DIR}/{items[0].video}): give each modality one way",
            )

    if has[model.VISUAL]:
        g.nodes.append(_visual(path, has[model.VISUAL], g))
    if has[model.ACOUSTIC]:
        g.nodes.append(_acoustic(path, has[model.ACOUSTIC], g))
    if embed and model.TEXTUAL not in given:
        texts = video_texts(vt)
        for k, vid in enumerate(vids):
            m = media.get(vid)
            if m is not None and m.description is not None:
                texts[k] += " " + _description(m.description)
        nodes, rels = textual(vids, texts)
        g.nodes.append(nodes)
        g.rels.append(rels)
    return g


def _relpath(root: Path, p: Path | None) -> str | None:
    return None if p is None else p.relative_to(root).as_posix()


def _visual(root: Path, items: list[MediaFiles], g: GraphData) -> NodeSet:
    vecs = np.zeros((len(items), VISUAL_DIM), np.float32)
    n_frames: list[int | None] = []
    for k, m in enumerate(items):
        if m.poster is not None:
            vecs[k, :POSTER_DIM] = poster_descriptor(poster_array(m.poster))
        if m.clip is not None:
            clip, n = clip_array(m.clip)
            vecs[k, POSTER_DIM:] = clip_descriptor(clip)
            n_frames.append(n)
        else:
            n_frames.append(None)
    nodes, rels = modality(model.VISUAL, [m.video for m in items], vecs)
    nodes.frame["poster"] = [_relpath(root, m.poster) for m in items]
    nodes.frame["clip"] = [_relpath(root, m.clip) for m in items]
    nodes.frame["frames"] = pd.array(n_frames, dtype="Int64")
    g.rels.append(rels)
    return nodes


def _acoustic(root: Path, items: list[MediaFiles], g: GraphData) -> NodeSet:
    vecs = np.zeros((len(items), ACOUSTIC_DIM), np.float32)
    seconds = []
    for k, m in enumerate(items):
        assert m.audio is not None
        x, dur = audio_array(m.audio)
        vecs[k] = audio_descriptor(x)
        seconds.append(round(dur, 3))
    nodes, rels = modality(model.ACOUSTIC, [m.video for m in items], vecs)
    nodes.frame["audio"] = [_relpath(root, m.audio) for m in items]
    nodes.frame["seconds"] = seconds
    g.rels.append(rels)
    return nodes


def _description(p: Path) -> str:
    return " ".join(read_text(p, name=media.media_name(p)).split())
