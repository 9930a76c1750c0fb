"""The SuperCollider engine offline: SynthDefs compile, scsynth -N renders plans like the
numpy engine does, and failures give clear errors and no output file."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, read
from sc_support import require_scsynth

from styletransfer import Settings
from styletransfer.engine_numpy import render
from styletransfer.errors import EngineError, ParameterError
from styletransfer.plan import RenderPlan
from styletransfer.presets import load_preset
from styletransfer.supercollider.compile import compile_synthdefs, synthdef_dir, synthdef_sources
from styletransfer.supercollider.nrt import render_nrt
from styletransfer.supercollider.osc import encode_score
from styletransfer.supercollider.score import PlanScore
from styletransfer.transfer import plan_transfer

CLI = [sys.executable, "-m", "styletransfer"]


def require_sclang() -> None:
    if shutil.which("sclang") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sclang not found: install supercollider-language")
        pytest.skip("sclang not found: install supercollider-language")


def band_envelopes(y: np.ndarray, plan: RenderPlan) -> np.ndarray:
    """``(n_bands, n_frames)`` STFT power in each of the plan's bands (what is heard), one
    value per plan frame (windows of four frames)."""
    import librosa

    n_fft = 4 * plan.hop
    power = np.abs(librosa.stft(y.mean(axis=0), n_fft=n_fft, hop_length=plan.hop)) ** 2
    freqs = librosa.fft_frequencies(sr=plan.sr, n_fft=n_fft)
    band = np.searchsorted(plan.band_edges()[:, 1], freqs, side="left").clip(0, plan.n_bands - 1)
    return np.stack([power[band == k].sum(axis=0) for k in range(plan.n_bands)])


def test_compiled_synthdefs_are_current(tmp_path: Path) -> None:
    require_sclang()
    written = compile_synthdefs(target=tmp_path)
    assert sorted(p.name for p in written) == sorted(
        p.stem + ".scsyndef" for p in synthdef_sources())
    for path in written:
        shipped = synthdef_dir() / path.name
        assert shipped.read_bytes() == path.read_bytes(), (
            f"{shipped.name} is out of date: run 'styletransfer sc compile'")


@pytest.mark.parametrize(("code", "words"), [
    ("SynthDef(\\st_bad, { Out.ar(0, SinOsc.ar(440)) ) });", "Parse error"),
    ("SynthDef(\\st_bad, { Out.ar(0, SinOsc.ar(440).nosuchmethod) });", "nosuchmethod"),
    ("42", "does not evaluate to a SynthDef"),
])
def test_broken_synthdef_shows_sclang_error(tmp_path: Path, code: str, words: str) -> None:
    require_sclang()
    source = tmp_path / "st_bad.scd"
    source.write_text(code + "\n")
    with pytest.raises(EngineError, match=words):
        compile_synthdefs([source], tmp_path / "out")
    done = subprocess.run([*CLI, "sc", "compile", str(source), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "out").glob("*.scsyndef"))


def test_score_is_one_start_and_the_frame_table(content_audio: np.ndarray,
                                                style_audio: np.ndarray) -> None:
    """Everything starts at 0 in one bundle (the frames then follow the audio clock, from
    the table), and an empty bundle ends the score; the table holds every frame's number,
    gains and grain start."""
    plan, _, _ = plan_transfer(content_audio, SR, [(style_audio, SR)],
                               settings=Settings(mode="mosaic"))
    score = PlanScore(plan)
    bundles = score.nrt_bundles("/c.wav", "/s.wav", "/t.wav")
    assert [b.time for b in bundles] == [0.0, score.end_time + 64 / SR]
    assert bundles[1].messages == ()
    names = [m.args[0] for m in bundles[0].messages if m.address == "/s_new"]
    assert names.count("st_grains") == names.count("st_frames") == names.count("st_play") == 1
    reads = [m.args[1] for m in bundles[0].messages if m.address == "/b_allocRead"]
    assert reads == ["/c.wav", "/s.wav", "/t.wav"]
    table = score.table()
    n = plan.n_bands
    assert table.shape == (plan.n_frames, n + 4)
    assert np.array_equal(table[:, 0], np.arange(plan.n_frames))
    assert np.array_equal(table[:, 1:n + 1], plan.gains)
    assert np.array_equal(table[:, n + 1], np.maximum(0, plan.segments * plan.hop - plan.hop // 2))
    assert np.all(table[:, n + 2] == 1.0) and np.all(table[:, n + 3] == 0.0)  # all wet, one chain
    assert names[-2:] == ["st_mix", "st_safety"]  # every score ends in the output stage
    score_bytes = encode_score(bundles)
    assert int.from_bytes(score_bytes[:4], "big") == len(bundles[0].to_osc(nrt=True))


def test_ring_rows_never_wrap_in_one_message(content_audio: np.ndarray,
                                             style_audio: np.ndarray) -> None:
    plan, _, _ = plan_transfer(content_audio, SR, [(style_audio, SR)])
    score = PlanScore(plan)
    message = score.table_message(22, 24, rows=12)  # rows 10 and 11 of the ring
    assert message.args[:3] == (score.ids.table_buf, 10 * score.stride, 2 * score.stride)
    assert message.args[3] == 22.0 and message.args[3 + score.stride] == 23.0
    with pytest.raises(ParameterError, match="wrap"):
        score.table_message(22, 25, rows=12)


@pytest.mark.parametrize("mode", ["timbre", "mosaic"])
def test_parity_with_numpy_engine(mode: str, content_audio: np.ndarray,
                                  style_audio: np.ndarray) -> None:
    """One plan, two engines: band envelopes correlate and levels agree within 1.5 dB.

    Bands holding under -30 dB of the total are leakage in both and are left out. Mosaic:
    every band correlates >= 0.9. Timbre: the median band >= 0.9 and every band >= 0.85;
    the lower bound is for a band whose edge a strong partial sits on (the drone's 330 Hz
    partial, 15 Hz under the 345 Hz edge): the wavelet filters (24 taps) and the
    Linkwitz-Riley crossovers (24 dB/octave) split such a partial differently, so when
    the gains of the two bands move apart its level follows a different mix of them.
    """
    require_scsynth()
    content, style = ((style_audio, content_audio) if mode == "timbre"
                      else (content_audio, style_audio))
    plan, content_a, style_a = plan_transfer(content, SR, [(style, SR)],
                                             settings=Settings(mode=mode))
    reference = render(plan, content_a, style_a)
    rendered = render_nrt(plan, content_a, style_a)
    assert rendered.shape == reference.shape
    level_db = 10 * np.log10(np.mean(rendered**2) / np.mean(reference**2))
    assert abs(level_db) < 1.5
    ours, theirs = band_envelopes(reference, plan), band_envelopes(rendered, plan)
    share_db = 10 * np.log10(ours.sum(axis=1) / ours.sum())
    corr = np.array([np.corrcoef(np.log10(ours[band] + 1e-10),
                                 np.log10(theirs[band] + 1e-10))[0, 1]
                     for band in np.flatnonzero(share_db > -30)])
    print(f"{mode}: level difference {level_db:.2f} dB, correlations {np.round(corr, 3)}")
    assert np.median(corr) >= 0.9
    assert corr.min() >= (0.85 if mode == "timbre" else 0.9)


def band_correlations(reference: np.ndarray, rendered: np.ndarray,
                      plan: RenderPlan) -> np.ndarray:
    """Correlation of the log band envelopes of two renders, for the bands holding at
    least -30 dB of the reference's total (the others are leakage in both)."""
    ours, theirs = band_envelopes(reference, plan), band_envelopes(rendered, plan)
    share_db = 10 * np.log10(ours.sum(axis=1) / ours.sum())
    return np.array([np.corrcoef(np.log10(ours[band] + 1e-10),
                                 np.log10(theirs[band] + 1e-10))[0, 1]
                     for band in np.flatnonzero(share_db > -30)])


@pytest.mark.parametrize("mode", ["timbre", "mosaic", "instrument"])
def test_parity_with_numpy_engine_finer_bands(mode: str, content_audio: np.ndarray,
                                             style_audio: np.ndarray) -> None:
    """Quarter-octave bands (29 here), as in the octave test: levels within 1.5 dB, the
    median band correlating >= 0.9, and at least 85 % of the bands >= 0.85.

    Measured: level 0.04 dB (timbre) and -0.01 dB (mosaic); median 0.99 in both; every
    band >= 0.775 (timbre) and >= 0.80 (mosaic), hence the bound of 0.75 for the few
    bands where the wavelet-packet bands themselves differ from any filter bank:

    - timbre 345-431 Hz and 6.9-8.3 kHz (0.78, 0.85): the numpy render's own aliasing.
      The critically sampled packets alias where neighbouring gains differ (here by up
      to 24 dB), and two shifts cancel only part of it: the numpy render holds 16 dB more
      in 345-431 Hz than the same plan rendered with 32 shifts, and correlates 0.84 and
      0.86 with it; this engine (no aliasing) correlates 0.95 and 0.99 with it.
    - timbre 108-129 Hz (0.82): gains of -53 to -17 dB, and the drone's 110 Hz partial
      2 Hz above the band's lower edge. The packet filters let 14 dB more of it through
      than FFT bins exact to the edge.
    - mosaic 86-129 Hz (0.80, 0.81): bands of one wavelet coefficient a frame. The numpy
      engine crossfades style frames coefficient by coefficient (each coefficient lasting
      many frames), this engine crossfades the sound and then filters it; the numpy
      render itself correlates only 0.92 between 2 and 32 shifts there.
    """
    require_scsynth()
    content, style = ((style_audio, content_audio) if mode != "mosaic"
                      else (content_audio, style_audio))
    settings = (load_preset("instrument").settings if mode == "instrument"
                else Settings(mode=mode, bands_per_octave=4))
    plan, content_a, style_a = plan_transfer(content, SR, [(style, SR)], settings=settings)
    assert plan.n_bands == 29
    # instrument boosts up to 36 dB: two shifts leave the numpy render's own aliasing in
    # quiet bands beside boosted ones (2 against 32 shifts correlate 0.54 in the worst
    # band), so its reference is the plan rendered with 32 shifts, nearly free of it
    shifts = 32 if mode == "instrument" else plan.shifts
    reference = render(dataclasses.replace(plan, shifts=shifts), content_a, style_a)
    rendered = render_nrt(plan, content_a, style_a)
    assert rendered.shape == reference.shape
    level_db = 10 * np.log10(np.mean(rendered**2) / np.mean(reference**2))
    assert abs(level_db) < 1.5
    corr = band_correlations(reference, rendered, plan)
    print(f"{mode}: level difference {level_db:.2f} dB, correlations {np.round(corr, 3)}")
    assert np.median(corr) >= 0.9
    assert np.mean(corr >= 0.85) >= 0.85
    # instrument: its weakest band (0.59) is a quiet band beside ones boosted by 36 dB,
    # where crossfaded FFT bins and packet filters leak differently
    assert corr.min() >= (0.55 if mode == "instrument" else 0.75)


@pytest.mark.parametrize(("bands_per_octave", "sr"), [(2, SR), (4, SR), (8, SR), (4, 48000)])
def test_finer_bands_are_exact_and_interpolate_gains_sample_by_sample(
        bands_per_octave: int, sr: int) -> None:
    """``st_fftbands`` with all gains 1 gives back the input to float precision, trimmed
    by `PlanScore.delay_samples`; gains that change every frame (the same in every band)
    are interpolated between frame centres exactly as `gain_curve` does; a band alone
    keeps its frequencies (of white noise, under -30 dB lands more than two bins away).
    At 48 kHz half a frame in seconds (512 / 48000) is inexact in binary: the score must
    still start the content on the right block."""
    require_scsynth()
    from styletransfer.analysis import analyse
    from styletransfer.engine_numpy import gain_curve

    y = 0.1 * np.random.default_rng(1).standard_normal((2, 2 * sr)).astype(np.float32)
    analysis = analyse(y, sr, wavelet="sym12", bands_per_octave=bands_per_octave)
    plan = RenderPlan.identity(sr=sr, n_samples=y.shape[1], n_channels=2, wavelet="sym12",
                               level=analysis.level, hop=analysis.hop,
                               bands_per_octave=bands_per_octave)
    out = render_nrt(plan, analysis)
    assert out.shape == y.shape
    assert np.abs(out - y).max() < 1e-5

    frames = (10 ** np.random.default_rng(0).uniform(-1, 1, plan.n_frames)).astype(np.float32)
    gains = np.repeat(frames[:, None], plan.n_bands, axis=1)
    out = render_nrt(dataclasses.replace(plan, mode="timbre", gains=gains), analysis)
    wanted = y * gain_curve(frames.astype(np.float64), plan.hop)[: y.shape[1]]
    assert np.linalg.norm(out - wanted) / np.linalg.norm(wanted) < 1e-5

    band = plan.n_bands - 1 - bands_per_octave  # the top band of the second octave down
    solo = np.zeros_like(gains)
    solo[:, band] = 1.0
    out = render_nrt(dataclasses.replace(plan, mode="timbre", gains=solo), analysis)
    power = np.abs(np.fft.rfft(out.mean(axis=0))) ** 2
    freqs = np.fft.rfftfreq(out.shape[1], 1 / sr)
    low, high = plan.band_edges()[band]
    margin = 2 * sr / (2 * plan.hop)
    outside = power[(freqs < low - margin) | (freqs > high + margin)].sum()
    assert 10 * np.log10(outside / power.sum()) < -30


@pytest.mark.parametrize("sr", [22050, 44100, 48000, 96000])
def test_octave_bands_play_a_click_on_time_at_every_rate(sr: int) -> None:
    """The content starts on the frame grid whatever the rate: at 48 kHz its start time,
    512 / 48000 s, rounded down to the block before (the click came 60 samples early).
    What remains is the crossovers' own delay, a few samples."""
    require_scsynth()
    from styletransfer.analysis import analyse
    from styletransfer.transfer import analysis_grid

    y = np.zeros((1, sr), dtype=np.float32)
    y[0, 10_000] = 0.5
    level, hop = analysis_grid(Settings(), sr)
    a = analyse(y, sr, level=level, hop=hop)
    plan = RenderPlan.identity(sr=sr, n_samples=a.n_samples, n_channels=1,
                               wavelet=a.wavelet, level=level, hop=hop)
    out = render_nrt(plan, a)
    assert 0 <= int(np.abs(out[0]).argmax()) - 10_000 <= 8


def test_identity_plan_renders_the_content(content_audio: np.ndarray) -> None:
    require_scsynth()
    from styletransfer.analysis import analyse

    y = content_audio.astype(np.float32)
    analysis = analyse(y, SR, wavelet="sym12", level=7)
    plan = RenderPlan.identity(sr=SR, n_samples=y.shape[1], n_channels=1, wavelet="sym12",
                               level=7, hop=analysis.hop)
    out = render_nrt(plan, analysis)
    # the crossovers sum to an allpass: the same magnitude spectrum, the same loudness
    assert out.shape == y.shape
    assert abs(10 * np.log10(np.mean(out**2) / np.mean(y**2))) < 0.1
    spectrum_in, spectrum_out = np.abs(np.fft.rfft(y[0])), np.abs(np.fft.rfft(out[0]))
    smooth = np.ones(256) / 256
    level_in = np.convolve(spectrum_in, smooth, "valid")
    ratio = np.convolve(spectrum_out, smooth, "valid") / level_in
    heard = level_in > 1e-3 * level_in.max()  # within 60 dB of the peak: above float noise
    assert np.percentile(np.abs(20 * np.log10(ratio[heard])), 95) < 0.5


def test_cli_engine_sc_formats_plan_and_score(clips: dict[str, Path]) -> None:
    require_scsynth()
    folder = clips["dir"]
    out, plan_path, kept = folder / "sc.flac", folder / "plan.npz", folder / "score"
    done = subprocess.run([*CLI, "run", str(clips["content"]), "--style", str(clips["style"]),
                           "--engine", "sc", "-o", str(out), "--subtype", "16", "--save-plan",
                           str(plan_path), "--keep-score", str(kept), "-q"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    info = sf.info(out)
    content, _ = read(clips["content"])
    assert (info.frames, info.channels, info.samplerate, info.subtype) == (
        content.shape[1], content.shape[0], SR, "PCM_16")
    assert {p.name for p in kept.iterdir()} >= {"score.osc", "content.wav", "render.sh"}
    again = folder / "again.flac"
    done = subprocess.run([*CLI, "render", str(plan_path), "--engine", "sc", "-o", str(again),
                           "--subtype", "16", "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(sf.read(again)[0], sf.read(out)[0])


def test_cli_engine_errors(clips: dict[str, Path]) -> None:
    folder = clips["dir"]
    out = folder / "x.wav"
    base = [*CLI, "run", str(clips["content"]), "--style", str(clips["style"]), "-o", str(out)]
    cases = [
        ([*base, "--keep-score", str(folder / "k")], {}, "--keep-score needs --engine sc"),
        ([*base, "--engine", "sc"], {"PATH": "/nonexistent"}, "scsynth not found"),
    ]
    for command, env, words in cases:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ, **env})
        assert done.returncode == 2, done.stderr
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert not out.exists()


def test_scsynth_killed_mid_render(tmp_path: Path) -> None:
    """Kill scsynth while it renders: exit 1, one line, no output, no temporary files."""
    require_scsynth()
    rng = np.random.default_rng(3)
    long_content = tmp_path / "long.wav"
    sf.write(long_content, (0.1 * rng.standard_normal((SR * 600, 2))).astype(np.float32), SR)
    sf.write(tmp_path / "style.wav", (0.1 * rng.standard_normal((SR * 5, 2))), SR)
    out = tmp_path / "out.wav"
    process = subprocess.Popen(
        [*CLI, "run", str(long_content), "--style", str(tmp_path / "style.wav"), "--engine",
         "sc", "--shifts", "1", "-o", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = False
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and not killed:
        found = subprocess.run(["pgrep", "-P", str(process.pid), "scsynth"],
                               capture_output=True, text=True, check=False).stdout.split()
        if found:
            time.sleep(0.2)
            os.kill(int(found[0]), signal.SIGKILL)
            killed = True
        time.sleep(0.05)
    _, stderr = process.communicate(timeout=60)
    assert killed, "scsynth was never seen running"
    assert process.returncode == 1
    assert "scsynth stopped during the render" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav", "style.wav"]
