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
Images are decoded with Pillow, WAV files with the standard library's :mod:`wave` (PCM 8, 16,
24 or 32 bit, any sample rate, mono or multi-channel), clips are an animated GIF or a ``.npy``
``uint8`` array ``[frames, height, width, 3]`` (or ``[frames, height, width]`` for grey).

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

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg_ingest._common import load_npy, modality, read_csv, read_text, require_file, textual
from kg_ingest.errors import IngestError
from kg_ingest.microvideo import MODALITY_FILES, _multi, _video_text, load_microvideo
from kg_store.graph_data import GraphData, NodeSet
from kgrec import schema as model

MEDIA_DIR = "media"
POSTER_FILES = ("poster.png", "poster.jpg", "poster.jpeg")
CLIP_FILES = ("clip.gif", "clip.npy")
AUDIO_FILE = "audio.wav"
DESCRIPTION_FILE = "description.txt"

IMAGE_SIZE = 32
"""Side of the square poster and clip frames, in pixels."""
SAMPLE_RATE = 16_000
"""Audio is resampled to this rate (Hz) ..."""
AUDIO_SECONDS = 2.0
"""... and cropped (from the start) or zero-padded to this many seconds."""
CLIP_FRAMES = 8
"""Frames sampled uniformly over a clip."""
N_FFT, HOP, N_MELS = 512, 256, 32
"""Short-time Fourier transform size, hop and mel bands of :func:`log_mel`."""

POSTER_DIM = 8 * 8 * 3 + 3 * 8
CLIP_DIM = 4 * 4 * 3 + 4 * 4
VISUAL_DIM = POSTER_DIM + CLIP_DIM
ACOUSTIC_DIM = 2 * N_MELS

_LAYOUT = "raw-media layout: videos.csv, interactions.csv, media/<video>/ (docs/rawmedia_format.md)"


# -- decoding to fixed-size arrays --------------------------------------------------------------


def _rel(path: Path) -> str:
    """``media/<video>/<file>`` for messages (short, yet says which video)."""
    return "/".join(path.parts[-3:])


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow is in the "media" extra
        raise RuntimeError("raw media needs Pillow: pip install 'kgrec[media]'") from e
    return Image


def _rgb_frame(img: Any, size: int) -> np.ndarray:
    """A Pillow image as float32 ``[3, size, size]`` in [0, 1] (bilinear resize)."""
    Image = _pil()
    im = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return (np.asarray(im, dtype=np.float32) / 255.0).transpose(2, 0, 1).copy()


def poster_array(path: Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """Decode a poster (PNG or JPEG) to float32 ``[3, size, size]`` in [0, 1].

    Raises:
        IngestError: the file is not a readable image.
    """
    Image = _pil()
    try:
        with Image.open(path) as im:
            return _rgb_frame(im, size)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise IngestError(_rel(path), f"not a readable image: {e}") from e


def _wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float waveform in [-1, 1] and its sample rate."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as e:
        raise IngestError(_rel(path), f"not a PCM WAV file: {e}") from e
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise IngestError(_rel(path), f"unsupported sample width {width} bytes (expected 1-4)")
    if len(x) < channels or len(x) % channels:
        raise IngestError(_rel(path), "has no complete audio frames")
    return x.reshape(-1, channels).mean(axis=1), rate


def audio_array(
    path: Path, sample_rate: int = SAMPLE_RATE, seconds: float = AUDIO_SECONDS
) -> tuple[np.ndarray, float]:
    """Decode a WAV file to float32 mono ``[sample_rate * seconds]`` (linear resampling, then
    cropped from the start or zero-padded), and its duration in seconds before cropping.

    Raises:
        IngestError: not a PCM WAV file, or no samples.
    """
    x, rate = _wav(path)
    duration = len(x) / rate
    if rate != sample_rate:
        n = max(int(round(len(x) * sample_rate / rate)), 1)
        x = np.interp(np.arange(n) * (rate / sample_rate), np.arange(len(x)), x)
    n_out = int(round(sample_rate * seconds))
    out = np.zeros(n_out, np.float32)
    out[: min(n_out, len(x))] = x[:n_out]
    return out, duration


def clip_array(
    path: Path, frames: int = CLIP_FRAMES, size: int = IMAGE_SIZE
) -> tuple[np.ndarray, int]:
    """Decode a clip (animated GIF, or ``.npy`` uint8 ``[F, H, W(, 3)]``) to float32
    ``[3, frames, size, size]`` in [0, 1], ``frames`` sampled uniformly (repeated when the clip
    is shorter), and the clip's own frame count.

    Raises:
        IngestError: not decodable, wrongly shaped, or fewer than 2 frames.
    """
    Image = _pil()
    name = _rel(path)
    if path.suffix == ".npy":
        arr = load_npy(path, name)
        if arr.ndim == 3:
            arr = np.repeat(arr[..., None], 3, axis=3)
        if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != np.uint8:
            raise IngestError(
                name, f"expected uint8 [frames, height, width, 3], got {arr.dtype} {arr.shape}"
            )
        pil_frames = [Image.fromarray(f) for f in arr]
    else:
        try:
            with Image.open(path) as im:
                pil_frames = []
                for k in range(getattr(im, "n_frames", 1)):
                    im.seek(k)
                    pil_frames.append(im.convert("RGB"))
        except (OSError, ValueError, EOFError) as e:
            raise IngestError(name, f"not a readable GIF: {e}") from e
    n = len(pil_frames)
    if n < 2:
        raise IngestError(name, f"a clip needs at least 2 frames, got {n}")
    pick = np.linspace(0, n - 1, frames).round().astype(int)
    return np.stack([_rgb_frame(pil_frames[k], size) for k in pick], axis=1), n


# -- audio features -------------------------------------------------------------------------


def mel_filterbank(
    n_fft: int = N_FFT, n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Triangular filters on the HTK mel scale (``2595 log10(1 + f / 700)``), 0 Hz to Nyquist.

    Shapes:
        returns float32 ``[n_mels, n_fft // 2 + 1]``; filter ``m`` peaks (value 1) at the
        ``m + 1``-th of ``n_mels + 2`` points evenly spaced in mel.
    """
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(0.0, mel(sample_rate / 2), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs[None]) / np.maximum(hi - mid, 1e-9)
    return np.clip(np.minimum(up, down), 0.0, None).astype(np.float32)


def log_mel(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, n_mels: int = N_MELS) -> np.ndarray:
    """``log(1e-6 + mel power)`` of a 16 kHz waveform: Hann-windowed frames every ``hop``
    samples, zero-padded by ``n_fft // 2`` at both ends (``torch.stft(center=True)``'s framing
    with constant padding), power spectrum through :func:`mel_filterbank`.

    Shapes:
        x: ``[S]`` -> ``[n_mels, 1 + S // hop]``.
    """
    pad = np.pad(np.asarray(x, np.float32), n_fft // 2)
    n_frames = 1 + (len(pad) - n_fft) // hop
    idx = np.arange(n_fft)[None] + hop * np.arange(n_frames)[:, None]
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic, as torch.hann_window
    power = np.abs(np.fft.rfft(pad[idx] * win, axis=1)) ** 2
    return np.log(1e-6 + mel_filterbank(n_fft, n_mels) @ power.T).astype(np.float32)


# -- descriptors ------------------------------------------------------------------------------


def _blocks(img: np.ndarray, k: int) -> np.ndarray:
    """Mean over a ``k x k`` grid of blocks: ``[C, H, W]`` -> ``[C, k, k]``."""
    c, h, w = img.shape
    return img.reshape(c, k, h // k, k, w // k).mean(axis=(2, 4))


def poster_descriptor(poster: np.ndarray) -> np.ndarray:
    """8x8 RGB thumbnail and 8-bin histogram per channel of a :func:`poster_array`."""
    hist = [np.histogram(ch, bins=8, range=(0.0, 1.0))[0] / ch.size for ch in poster]
    return np.concatenate([_blocks(poster, 8).ravel(), np.concatenate(hist)]).astype(np.float32)


def clip_descriptor(clip: np.ndarray) -> np.ndarray:
    """Mean-frame 4x4 RGB thumbnail and 4x4 motion energy of a :func:`clip_array`."""
    mean_frame = clip.mean(axis=1)
    motion = np.abs(np.diff(clip.mean(axis=0), axis=0)).mean(axis=0)[None]
    return np.concatenate([_blocks(mean_frame, 4).ravel(), _blocks(motion, 4).ravel()]).astype(
        np.float32
    )


def audio_descriptor(wave_: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over time of each log-mel band."""
    m = log_mel(wave_)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)]).astype(np.float32)


# -- finding the files ----------------------------------------------------------------------


@dataclass
class MediaFiles:
    """The media files of one video (each ``None`` when absent)."""

    video: str
    poster: Path | None = None
    clip: Path | None = None
    audio: Path | None = None
    description: Path | None = None


def _one_of(folder: Path, names: tuple[str, ...], what: str) -> Path | None:
    found = [folder / n for n in names if (folder / n).is_file()]
    if len(found) > 1:
        raise IngestError(
            _rel(found[1]), f"two {what}s for one video ({found[0].name} and {found[1].name})"
        )
    return found[0] if found else None


def scan_media(root: Path, videos: pd.Index | None = None) -> dict[str, MediaFiles]:
    """The media of each video folder under ``root/media`` (or ``root`` itself when it has no
    ``media`` folder), by video id.

    Args:
        root: the dataset folder.
        videos: the known video ids; a folder outside them is an error (default: None, any).

    Raises:
        IngestError: an unknown video folder, or two posters / clips in one folder.
    """
    base = root / MEDIA_DIR if (root / MEDIA_DIR).is_dir() else root
    out: dict[str, MediaFiles] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        vid = folder.name
        if videos is not None and vid not in videos:
            raise IngestError(f"{MEDIA_DIR}/{vid}", f"unknown video {vid!r} (not in videos.csv)")
        desc = folder / DESCRIPTION_FILE
        out[vid] = MediaFiles(
            video=vid,
            poster=_one_of(folder, POSTER_FILES, "poster"),
            clip=_one_of(folder, CLIP_FILES, "clip"),
            audio=folder / AUDIO_FILE if (folder / AUDIO_FILE).is_file() else None,
            description=desc if desc.is_file() else None,
        )
    return out


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
        texts = [
            _video_text(t, gs, ts)
            for t, gs, ts in zip(
                vt.frame["title"], _multi(vt, "genre"), _multi(vt, "tags", tag=True), strict=True
            )
        ]
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
    return " ".join(read_text(p, name=_rel(p)).split())
