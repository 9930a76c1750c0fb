"""Perfect reconstruction: analysis -> identity plan -> numpy render gives the input back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from styletransfer import RenderPlan, analyse, render
from styletransfer.analysis import default_hop, supported_wavelets

WAVELETS = supported_wavelets()


def identity_roundtrip(y: np.ndarray, sr: int, wavelet: str, level: int) -> np.ndarray:
    analysis = analyse(y, sr, wavelet=wavelet, level=level)
    plan = RenderPlan.identity(sr=sr, n_samples=y.shape[1], n_channels=y.shape[0],
                               wavelet=wavelet, level=analysis.level, hop=analysis.hop)
    return render(plan, analysis)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("length", [4097, 10_001])
@pytest.mark.parametrize("channels", [1, 2])
def test_every_wavelet_reconstructs_perfectly(wavelet: str, length: int, channels: int) -> None:
    y = np.random.default_rng(length + channels).standard_normal((channels, length))
    out = identity_roundtrip(y, 22050, wavelet, level=6)
    assert out.shape == y.shape
    assert relative_error(out, y) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sr, level", [(8000, 3), (44100, 8), (48000, 10)])
def test_dtypes_rates_and_depths_reconstruct(dtype: type, sr: int, level: int) -> None:
    y = np.random.default_rng(sr).standard_normal((2, 3 * default_hop(sr, level) + 7))
    y = y.astype(dtype)
    out = identity_roundtrip(y, sr, "sym8", level)
    assert relative_error(out, y.astype(np.float64)) < 1e-6


@settings(max_examples=40, deadline=None)
@given(length=st.integers(min_value=512, max_value=6000), channels=st.integers(1, 3),
       wavelet=st.sampled_from(["haar", "db4", "sym8", "coif3", "bior2.2", "rbio3.1"]),
       level=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_reconstruction_property(length: int, channels: int, wavelet: str, level: int,
                                 seed: int) -> None:
    y = np.random.default_rng(seed).standard_normal((channels, length))
    out = identity_roundtrip(y, 22050, wavelet, level)
    assert relative_error(out, y) < 1e-6


def test_band_energies_add_up_to_signal_energy() -> None:
    y = np.random.default_rng(3).standard_normal((2, 8192))
    analysis = analyse(y, 22050, wavelet="db8", level=7)
    assert analysis.energy.sum() == pytest.approx(np.sum(y * y), rel=1e-9)


@pytest.mark.parametrize("shifts", [2, 3, 8])
def test_shifted_renderings_still_reconstruct(shifts: int) -> None:
    y = np.random.default_rng(shifts).standard_normal((2, 5001))
    analysis = analyse(y, 22050, wavelet="sym12", level=6)
    plan = RenderPlan.identity(sr=22050, n_samples=5001, n_channels=2, wavelet="sym12",
                               level=6, hop=analysis.hop)
    plan = dataclasses.replace(plan, shifts=shifts)
    assert relative_error(render(plan, analysis), y) < 1e-6


def test_two_shifts_cancel_the_images_above_the_top_band_edge() -> None:
    """Band gains on a signal with nothing above sr/4 put aliases there; shifts remove them."""
    sr = 22050
    rng = np.random.default_rng(5)
    spectrum = np.fft.rfft(rng.standard_normal(sr * 2))
    spectrum[np.fft.rfftfreq(sr * 2, 1 / sr) > 0.22 * sr] = 0
    y = np.fft.irfft(spectrum, sr * 2)[None, :]
    analysis = analyse(y, sr, wavelet="sym12", level=6)
    gains = np.ones((analysis.n_frames, 7), dtype=np.float32)
    gains[:, -2] = 4.0  # +12 dB on the band just below the top edge
    base = RenderPlan.identity(sr=sr, n_samples=y.shape[1], n_channels=1, wavelet="sym12",
                               level=6, hop=analysis.hop)

    def image_db(shifts: int) -> float:
        plan = dataclasses.replace(base, mode="timbre", gains=gains, shifts=shifts)
        out = np.fft.rfft(render(plan, analysis)[0])
        above = np.fft.rfftfreq(y.shape[1], 1 / sr) > 0.26 * sr
        return float(10 * np.log10(np.sum(np.abs(out[above]) ** 2) / np.sum(np.abs(out) ** 2)))

    one, two = image_db(1), image_db(2)
    assert one > -40  # the aliasing is there without shifts...
    assert two < one - 20  # ...and two shifts cancel it
