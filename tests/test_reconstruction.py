"""Perfect reconstruction: analysis -> identity plan -> numpy render gives the input back."""

from __future__ import annotations

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
