"""Shared fixtures: synthetic content and style clips, written to temporary files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from styletransfer.demo import breathy_drone, plucked_melody

SR = 22050
# Every command a test runs in a child process fails on a RuntimeWarning (numpy's "invalid
# value encountered", say), as the tests themselves do (pyproject.toml): none may reach a
# user's terminal.
os.environ["PYTHONWARNINGS"] = "error::RuntimeWarning"


@pytest.fixture(scope="session")
def content_audio() -> np.ndarray:
    """A 4 s mono melody of bright harmonic tones with clear onsets."""
    return plucked_melody(SR, notes=(60, 64, 67, 72, 71, 67, 64, 62))


@pytest.fixture(scope="session")
def style_audio() -> np.ndarray:
    """A 4 s stereo dark drone with breath noise and bells: a very different timbre."""
    return breathy_drone(SR, seconds=4.0)


@pytest.fixture()
def clips(tmp_path: Path, content_audio: np.ndarray, style_audio: np.ndarray) -> dict[str, Path]:
    """Content and style written as 16-bit WAV files in a fresh folder."""
    content, style = tmp_path / "content.wav", tmp_path / "style.wav"
    sf.write(content, content_audio.T, SR, subtype="PCM_16")
    sf.write(style, style_audio.T, SR, subtype="PCM_16")
    return {"content": content, "style": style, "dir": tmp_path}


def read(path: Path) -> tuple[np.ndarray, int]:
    """Read a file as (channels, samples) float64."""
    data, sr = sf.read(path, always_2d=True)
    return data.T, sr


def band_share(y: np.ndarray, sr: int) -> np.ndarray:
    """Log share of energy per octave band (edges sr/2**k, lowest band from 0), from an STFT.

    The reference is the signal's spectrum, not a wavelet analysis, so it judges what is
    heard rather than what the transform's own coefficients say.
    """
    import librosa

    power = np.abs(librosa.stft(y.mean(axis=0), n_fft=4096, hop_length=1024)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=4096)
    edges = sr / 2 / 2.0 ** np.arange(7, -1, -1)
    band = np.searchsorted(edges, freqs, side="right").clip(0, 7)
    energy = np.bincount(band, weights=power.sum(axis=1), minlength=8)
    return np.asarray(np.log(energy / energy.sum() + 1e-12))


def onset_envelope(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return np.asarray(librosa.onset.onset_strength(y=y.mean(axis=0), sr=sr))
