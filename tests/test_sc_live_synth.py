"""Live synthesis on a real-time scsynth (dummy JACK, 64-frame periods): ``live --synth``
plays new sound in the style, made a few frames at a time as it plays, and records it;
bad input is refused in one line before anything plays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import band_share
from sc_support import require_scsynth

from styletransfer.cli import main
from styletransfer.demo import breathy_drone
from styletransfer.supercollider.live_synth import (
    KEEP_FRAMES,
    MAKE_FRAMES,
    SynthFrames,
    play_synth,
    synth_set,
)
from styletransfer.supercollider.nrt import render_nrt
from styletransfer.supercollider.session import OUTPUT_DC_HZ
from styletransfer.synth import Synthesiser, prepare
from styletransfer.synth_settings import SynthSettings

CLI = [sys.executable, "-m", "styletransfer"]
SR = 48000


@pytest.fixture(scope="module")
def drone() -> np.ndarray:
    return breathy_drone(SR, seconds=8.0).astype(np.float32)


def test_live_synth_plays_the_offline_synthesis(tmp_path: Path, drone: np.ndarray) -> None:
    """Six seconds played and recorded: the length asked for, finite and not silent, no
    late frame, and the NRT render of the plan that the same seed makes offline, sample
    for sample; its octave-band profile is the style's, far from white noise's. Python
    never held more than a window of frames."""
    require_scsynth(realtime=True)
    index = prepare([(drone, SR)])
    seconds, seed = 6.0, 4
    live = synth_set([index], SynthSettings(), seed=seed, seconds=seconds)
    take = tmp_path / "take.wav"
    report = play_synth(live, boot=True, record=take)
    assert report.late == 0 and report.bad_samples == 0 and not report.interrupted
    assert isinstance(live.source, SynthFrames)
    assert live.source.held(0) <= KEEP_FRAMES + 2 * MAKE_FRAMES + 20  # a window, not all
    recorded, rate = sf.read(take, dtype="float32", always_2d=True)
    n_samples = round(seconds * SR)
    assert rate == SR and abs(recorded.shape[0] - n_samples) <= 64
    assert np.all(np.isfinite(recorded))
    assert np.sqrt(np.mean(recorded**2)) > 1e-3

    plan = Synthesiser(index, SynthSettings(), seed=seed).plan(n_samples)
    offline = render_nrt(plan, None, index.style, dc_hz=OUTPUT_DC_HZ)
    assert offline.shape == (2, n_samples)  # the drone is stereo
    error = np.linalg.norm(recorded.T - offline) / np.linalg.norm(offline)
    print(f"live synth vs NRT: relative error {error:.2e}")
    assert error <= 1e-4

    style_bands = band_share(drone.astype(np.float64), SR)
    noise = np.random.default_rng(0).standard_normal((1, n_samples))
    ours = np.abs(band_share(recorded.T.astype(np.float64), SR) - style_bands).mean()
    theirs = np.abs(band_share(noise, SR) - style_bands).mean()
    print(f"band profile distance to the style: live synth {ours:.2f}, white noise {theirs:.2f}")
    assert ours < 0.25 * theirs


def test_live_synth_command_records(tmp_path: Path, drone: np.ndarray) -> None:
    """The command: a preset, --seconds and --record; exit 0, a summary with no late
    frame, and a recording of the length asked for."""
    require_scsynth(realtime=True)
    style, take = tmp_path / "drone.wav", tmp_path / "take.wav"
    sf.write(style, drone.T, SR, subtype="FLOAT")
    done = subprocess.run([*CLI, "live", "--synth", "--style", str(style), "--boot",
                           "--seconds", "2", "--preset", "texture", "--seed", "3",
                           "--record", str(take)], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "late frames: 0" in done.stderr and done.stdout.strip() == str(take)
    recorded, rate = sf.read(take, always_2d=True)
    assert rate == SR and abs(recorded.shape[0] - 2 * SR) <= 64
    assert np.all(np.isfinite(recorded)) and np.abs(recorded).max() > 1e-3


def test_live_synth_argument_errors(clips: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Each mistake: exit 2, one line, no traceback, no recording (nothing is booted)."""
    style, content = str(clips["style"]), str(clips["content"])
    bare = clips["dir"] / "bare.npz"
    assert main(["learn", style, "-o", str(bare), "--no-audio", "-q"]) == 0
    take = clips["dir"] / "never.wav"
    synth = ["live", "--synth", "--boot", "--record", str(take)]
    cases = [
        ([*synth, content, "--style", style], "leave out CONTENT"),
        ([*synth, "--input", "--style", style], "leave out --input"),
        ([*synth, "--style", style, "--mode", "timbre"], "leave out --mode"),
        ([*synth, "--style", str(clips["dir"] / "missing.wav")], "missing.wav"),
        ([*synth, "--style", style, "--seconds", "0"], "--seconds 0.0 is out of range"),
        ([*synth, "--style", style, "--seconds", "-3"], "--seconds -3.0 is out of range"),
        ([*synth, "--style", style, "--preset", "balanced"], "balanced"),
        ([*synth, "--style", style, "--max-copy", "0"], "--max-copy 0.0 is out of range"),
        ([*synth, "--style", str(bare)], "holds no audio"),
        (["live", content, "--style", style, "--boot", "--preset", "texture"], "texture"),
        (["live", content, "--style", style, "--boot", "--continuity", "0.5"],
         "goes with --synth"),
    ]
    capsys.readouterr()
    for command, words in cases:
        code = main(command)
        stderr = capsys.readouterr().err
        assert code == 2, (command, stderr)
        assert words in stderr, (command, stderr)
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
        assert not take.exists()


def test_controls_of_a_live_synthesis() -> None:
    """The timeline of a live synthesis of two styles: ``/st/style 1`` plays the second
    style's grains (after the first's audio in the style buffer) from its frame, a freeze
    holds one grain, going back to the first style goes on with its own walk, and a
    strength change is refused (no recipes)."""
    from styletransfer.errors import ParameterError
    from styletransfer.supercollider.timeline import Timeline

    sr = 22050
    first = prepare([(breathy_drone(sr, seconds=4.0).astype(np.float32), sr)])
    noise = np.random.default_rng(0).standard_normal((2, 3 * sr)).astype(np.float32) * 0.1
    second = prepare([(noise, sr)])
    live = synth_set([first, second], SynthSettings(), seed=1)
    hop, boundary = first.style.hop, live.offsets[1] * first.style.hop
    timeline = Timeline(live)
    grain = -3  # the grain start's column of a row
    assert np.all(timeline.rows(0, 0, 50)[:, grain] < boundary)
    timeline.add(50, "style", 1)
    assert np.all(timeline.rows(0, 50, 60)[:, grain] >= boundary - hop // 2)
    timeline.add(60, "freeze", 1)
    assert np.unique(timeline.rows(0, 60, 70)[:, grain]).size == 1
    timeline.forget_before(60)
    timeline.add(80, "freeze", 0)
    timeline.add(80, "style", 0)
    assert np.all(timeline.rows(0, 80, 90)[:, grain] < boundary)
    with pytest.raises(ParameterError, match="cannot change its strength"):
        timeline.add(90, "strength", 0.5)
