"""Tiny media files written by the tests themselves: solid-colour posters, pure-tone WAVs,
moving-square clips (animated GIF or ``.npy``), and a raw-media dataset folder around them."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from PIL import Image


def write_poster(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (20, 30)) -> Path:
    """A solid-colour image (PNG or JPEG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)
    return path


def write_tone(
    path: Path,
    freq: float,
    seconds: float = 0.5,
    rate: int = 8000,
    channels: int = 1,
    width: int = 2,
    amplitude: float = 0.5,
) -> Path:
    """A sine tone as PCM WAV (``width`` bytes per sample)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    x = amplitude * np.sin(2 * np.pi * freq * t)
    if width == 1:
        raw = np.round(x * 127 + 128).astype(np.uint8).tobytes()
    else:
        raw = np.round(x * 32767).astype("<i2").tobytes()
    raw = b"".join(raw[i : i + width] * channels for i in range(0, len(raw), width))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


def square_frames(
    n: int = 6, size: int = 16, rgb: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """``n`` frames ``[n, size, size, 3]`` uint8 of a 4-pixel square moving right on black."""
    frames = np.zeros((n, size, size, 3), np.uint8)
    for k in range(n):
        x = (2 * k) % (size - 4)
        frames[k, 6:10, x : x + 4] = rgb
    return frames


def write_clip(path: Path, frames: np.ndarray) -> Path:
    """Frames as an animated GIF, or as ``.npy`` by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, frames)
    else:
        ims = [Image.fromarray(f) for f in frames]
        ims[0].save(path, save_all=True, append_images=ims[1:], duration=100, loop=0)
    return path


def write_dataset(root: Path) -> Path:
    """A raw-media dataset: 3 videos, 3 users; v1 has every file (GIF clip), v2 a JPEG poster,
    an 8-bit stereo WAV and a ``.npy`` clip, v3 no media folder at all."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "videos.csv").write_text(
        "video,title,genre,tags\n"
        "v1,Cat jumps,Pets|Comedy,cat\n"
        "v2,Guitar solo,Music,guitar\n"
        "v3,Cooking pasta,Food,recipe\n"
    )
    (root / "interactions.csv").write_text(
        "user,video,kind\nu1,v1,click\nu1,v2,like\nu2,v2,click\nu3,v3,click\nu3,v1,click\n"
    )
    m = root / "media"
    write_poster(m / "v1" / "poster.png", (255, 0, 0))
    write_tone(m / "v1" / "audio.wav", 440.0)
    write_clip(m / "v1" / "clip.gif", square_frames())
    (m / "v1" / "description.txt").write_text("A cat jumps  onto a table.\n")
    write_poster(m / "v2" / "poster.jpg", (0, 0, 255))
    write_tone(m / "v2" / "audio.wav", 2000.0, rate=16000, channels=2, width=1)
    write_clip(m / "v2" / "clip.npy", square_frames(4, rgb=(0, 255, 0)))
    return root
