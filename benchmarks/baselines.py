"""Reference systems for the quality benchmark, and audio helpers shared with the peer runners.

Every system takes ``(content, style, sr)``, both ``(channels, samples)`` arrays at rate
``sr``, and returns ``(channels, samples)`` float32 audio of the content's length and channel
count:

- `identity`: the content unchanged. The floor: no style at all, the content fully kept.
- `tiled_style`: the style looped or cut to the content's length. The ceiling of style
  closeness, with none of the content kept.
- `channel_vocoder`: channel-vocoder cross-synthesis. The content is the carrier: its STFT
  (n_fft 2048, hop 512) is split into 28 mel bands (40 Hz to 16 kHz). In every frame each band
  is scaled so that the frame's band levels take the *style's average band shape* (the
  style's mean band power over its active frames) at the content's own frame level. The
  content's band envelope, smoothed over three frames (35 ms) as a vocoder's envelope
  followers do, is divided out; the gain (limited to -40..+30 dB) is interpolated from band
  centres to STFT bins on a log-frequency axis. The content's fine structure (pitch, onsets,
  timing) and loudness curve stay; its spectral envelope becomes the style's. The style
  is not time-aligned with the content, so its time-averaged levels, not its frame
  envelopes, are imposed.

The three peak-limit to -1 dBFS by a single gain (only ever downwards).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from scipy.ndimage import uniform_filter1d

#: Output peaks are kept at or below this level (-1 dBFS).
PEAK_CEILING = float(10 ** (-1 / 20))
#: STFT of the channel vocoder.
N_FFT, HOP = 2048, 512
#: Vocoder bands and their frequency range (Hz).
N_BANDS, F_MIN, F_MAX = 28, 40.0, 16000.0
#: Frames over which the content's band envelope is smoothed.
SMOOTH_FRAMES = 3
#: Frames within this many dB of the style's loudest frame count when averaging its bands.
ACTIVE_DB = 60.0
#: Band gain limits (dB) of the vocoder.
GAIN_MIN_DB, GAIN_MAX_DB = -40.0, 30.0

Baseline = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def peer_parser(description: str) -> argparse.ArgumentParser:
    """The command line every peer script shares: ``CONTENT STYLE OUT [--seed N]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("content", type=Path)
    parser.add_argument("style", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def read_audio(path: str | Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read ``path`` as ``(channels, samples)`` float32, resampled to ``sr`` when given."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    y = np.ascontiguousarray(data.T)
    if sr is not None and rate != sr:
        y = librosa.resample(y, orig_sr=rate, target_sr=sr, res_type="soxr_hq", axis=-1)
        rate = sr
    return y.astype(np.float32), int(rate)


def match_channels(y: np.ndarray, n_channels: int) -> np.ndarray:
    """``y`` with ``n_channels`` rows: channels repeated cyclically or folded by averaging."""
    have = y.shape[0]
    if have == n_channels:
        return y
    if have < n_channels:
        return y[np.arange(n_channels) % have]
    return np.stack([y[np.arange(have) % n_channels == c].mean(axis=0)
                     for c in range(n_channels)])


def fit_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Cut ``y`` (``(channels, samples)``) to ``n_samples``, or pad it with zeros."""
    if y.shape[1] >= n_samples:
        return y[:, :n_samples]
    return np.pad(y, ((0, 0), (0, n_samples - y.shape[1])))


def limit_peak(y: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Scale ``y`` down as a whole so that its peak is at most ``ceiling``; NaN becomes 0."""
    y = np.nan_to_num(np.asarray(y, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return y * np.float32(ceiling / peak) if peak > ceiling else y


def finish(y: np.ndarray, n_channels: int, n_samples: int) -> np.ndarray:
    """Shape an output like the content (channels, length) and peak-limit it, as float32."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None, :]
    return limit_peak(fit_length(match_channels(y, n_channels), n_samples))


def write_audio(path: str | Path, y: np.ndarray, sr: int) -> None:
    """Write ``(channels, samples)`` audio as a 24-bit WAV file."""
    sf.write(str(path), np.asarray(y).T, sr, subtype="PCM_24")


def identity(content: np.ndarray, style: np.ndarray, sr: int) -> np.ndarray:
    """The content itself, as float32."""
    return np.asarray(content, dtype=np.float32).copy()


def tiled_style(content: np.ndarray, style: np.ndarray, sr: int) -> np.ndarray:
    """The style looped (or cut) to the content's length, with the content's channel count."""
    n = content.shape[1]
    repeats = -(-n // max(1, style.shape[1]))
    return finish(np.tile(style, (1, repeats)), content.shape[0], n)


def _band_filters(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Mel band weights ``(bands, bins)`` (triangles of height 1) and band centres in Hz."""
    f_max = min(F_MAX, 0.5 * sr)
    weights = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_BANDS, fmin=F_MIN, fmax=f_max,
                                  norm=None)
    centres = librosa.mel_frequencies(n_mels=N_BANDS + 2, fmin=F_MIN, fmax=f_max)[1:-1]
    return np.asarray(weights), np.asarray(centres)


def _band_power(power: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Band powers ``(bands, frames)`` of an STFT power spectrogram ``(bins, frames)``."""
    return np.asarray(weights @ power)


def channel_vocoder(content: np.ndarray, style: np.ndarray, sr: int) -> np.ndarray:
    """Impose the style's average band shape on the content at the content's frame levels."""
    weights, centres = _band_filters(sr)
    tiny = 1e-12

    style_power = np.abs(librosa.stft(style.mean(axis=0), n_fft=N_FFT, hop_length=HOP)) ** 2
    style_bands = _band_power(style_power, weights)
    frame_power = style_power.sum(axis=0)
    active = frame_power >= frame_power.max() * 10 ** (-ACTIVE_DB / 10)
    style_shape = style_bands[:, active].mean(axis=1)
    style_shape /= style_shape.sum() + tiny

    spectra = librosa.stft(content, n_fft=N_FFT, hop_length=HOP)  # (channels, bins, frames)
    mix_power = (np.abs(spectra) ** 2).mean(axis=0)
    envelope = uniform_filter1d(_band_power(mix_power, weights), SMOOTH_FRAMES, axis=1)
    level = envelope.sum(axis=0, keepdims=True)
    floor = max(float(envelope.max()), tiny) * 1e-10
    target = style_shape[:, None] * level
    gain_db = 10 * np.log10((target + floor) / (envelope + floor))
    gain_db = np.clip(gain_db, GAIN_MIN_DB, GAIN_MAX_DB)

    log_bins = np.log(np.maximum(librosa.fft_frequencies(sr=sr, n_fft=N_FFT), 1.0))
    log_centres = np.log(centres)
    bin_gain_db = np.stack([np.interp(log_bins, log_centres, frame) for frame in gain_db.T],
                           axis=1)
    bin_gain = (10 ** (bin_gain_db / 20)).astype(np.float32)
    out = librosa.istft(spectra * bin_gain[None], hop_length=HOP, n_fft=N_FFT,
                        length=content.shape[1])
    return finish(out, content.shape[0], content.shape[1])


#: The baselines by the names the benchmark gives them.
BASELINES: dict[str, Baseline] = {
    "identity": identity,
    "tiled-style": tiled_style,
    "channel-vocoder": channel_vocoder,
}
