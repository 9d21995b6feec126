"""Raw media files decoded to fixed-size arrays, the audio features and training-free
descriptors computed from them, and the media folder layout (``media/<video id>/``): shared by
the raw-media loader (:mod:`kg_ingest.rawmedia`, which writes the descriptors to the graph) and
MGNN's media encoders (:mod:`recommend.media`, which train CNNs on the same arrays), so both
decode exactly alike. The ground floor: imports nothing of ours (numpy, Pillow, ``wave``).

Each media file is brought to a fixed size (:func:`poster_array`, :func:`audio_array`,
:func:`clip_array`: 32x32 RGB, 2 s of 16 kHz mono, 8 frames of 32x32 RGB). Images are decoded
with Pillow, WAV files with the standard library's :mod:`wave` (PCM 8, 16, 24 or 32 bit, any
sample rate, mono or multi-channel), clips are an animated GIF or a ``.npy`` ``uint8`` array
``[frames, height, width, 3]`` (or ``[frames, height, width]`` for grey).

A file that cannot be decoded, or a folder that breaks the layout, raises :class:`MediaError`
naming the file (``media/<video>/<file>``); the raw-media loader turns it into its own error
with the same message.
"""

from __future__ import annotations

import wave
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class MediaError(ValueError):
    """A media file cannot be decoded, or a media folder breaks the layout.

    ``str(err)`` reads ``"<file>: <message>"``, e.g. ``"media/v1/audio.wav: has no complete
    audio frames"``; the failure behind it, if any, is kept as ``__cause__``.

    Args:
        file: the file as messages name it (``media/<video>/<file>``, or the file name).
        message: what is wrong.
    """

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        self.detail = message
        super().__init__(f"{file}: {message}")


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


# -- decoding to fixed-size arrays --------------------------------------------------------------


def media_name(path: Path) -> str:
    """``media/<video>/<file>``: how messages name a media file (short, yet says which
    video)."""
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
        MediaError: the file is not a readable image.
    """
    Image = _pil()
    try:
        with Image.open(path) as im:
            return _rgb_frame(im, size)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise MediaError(media_name(path), f"not a readable image: {e}") from e


def _wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float waveform in [-1, 1] and its sample rate."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as e:
        raise MediaError(media_name(path), f"not a PCM WAV file: {e}") from e
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
        raise MediaError(media_name(path), f"unsupported sample width {width} bytes (expected 1-4)")
    if len(x) < channels or len(x) % channels:
        raise MediaError(media_name(path), "has no complete audio frames")
    return x.reshape(-1, channels).mean(axis=1), rate


def audio_array(
    path: Path, sample_rate: int = SAMPLE_RATE, seconds: float = AUDIO_SECONDS
) -> tuple[np.ndarray, float]:
    """Decode a WAV file to float32 mono ``[sample_rate * seconds]`` (linear resampling, then
    cropped from the start or zero-padded), and its duration in seconds before cropping.

    Raises:
        MediaError: not a PCM WAV file, or no samples.
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


def load_npy(path: Path, name: str | None = None) -> np.ndarray:
    """A NumPy ``.npy`` array (never pickled objects); other files raise :class:`MediaError`.

    Args:
        path: the file.
        name: how messages name it (default: the file name).
    """
    name = name or path.name
    try:
        with path.open("rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise MediaError(name, f"cannot read: {e.strerror}") from e
    if magic != b"\x93NUMPY":
        what = "a ZIP archive (.npz?)" if magic.startswith(b"PK") else (
            "empty" if not magic else f"starts with {magic!r}"
        )  # fmt: skip
        raise MediaError(
            name,
            f"not a NumPy .npy file ({what}; a .npy file starts with b'\\x93NUMPY'): "
            "write the array with numpy.save",
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise MediaError(
                name, "holds an object array (pickled Python objects): save a numeric array"
            ) from e
        raise MediaError(name, f"not a readable .npy array: {e}") from e
    except (OSError, EOFError) as e:
        raise MediaError(name, f"not a readable .npy array (truncated?): {e}") from e
    return np.asarray(arr)


def clip_array(
    path: Path, frames: int = CLIP_FRAMES, size: int = IMAGE_SIZE
) -> tuple[np.ndarray, int]:
    """Decode a clip (animated GIF, or ``.npy`` uint8 ``[F, H, W(, 3)]``) to float32
    ``[3, frames, size, size]`` in [0, 1], ``frames`` sampled uniformly (repeated when the clip
    is shorter), and the clip's own frame count.

    Raises:
        MediaError: not decodable, wrongly shaped, or fewer than 2 frames.
    """
    Image = _pil()
    name = media_name(path)
    if path.suffix == ".npy":
        arr = load_npy(path, name)
        if arr.ndim == 3:
            arr = np.repeat(arr[..., None], 3, axis=3)
        if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != np.uint8:
            raise MediaError(
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
            raise MediaError(name, f"not a readable GIF: {e}") from e
    n = len(pil_frames)
    if n < 2:
        raise MediaError(name, f"a clip needs at least 2 frames, got {n}")
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
        raise MediaError(
            media_name(found[1]),
            f"two {what}s for one video ({found[0].name} and {found[1].name})",
        )
    return found[0] if found else None


def scan_media(root: Path, videos: Container[str] | None = None) -> dict[str, MediaFiles]:
    """The media of each video folder under ``root/media`` (or ``root`` itself when it has no
    ``media`` folder), by video id.

    Args:
        root: the dataset folder.
        videos: the known video ids; a folder outside them is an error (default: None, any).

    Raises:
        MediaError: an unknown video folder, or two posters / clips in one folder.
    """
    base = root / MEDIA_DIR if (root / MEDIA_DIR).is_dir() else root
    out: dict[str, MediaFiles] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        vid = folder.name
        if videos is not None and vid not in videos:
            raise MediaError(f"{MEDIA_DIR}/{vid}", f"unknown video {vid!r} (not in videos.csv)")
        desc = folder / DESCRIPTION_FILE
        out[vid] = MediaFiles(
            video=vid,
            poster=_one_of(folder, POSTER_FILES, "poster"),
            clip=_one_of(folder, CLIP_FILES, "clip"),
            audio=folder / AUDIO_FILE if (folder / AUDIO_FILE).is_file() else None,
            description=desc if desc.is_file() else None,
        )
    return out
