"""The SuperCollider engine live: a real-time scsynth on a dummy JACK (64-frame periods)
plays a streamed plan, records it, styles a live input, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sc_support import require_scsynth

from styletransfer import Settings
from styletransfer.demo import breathy_drone, plucked_melody
from styletransfer.errors import EngineError
from styletransfer.supercollider.live import stream_plan, style_input
from styletransfer.supercollider.nrt import render_nrt
from styletransfer.supercollider.process import free_udp_port
from styletransfer.supercollider.score import PlanScore
from styletransfer.transfer import learn, plan_transfer

CLI = [sys.executable, "-m", "styletransfer"]
LIVE_SR = 48000
BLOCK = 64


def band_envelopes(y: np.ndarray, sr: int, hop: int = 1024) -> np.ndarray:
    """Octave-band STFT power envelopes, ``(8, n_frames)``."""
    import librosa

    power = np.abs(librosa.stft(y.mean(axis=0), n_fft=4096, hop_length=hop)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=4096)
    edges = sr / 2 / 2.0 ** np.arange(7, -1, -1)
    band = np.searchsorted(edges, freqs, side="left").clip(0, 7)
    return np.stack([power[band == k].sum(axis=0) for k in range(8)])


@pytest.mark.parametrize(("seconds", "bands_per_octave", "mode", "latency"),
                         [(60.0, 1, "timbre", 0.2), (8.0, 4, "timbre", 0.2),
                          (8.0, 4, "mosaic", 0.05)])
def test_streamed_plan_matches_offline_render(tmp_path: Path, seconds: float,
                                              bands_per_octave: int, mode: str,
                                              latency: float) -> None:
    """Streamed and recorded (60 s of octave bands, 8 s of quarter-octave bands, played
    by ``st_fftbands``, whose latency the mosaic's envelope guide must wait for, streamed
    with a latency shorter than that wait): the length of the NRT render within one block,
    band envelopes correlating >= 0.9 with it, and no late bundles."""
    require_scsynth(realtime=True)
    notes = tuple(int(n) for n in np.random.default_rng(0).integers(55, 80, 90))
    content = plucked_melody(LIVE_SR, notes=notes)[:, : int(seconds * LIVE_SR)]
    style = breathy_drone(LIVE_SR, seconds=8.0)
    settings = Settings(mode=mode, bands_per_octave=bands_per_octave)
    plan, content_a, style_a = plan_transfer(content.astype(np.float32), LIVE_SR,
                                             [(style.astype(np.float32), LIVE_SR)],
                                             settings=settings)
    offline = render_nrt(plan, content_a, style_a)
    take = tmp_path / "take.wav"
    report = stream_plan(plan, content_a, style_a, boot=True, record=take, latency=latency)
    assert report.late == 0
    assert report.frames == plan.n_frames
    recorded, rate = sf.read(take, dtype="float32", always_2d=True)
    assert rate == LIVE_SR
    delay = PlanScore(plan).delay_samples
    assert abs(recorded.shape[0] - (delay + plan.n_samples)) <= BLOCK
    # the recording starts at the first bundle's block: align on the best match near the
    # score's delay (a first-loud-sample rule is thrown off by FFT bands, whose sound
    # starts a little before the content's first onset)
    live = recorded[:, :1].T
    start = align(live[0], offline[0], delay)
    live = live[:, start:][:, : plan.n_samples]
    ours, theirs = band_envelopes(offline[:, : live.shape[1]], LIVE_SR), band_envelopes(
        live, LIVE_SR)
    share = 10 * np.log10(ours.sum(axis=1) / ours.sum())
    for band in np.flatnonzero(share > -30):
        corr = np.corrcoef(np.log10(ours[band] + 1e-10), np.log10(theirs[band] + 1e-10))[0, 1]
        assert corr >= 0.9, f"band {band}: {corr:.3f}"


def align(recorded: np.ndarray, offline: np.ndarray, delay: int) -> int:
    """Where ``offline`` starts in ``recorded``: the best cross-correlation of their first
    two seconds within four blocks of ``delay``."""
    length = min(2 * LIVE_SR, offline.size)
    reference = offline[:length]
    lags = range(max(0, delay - 4 * BLOCK), delay + 4 * BLOCK + 1)
    return max(lags, key=lambda lag: float(np.dot(recorded[lag: lag + length], reference)))


def test_live_input_styles_a_file_and_measures_latency(tmp_path: Path) -> None:
    require_scsynth(realtime=True)
    style = breathy_drone(LIVE_SR, seconds=4.0)
    model = learn([(style, LIVE_SR)], sr=LIVE_SR, settings=Settings(clusters=4))
    source = tmp_path / "input.wav"
    sf.write(source, plucked_melody(LIVE_SR, notes=(60, 64, 67, 72)).T, LIVE_SR)
    take = tmp_path / "take.wav"
    report = style_input(model, boot=True, input_file=source, record=take)
    assert report.frames > 50
    assert len(report.loop_seconds) > 0.8 * report.frames
    assert report.percentile_ms(report.loop_seconds, 50) < 15
    assert report.late == 0
    recorded, _ = sf.read(take, always_2d=True)
    assert np.sqrt(np.mean(recorded**2)) > 1e-3  # the styled input was heard


def test_no_server_fails_within_two_seconds(clips: dict[str, Path]) -> None:
    port = free_udp_port()
    started = time.perf_counter()
    done = subprocess.run([*CLI, "live", str(clips["content"]), "--style", str(clips["style"]),
                           "--server", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "no SuperCollider server answers" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # planning takes its time first; the server check itself must not wait long
    assert time.perf_counter() - started < 2.0 + 8.0
    with pytest.raises(EngineError, match="no SuperCollider server answers"):
        from styletransfer.supercollider.server import ServerClient

        began = time.perf_counter()
        try:
            with ServerClient("127.0.0.1", port) as client:
                client.status()
        finally:
            assert time.perf_counter() - began < 2.0


def test_ctrl_c_frees_and_closes_recording(clips: dict[str, Path]) -> None:
    """SIGINT mid-stream: exit 130, a readable recording, our scsynth and jackd gone."""
    require_scsynth(realtime=True)
    take = clips["dir"] / "take.wav"
    process = subprocess.Popen([*CLI, "live", str(clips["content"]), "--style",
                                str(clips["style"]), "--boot", "--record", str(take)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not take.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                              text=True, check=False).stdout.split()
    assert children, "the booted server was not seen"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    recorded, _ = sf.read(take, always_2d=True)  # closed properly: a valid header
    assert recorded.shape[0] > 0.5 * 22050
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_live_argument_errors(clips: dict[str, Path]) -> None:
    style = ["--style", str(clips["style"])]
    content = [*CLI, "live", str(clips["content"]), *style]
    cases = [
        (content, "one of the arguments --server --boot is required"),
        ([*CLI, "live", *style, "--server", "nohost"], "no CONTENT given"),
        ([*content, "--server", "localhost:99999"], "is not HOST:PORT"),
        ([*content, "--input", "--boot"], "not both"),
        ([*content, "--boot", "--record", "x.mp3"], "must end in .wav"),
    ]
    for command, words in cases:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ})
        assert done.returncode == 2, (command, done.stderr)
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
