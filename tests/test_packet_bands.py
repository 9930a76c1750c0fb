"""Bands finer than an octave: wavelet-packet splits of the detail bands."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from styletransfer import RenderPlan, Settings, analyse, render, transfer
from styletransfer.analysis import (
    MIN_COEFFS_PER_FRAME,
    band_edges,
    band_sizes,
    default_hop,
    packet_depths,
)
from styletransfer.demo import breathy_drone, plucked_melody
from styletransfer.errors import ParameterError
from styletransfer.evaluate import evaluate
from styletransfer.model import StyleModel

SR = 22050


def roundtrip(y: np.ndarray, sr: int, wavelet: str, level: int, bands_per_octave: int,
              shifts: int = 1) -> np.ndarray:
    analysis = analyse(y, sr, wavelet=wavelet, level=level, bands_per_octave=bands_per_octave)
    plan = RenderPlan.identity(sr=sr, n_samples=y.shape[1], n_channels=y.shape[0],
                               wavelet=wavelet, level=level, hop=analysis.hop,
                               bands_per_octave=bands_per_octave)
    return render(dataclasses.replace(plan, shifts=shifts), analysis)


@pytest.mark.parametrize("bands_per_octave", [2, 4, 8])
@pytest.mark.parametrize("wavelet", ["haar", "db4", "sym12", "coif3", "bior2.2"])
@pytest.mark.parametrize("shifts", [1, 2])
def test_packet_bands_reconstruct_perfectly(bands_per_octave: int, wavelet: str,
                                            shifts: int) -> None:
    y = np.random.default_rng(bands_per_octave).standard_normal((2, 10_001))
    out = roundtrip(y, 44100, wavelet, 8, bands_per_octave, shifts)
    assert np.linalg.norm(out - y) / np.linalg.norm(y) < 1e-6


@pytest.mark.parametrize("bands_per_octave", [2, 4, 8])
def test_band_energies_still_add_up(bands_per_octave: int) -> None:
    y = np.random.default_rng(1).standard_normal((1, 8192))
    analysis = analyse(y, SR, wavelet="sym12", level=7, bands_per_octave=bands_per_octave)
    assert analysis.energy.sum() == pytest.approx(np.sum(y * y), rel=1e-9)
    assert analysis.n_bands == len(band_edges(SR, analysis.hop, 7, bands_per_octave))
    assert [c.shape[1] // analysis.n_frames for c in analysis.coeffs] == analysis.band_sizes()


@pytest.mark.parametrize("bands_per_octave", [2, 4, 8])
def test_a_sine_lands_in_the_band_whose_edges_hold_it(bands_per_octave: int) -> None:
    """The packet parts come out in frequency order (a high-pass child is mirrored)."""
    sr, t = 44100, np.arange(44100) / 44100
    edges = band_edges(sr, default_hop(sr, 8), 8, bands_per_octave)
    tested = 0
    for low, high in edges[1:]:
        width = high - low
        for freq in (low + 0.3 * width, low + 0.7 * width):
            a = analyse(np.sin(2 * np.pi * freq * t)[None, :], sr, level=8,
                        bands_per_octave=bands_per_octave)
            loudest = int(a.energy.sum(axis=0).argmax())
            assert edges[loudest, 0] <= freq <= edges[loudest, 1], (freq, edges[loudest])
            tested += 1
    assert tested == 2 * (len(edges) - 1)


def test_deep_bands_keep_enough_coefficients_per_frame() -> None:
    assert packet_depths(1024, 8, 1) == [0] * 9
    assert packet_depths(1024, 8, 4) == [0, 2, 2, 2, 2, 2, 2, 2, 2]
    for bands_per_octave in (2, 4, 8):
        sizes = band_sizes(1024, 8, bands_per_octave)
        assert min(sizes[1:]) >= MIN_COEFFS_PER_FRAME
    assert len(band_sizes(1024, 8, 4)) == 33


def test_plans_and_models_remember_their_bands(tmp_path: Path) -> None:
    content = plucked_melody(SR, notes=(60, 64, 67, 72))
    style = breathy_drone(SR, seconds=2.0)
    settings = Settings(bands_per_octave=4, clusters=4)
    out, plan = transfer(content, SR, [(style, SR)], settings=settings)
    assert plan.bands_per_octave == 4 and plan.n_bands == len(plan.band_edges())
    plan.save(tmp_path / "plan.npz")
    loaded = RenderPlan.load(tmp_path / "plan.npz")
    assert loaded.bands_per_octave == 4
    again = render(loaded, analyse(content, SR, bands_per_octave=4, level=plan.level))
    assert np.array_equal(again, out)
    with pytest.raises(ParameterError, match="bands per octave"):
        render(loaded, analyse(content, SR, level=plan.level))

    model = StyleModel(3).fit([analyse(style, SR, bands_per_octave=2)])
    model.save(tmp_path / "style.npz")
    assert StyleModel.load(tmp_path / "style.npz")[0].bands_per_octave_ == 2


def test_finer_bands_take_more_of_the_style() -> None:
    """On the synthetic pair, quarter-octave bands bring the MFCCs nearer the style."""
    content = plucked_melody(SR, notes=(60, 64, 67, 72, 71, 67, 64, 62))
    style = breathy_drone(SR, seconds=4.0)
    gains = {}
    for bands_per_octave in (1, 4):
        settings = Settings(strength=0.8, clusters=8, bands_per_octave=bands_per_octave)
        out, _ = transfer(content, SR, [(style, SR)], settings=settings)
        m = evaluate(content, style, out, SR)
        gains[bands_per_octave] = m["style_gain_mfcc"]
        assert m["onset_corr"] > 0.9 and m["chroma_cos"] > 0.8
    assert gains[4] > gains[1] + 0.1, gains  # measured 0.43 against 0.22


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "styletransfer", *args], capture_output=True,
                          text=True, check=False)


def test_cli_refuses_other_band_counts_and_renders_packets_with_sc(
        clips: dict[str, Path]) -> None:
    """--bands-per-octave 3 is refused; 4 renders with either engine, from a run or from a
    saved plan (the same audio both ways), and the two engines agree on length, channels
    and level (within 1.5 dB)."""
    import soundfile as sf
    from sc_support import require_scsynth

    out = clips["content"].with_name("out.wav")
    bad = run_cli("run", str(clips["content"]), "--style", str(clips["style"]), "-o", str(out),
                  "--bands-per-octave", "3")
    assert bad.returncode == 2 and "--bands-per-octave" in bad.stderr
    assert "Traceback" not in bad.stderr and not out.exists()
    plan = clips["content"].with_name("plan.npz")
    ok = run_cli("run", str(clips["content"]), "--style", str(clips["style"]), "-o", str(out),
                 "--bands-per-octave", "4", "--save-plan", str(plan), "-q")
    assert ok.returncode == 0, ok.stderr
    again = clips["content"].with_name("again.wav")
    rendered = run_cli("render", str(plan), "-o", str(again), "-q")
    assert rendered.returncode == 0, rendered.stderr
    assert np.array_equal(sf.read(out)[0], sf.read(again)[0])

    require_scsynth()
    reference, sr = sf.read(out, always_2d=True)
    content = sf.info(clips["content"])
    commands = {"run": ["run", str(clips["content"]), "--style", str(clips["style"]),
                        "--bands-per-octave", "4"],
                "render": ["render", str(plan)]}
    for name, command in commands.items():
        sc_out = clips["content"].with_name(f"sc-{name}.wav")
        done = run_cli(*command, "-o", str(sc_out), "--engine", "sc", "-q")
        assert done.returncode == 0 and done.stderr == "", done.stderr
        sc_audio, sc_sr = sf.read(sc_out, always_2d=True)
        assert (sc_audio.shape, sc_sr) == ((content.frames, content.channels), sr)
        assert np.all(np.isfinite(sc_audio))
        level_db = 10 * np.log10(np.mean(sc_audio**2) / np.mean(reference**2))
        assert abs(level_db) < 1.5, (name, level_db)
    run_out, render_out = (clips["content"].with_name(f"sc-{name}.wav") for name in commands)
    assert np.array_equal(sf.read(run_out)[0], sf.read(render_out)[0])


def test_quiet_parts_of_a_sounding_octave_may_be_lifted() -> None:
    """The empty-band guard judges a band by its octave's share of the frame."""
    from styletransfer.transfer import band_gains

    # Octave 0 sounds (one loud half, one quiet half); octave 1 is nearly empty.
    energy = np.array([[1.0, 1e-5, 1e-8, 1e-8]])
    wanted = np.log(np.array([[0.25, 0.25, 0.25, 0.25]]))
    total = energy.sum(axis=1)
    by_octave = band_gains(energy, wanted, total, max_boost_db=24.0,
                           octaves=np.array([0, 0, 1, 1]))
    by_band = band_gains(energy, wanted, total, max_boost_db=24.0)
    db = 20 * np.log10(by_octave[0])
    assert db[1] == pytest.approx(24.0, abs=0.01)  # lifted in full, up to the bound
    assert db[2] <= 1e-3 and db[3] <= 1e-3  # an empty octave is not lifted
    assert 20 * np.log10(by_band[0, 1]) < 12.0  # judged alone, the quiet half was held back
