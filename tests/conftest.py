"""Shared fixtures: synthetic content and style clips, written to temporary files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from styletransfer.demo import breathy_drone, plucked_melody

SR = 22050


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
    """Log share of energy per octave band, from a fixed reference analysis (db8, 7 levels)."""
    from styletransfer.analysis import analyse

    energy = analyse(y, sr, wavelet="db8", level=7).energy.sum(axis=0)
    return np.log(energy / energy.sum())


def onset_envelope(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    return np.asarray(librosa.onset.onset_strength(y=y.mean(axis=0), sr=sr))
