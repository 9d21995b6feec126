"""Encoders of raw media for MGNN (paper 002, eq 2): a small CNN for posters, a log-mel
spectrogram and a CNN for audio, a 3D CNN over sampled frames for clips; and the per-item media
tensors they read (:class:`ItemMedia`, from the raw-media layout of ``docs/rawmedia_format.md``).

Everything is plain ``torch``: the mel spectrogram is ``torch.stft`` through the triangular
filterbank of :func:`kgrec.media.mel_filterbank` (no torchaudio), and the arrays are decoded by
:mod:`kgrec.media` (Pillow and the standard library's ``wave``), as the raw-media loader
(:mod:`kg_ingest.rawmedia`) decodes them, so the model trains on exactly the fixed-size arrays
whose descriptors the ingest writes to the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from kgrec import media


class MelSpectrogram(nn.Module):
    """``log(1e-6 + mel power)`` of 16 kHz waveforms, the same numbers as
    :func:`kgrec.media.log_mel`.

    Args:
        n_fft: FFT size (default: 512).
        hop: hop between frames in samples (default: 256).
        n_mels: mel bands (default: 32).
        sample_rate: of the input (default: 16000).

    Shapes:
        wave: ``[B, S]`` -> ``[B, n_mels, 1 + S // hop]``.
    """

    window: Tensor
    fbank: Tensor

    def __init__(
        self,
        n_fft: int = media.N_FFT,
        hop: int = media.HOP,
        n_mels: int = media.N_MELS,
        sample_rate: int = media.SAMPLE_RATE,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        fb = media.mel_filterbank(n_fft, n_mels, sample_rate)
        self.register_buffer("fbank", torch.from_numpy(fb), persistent=False)

    def forward(self, wave: Tensor) -> Tensor:
        spec = torch.stft(
            wave, self.n_fft, self.hop, window=self.window, center=True, pad_mode="constant",
            return_complex=True,
        )  # fmt: skip
        return torch.log(1e-6 + self.fbank @ spec.abs().pow(2))


def _conv_block(
    conv: type[nn.Conv2d] | type[nn.Conv3d], c_in: int, c_out: int, stride: int | tuple[int, ...]
) -> nn.Sequential:
    """conv 3 (padding 1) -> group norm -> ReLU.

    Group norm rather than batch norm: no running statistics, so a model scores the same in
    training and evaluation mode and a batch of one item is fine.
    """
    return nn.Sequential(
        conv(c_in, c_out, 3, stride=stride, padding=1, bias=False),  # type: ignore[arg-type]
        nn.GroupNorm(min(4, c_out), c_out),
        nn.ReLU(),
    )


class PosterCNN(nn.Module):
    """Two stride-2 convolutions, global average pooling and a dense layer (eq 2's
    ``CNN(FC(image))``).

    Args:
        dim: output size.
        width: channels of the first convolution, doubled in the second (default: 16).

    Shapes:
        images: ``[B, 3, H, W]`` -> ``[B, dim]``.
    """

    def __init__(self, dim: int, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_block(nn.Conv2d, 3, width, 2), _conv_block(nn.Conv2d, width, 2 * width, 2)
        )
        self.out = nn.Linear(2 * width, dim)

    def forward(self, images: Tensor) -> Tensor:
        return self.out(self.body(images).mean(dim=(2, 3)))


class AudioCNN(nn.Module):
    """Log-mel spectrogram (:class:`MelSpectrogram`), standardised per clip, then a 2D CNN
    over (band, time) (eq 2's ``MF(FC(audio))``).

    Args:
        dim: output size.
        width: channels of the first convolution, doubled in the second (default: 16).

    Shapes:
        wave: ``[B, S]`` (16 kHz) -> ``[B, dim]``; or a precomputed log-mel ``[B, n_mels, T]``.
    """

    def __init__(self, dim: int, width: int = 16) -> None:
        super().__init__()
        self.mel = MelSpectrogram()
        self.body = nn.Sequential(
            _conv_block(nn.Conv2d, 1, width, 2), _conv_block(nn.Conv2d, width, 2 * width, 2)
        )
        self.out = nn.Linear(2 * width, dim)

    def features(self, wave: Tensor) -> Tensor:
        """The normalised log-mel input of the CNN. Shapes: ``[B, S]`` -> ``[B, M, T]``."""
        m = self.mel(wave)
        # per-clip standardisation: loudness differences should not dominate the filters
        return (m - m.mean(dim=(1, 2), keepdim=True)) / (m.std(dim=(1, 2), keepdim=True) + 1e-5)

    def forward(self, wave: Tensor) -> Tensor:
        x = self.features(wave) if wave.dim() == 2 else wave
        return self.out(self.body(x.unsqueeze(1)).mean(dim=(2, 3)))


class ClipCNN3D(nn.Module):
    """A 3D CNN over sampled frames (eq 2's ``3DCNN(FC(video))``): a spatial-only then a
    spatio-temporal stride-2 convolution, global average pooling, a dense layer.

    Args:
        dim: output size.
        width: channels of the first convolution, doubled in the second (default: 8).

    Shapes:
        clips: ``[B, 3, F, H, W]`` -> ``[B, dim]``.
    """

    def __init__(self, dim: int, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_block(nn.Conv3d, 3, width, (1, 2, 2)),
            _conv_block(nn.Conv3d, width, 2 * width, 2),
        )
        self.out = nn.Linear(2 * width, dim)

    def forward(self, clips: Tensor) -> Tensor:
        return self.out(self.body(clips).mean(dim=(2, 3, 4)))


@dataclass
class ItemMedia:
    """Fixed-size media tensors of the items that have media files.

    Attributes:
        poster_items, posters: item ids ``[P]`` and images ``[P, 3, 32, 32]``.
        audio_items, audio: item ids ``[A]`` and 16 kHz waveforms ``[A, 32000]``.
        clip_items, clips: item ids ``[C]`` and frames ``[C, 3, 8, 32, 32]``.
    """

    poster_items: Tensor
    posters: Tensor
    audio_items: Tensor
    audio: Tensor
    clip_items: Tensor
    clips: Tensor

    def __len__(self) -> int:
        return len(set(torch.cat([self.poster_items, self.audio_items, self.clip_items]).tolist()))


def load_item_media(root: str | Path, item_ids: list[str]) -> ItemMedia:
    """Decode the media of the items in ``item_ids`` found under ``root`` (a raw-media dataset
    folder, or its ``media`` folder). Folders of videos not in ``item_ids`` are ignored.

    Args:
        root: the folder.
        item_ids: the model's item keys (``RecData.item_ids``), in item-id order.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        kgrec.media.MediaError: a media file is malformed (or two posters / clips in one
            folder).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"media folder {root} does not exist")
    index = {str(k): i for i, k in enumerate(item_ids)}
    found = {v: m for v, m in media.scan_media(root).items() if v in index}
    posters: list[tuple[int, np.ndarray]] = []
    audio: list[tuple[int, np.ndarray]] = []
    clips: list[tuple[int, np.ndarray]] = []
    for vid, m in found.items():
        i = index[vid]
        if m.poster is not None:
            posters.append((i, media.poster_array(m.poster)))
        if m.audio is not None:
            audio.append((i, media.audio_array(m.audio)[0]))
        if m.clip is not None:
            clips.append((i, media.clip_array(m.clip)[0]))

    def stack(rows: list[tuple[int, np.ndarray]], shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        rows.sort(key=lambda r: r[0])
        ids = torch.tensor([r[0] for r in rows], dtype=torch.int64)
        x = np.stack([r[1] for r in rows]) if rows else np.zeros((0, *shape), np.float32)
        return ids, torch.from_numpy(x.astype(np.float32))

    s, f = media.IMAGE_SIZE, media.CLIP_FRAMES
    n_samples = int(round(media.SAMPLE_RATE * media.AUDIO_SECONDS))
    pi, px = stack(posters, (3, s, s))
    ai, ax = stack(audio, (n_samples,))
    ci, cx = stack(clips, (3, f, s, s))
    return ItemMedia(pi, px, ai, ax, ci, cx)
