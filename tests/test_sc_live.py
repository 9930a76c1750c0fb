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
from sc_support import booted_server, require_scsynth

from styletransfer import Settings
from styletransfer.demo import breathy_drone, plucked_melody
from styletransfer.errors import EngineError
from styletransfer.plan import RenderPlan
from styletransfer.supercollider.live import stream_plan, style_input
from styletransfer.supercollider.nrt import render_nrt
from styletransfer.supercollider.process import free_udp_port
from styletransfer.supercollider.session import OUTPUT_DC_HZ
from styletransfer.transfer import learn, plan_transfer

CLI = [sys.executable, "-m", "styletransfer"]
LIVE_SR = 48000
BLOCK = 64


@pytest.mark.parametrize(("seconds", "bands_per_octave", "mode", "latency", "sr"),
                         [(20.0, 1, "timbre", 0.2, 48000), (6.0, 4, "mosaic", 0.05, 48000),
                          (6.0, 1, "mosaic", 0.2, 44100), (6.0, 4, "timbre", 0.2, 96000)])
def test_streamed_plan_records_the_offline_render(tmp_path: Path, seconds: float,
                                                 bands_per_octave: int, mode: str,
                                                 latency: float, sr: int) -> None:
    """Streamed and recorded at 44.1, 48 and 96 kHz, octave and quarter-octave bands (a
    mosaic whose envelope guide waits for ``st_fftbands``, streamed with a latency shorter
    than that wait): the recording is the NRT render, from the content's first sample to
    its last, with no offset, no late frame and nothing non-finite. The frames follow the
    server's audio clock, so the dummy JACK's drift from the system clock cannot move
    them."""
    require_scsynth(realtime=True)
    notes = tuple(int(n) for n in np.random.default_rng(0).integers(55, 80, 90))
    content = plucked_melody(sr, notes=notes)[:, : int(seconds * sr)]
    style = breathy_drone(sr, seconds=8.0)
    settings = Settings(mode=mode, bands_per_octave=bands_per_octave)
    plan, content_a, style_a = plan_transfer(content.astype(np.float32), sr,
                                             [(style.astype(np.float32), sr)],
                                             settings=settings)
    offline = render_nrt(plan, content_a, style_a, dc_hz=OUTPUT_DC_HZ)  # the live output stage
    take = tmp_path / "take.wav"
    report = stream_plan(plan, content_a, style_a, boot=True, record=take, latency=latency)
    assert report.late == 0
    assert report.bad_samples == 0
    assert report.frames == plan.n_frames
    recorded, rate = sf.read(take, dtype="float32", always_2d=True)
    assert rate == sr
    assert recorded.shape[0] == plan.n_samples
    assert np.all(np.isfinite(recorded))
    live = recorded[:, :1].T
    assert np.linalg.norm(live - offline) <= 1e-4 * np.linalg.norm(offline)


@pytest.mark.parametrize("pace", [0.97])
def test_stream_is_exact_on_an_audio_clock_off_its_rate(tmp_path: Path, pace: float) -> None:
    """An injected rate error: the dummy JACK runs 3 % slow against the system clock, a
    sound card far off its nominal rate, as the frame reports measure it
    (`LiveReport.audio_rate`: at most the pace, as a loaded machine slows a dummy JACK
    more, give or take 0.3 % for the arrival of the first report; scsynth's own /status
    estimate does not see a dummy's pace).
    Parameters timed by the system clock would be 0.24 s (11 frames) off after these 8 s;
    the stream follows the audio clock, so the recording is still the NRT render, with
    no late frame. (A dummy JACK paced faster than real time leaves scsynth's timed
    bundles unplayed, the start bundle included, so only slow clocks are tested.)"""
    require_scsynth(realtime=True)
    sr = 48000
    notes = tuple(int(n) for n in np.random.default_rng(1).integers(55, 80, 40))
    content = plucked_melody(sr, notes=notes)[:, : 8 * sr].astype(np.float32)
    plan, content_a, _ = plan_transfer(content, sr, [(breathy_drone(sr, seconds=4.0), sr)],
                                       settings=Settings(clusters=4))
    offline = render_nrt(plan, content_a, dc_hz=OUTPUT_DC_HZ)
    take = tmp_path / "take.wav"
    with booted_server(sample_rate=sr, pace=pace) as server:
        report = stream_plan(plan, content_a, None, server=f"{server.host}:{server.port}",
                             record=take)
    assert report.audio_rate is not None
    assert report.audio_rate / sr < pace + 0.005, report.audio_rate  # the error is real
    assert report.late == 0 and report.bad_samples == 0
    recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    assert recorded.shape[0] == plan.n_samples
    live = recorded[:, :1].T
    assert np.linalg.norm(live - offline) <= 1e-4 * np.linalg.norm(offline)


def test_frames_written_late_are_held_and_reported() -> None:
    """``st_frames`` plays a row only when it holds the frame's own number: a frame
    nobody wrote in time keeps the gains before it, and the server says so."""
    require_scsynth(realtime=True)
    from styletransfer.supercollider import osc
    from styletransfer.supercollider.compile import synthdef_bytes
    from styletransfer.supercollider.osc import Message

    with booted_server() as server, server.client() as client:
        client.notify(True)
        client.send_def(synthdef_bytes("st_frames"))
        client.alloc(7, 4 * 3, 1)
        late: list[int] = []
        client.on("/st/late", lambda args, _: late.append(int(args[2])))
        client.send(osc.b_setn(7, 0, [0.0, 0.25, 0.0]))  # row 0: frame 0, gain 0.25
        client.sync()
        client.send(osc.Bundle.now([osc.s_new("st_frames", 5000, osc.AddAction.HEAD, 0, {
            "buf": 7, "rows": 4, "stride": 3, "hop": 1024, "gain_bus": 100, "n_bands": 1})]))
        time.sleep(0.5)
        values = client.request(Message("/c_get", (100,)), "/c_set")
        client.send(osc.Bundle.now([osc.n_free(5000)]))
    assert values[1] == pytest.approx(0.25)
    assert len(late) > 5 and late[:3] == [1, 2, 3]


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


def test_live_input_in_quarter_octaves_measures_the_fine_bands(tmp_path: Path) -> None:
    """A style learnt in quarter-octave bands: ``st_fftanalyser`` measures the input on
    the grid of ``st_fftbands``. A 1 kHz sine's power is in the band holding 1 kHz, 30 dB
    above every other band's, and as much as the input's stereo sum holds; the styled
    input is heard, with nothing late."""
    require_scsynth(realtime=True)
    model = learn([(breathy_drone(LIVE_SR, seconds=4.0), LIVE_SR)], sr=LIVE_SR,
                  n_channels=1, settings=Settings(clusters=4, bands_per_octave=4))
    source, take = tmp_path / "sine.wav", tmp_path / "take.wav"
    amplitude = 0.3
    sine = amplitude * np.sin(2 * np.pi * 1000.0 * np.arange(3 * LIVE_SR) / LIVE_SR)
    sf.write(source, sine.astype(np.float32), LIVE_SR, subtype="FLOAT")
    report = style_input(model, boot=True, input_file=source, record=take)
    assert report.frames > 100 and report.late == 0 and report.bad_samples == 0
    assert report.analysed >= report.frames and report.band_powers is not None
    edges = RenderPlan.identity(sr=LIVE_SR, n_samples=model.hop_, n_channels=1,
                                wavelet=model.wavelet_, level=model.level_, hop=model.hop_,
                                bands_per_octave=4).band_edges()
    assert report.band_powers.size == len(edges) == model.n_bands_ > 30
    band = int(np.argmax(report.band_powers))
    assert edges[band, 0] <= 1000.0 < edges[band, 1], edges[band]
    others = np.delete(report.band_powers, band)
    assert 10 * np.log10(report.band_powers[band] / others.max()) > 30
    # the file plays on both channels, which the analyser sums: power (2 * 0.3)^2 / 2
    assert report.band_powers.sum() == pytest.approx(2 * amplitude**2, rel=0.1)
    recorded, _ = sf.read(take, always_2d=True)
    assert np.sqrt(np.mean(recorded**2)) > 1e-2 and np.all(np.isfinite(recorded))


def test_no_server_fails_within_two_seconds(clips: dict[str, Path]) -> None:
    port = free_udp_port()
    started = time.perf_counter()
    done = subprocess.run([*CLI, "live", str(clips["content"]), "--style", str(clips["style"]),
                           "--server", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "no SuperCollider server answers" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # the server is asked once the inputs are read, before the planning, and waits 2 s
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
    # 16 s of content: still playing when the signal comes, however slowly the server
    # started on a loaded machine (the 4 s clip could end first)
    y, sr = sf.read(clips["content"], always_2d=True)
    content = clips["dir"] / "long.wav"
    sf.write(content, np.tile(y, (4, 1)), sr, subtype="PCM_16")
    process = subprocess.Popen([*CLI, "live", str(content), "--style",
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
    assert f"interrupted; the recording so far is in {take}" in stderr, stderr
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
        ([*content, "--boot", "--control-host", "0.0.0.0"], "goes with --control-port"),
        ([*content, "--boot", "--control-port", "70000"], "is not a port"),
        ([*content, "--boot", "--control-port", "1", "--control-host", "no.such.host."],
         "cannot listen for control on no.such.host.:1"),
        ([*CLI, "live", "--input", *style, "--boot", "--switch-modes"], "leave it out"),
        ([*CLI, "live", "missing.wav", *style, "--boot", "--control-port", "0"],
         "missing.wav: no such file"),
    ]
    for command, words in cases:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ})
        assert done.returncode == 2, (command, done.stderr)
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("rate", [0.998, 1.0, 1.002, 1.05])
def test_ring_follows_the_audio_clock_whatever_its_rate(rate: float) -> None:
    """The ring is written from the frames the server reports, so an audio clock that runs
    slow or fast against the system clock (here by -0.2 % to +5 %) changes nothing: at every
    report the next ``ahead`` frames are written, and no row still to be played is
    overwritten."""
    from styletransfer.plan import RenderPlan
    from styletransfer.supercollider.live import LiveReport, _Ring
    from styletransfer.supercollider.score import PlanScore
    from styletransfer.supercollider.timeline import LiveSet, Timeline

    class Recorder:
        def __init__(self) -> None:
            self.rows: dict[int, float] = {}  # ring row -> frame number written there

        def send(self, message: object) -> None:
            args = message.args  # type: ignore[attr-defined]
            stride = PlanScore(plan).stride
            values = args[3:]
            for k in range(len(values) // stride):
                self.rows[args[1] // stride + k] = values[k * stride]

    plan = RenderPlan.identity(sr=48000, n_samples=48000 * 20, n_channels=1, wavelet="db4",
                               level=8, hop=1024)
    client = Recorder()
    ring = _Ring(client, [PlanScore(plan)],  # type: ignore[arg-type]
                 Timeline(LiveSet.single(plan, None, None)), rows=18, ahead=10,
                 report=LiveReport())
    ring.fill(0)
    wall = 0.0
    for frame in range(plan.n_frames):
        wall = frame * plan.frame_seconds / rate  # when the server reports the frame
        assert client.rows[frame % 18] == frame, f"frame {frame} not written at {wall:.2f} s"
        ring.on_frame((0, 0, float(frame)), wall)
        written = {f for f in range(frame, frame + 11) if f < plan.n_frames}
        assert all(client.rows[f % 18] == f for f in written)
    assert ring.written == plan.n_frames and ring.late == 0


def _silence_and_nan(path: Path, sr: int, seconds: float) -> int:
    """A float WAV that starts with a second of digital silence, then a melody with a NaN,
    an infinity and a stretch of NaN in it, then silence again; returns how many samples
    (of its one channel) are not finite."""
    notes = tuple(int(n) for n in np.random.default_rng(3).integers(55, 80, 40))
    y = plucked_melody(sr, notes=notes)[:, : int(seconds * sr)].astype(np.float32)
    y[:, :sr] = 0.0
    y[0, sr + 5000] = np.nan
    y[0, sr + 9000] = np.inf
    y[0, 2 * sr: 2 * sr + 3000] = np.nan
    y[0, int(0.75 * y.shape[1]):] = 0.0
    sf.write(path, y.T, sr, subtype="FLOAT")
    return int(np.count_nonzero(~np.isfinite(y)))


def test_live_input_plays_a_file_with_silence_and_nan(tmp_path: Path) -> None:
    """``live --input`` on a file that starts with digital silence and holds NaN: no
    warning (every RuntimeWarning fails the command here), the NaN samples are played as
    silence and counted, and the recording, as long as the file, holds nothing
    non-finite."""
    require_scsynth(realtime=True)
    source, style, take = tmp_path / "nan.wav", tmp_path / "style.wav", tmp_path / "take.wav"
    bad = _silence_and_nan(source, LIVE_SR, 4.0)
    sf.write(style, breathy_drone(LIVE_SR, seconds=4.0).T, LIVE_SR)
    done = subprocess.run([*CLI, "live", "--input", "--input-file", str(source), "--style",
                           str(style), "--boot", "--record", str(take)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    assert f"{bad} non-finite samples of the file played as silence" in done.stderr
    assert "silenced" not in done.stderr.replace("played as silence", "")  # stages met none
    recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    assert np.count_nonzero(~np.isfinite(recorded)) == 0
    assert recorded.shape[0] >= 3.8 * LIVE_SR  # recorded to the end (the recorder flushed)
    assert np.sqrt(np.mean(recorded[LIVE_SR + 4096: 2 * LIVE_SR] ** 2)) > 1e-3


def test_safety_stage_silences_what_a_buffer_holds(tmp_path: Path) -> None:
    """NaN and infinity read into a buffer straight from a file (no check on the way) are
    silenced by ``st_safety`` and counted on its control bus; the rest passes exactly, and
    a recording after it holds nothing non-finite."""
    require_scsynth(realtime=True)
    from styletransfer.supercollider import osc
    from styletransfer.supercollider.compile import synthdef_bytes

    y = (0.1 * np.sin(np.arange(LIVE_SR) * 0.05)).astype(np.float32)
    y[1000:1100] = np.nan
    y[5000] = np.inf
    y[6000] = -np.inf
    source, take = tmp_path / "bad.wav", tmp_path / "take.wav"
    sf.write(source, np.stack([y, y]).T, LIVE_SR, subtype="FLOAT")
    with booted_server() as server, server.client() as client:
        client.notify(True)
        for name in ("st_play", "st_safety", "st_recorder"):
            client.send_def(synthdef_bytes(name))
        client.alloc_read(1, str(source))
        client.alloc(2, 65536, 2)
        client.request(osc.b_write(2, str(take), leave_open=True), "/done", match=("/b_write",))
        client.send(osc.Bundle.now([
            osc.s_new("st_play", 5000, osc.AddAction.HEAD, 0, {"buf": 1, "out_bus": 40}),
            osc.s_new("st_safety", 5001, osc.AddAction.TAIL, 0,
                      {"in_bus": 40, "out_bus": 42, "count_bus": 100}),
            osc.s_new("st_recorder", 5002, osc.AddAction.TAIL, 0, {"buf": 2, "in_bus": 42})]))
        time.sleep(1.5)
        count = client.get_controls(100)[0]
        client.send(osc.Bundle.now([osc.n_free(5001), osc.n_free(5002)]))
        client.sync()
        client.request(osc.b_close(2), "/done", match=("/b_close",))
        lines = server.output_lines
    # PlayBuf interpolates over four samples, so a bad sample also spoils the two samples
    # before it and the one after: 103 + 4 + 4 per channel
    bad = ~np.isfinite(y)
    spoiled = bad | np.roll(bad, 1) | np.roll(bad, -1) | np.roll(bad, -2)
    assert count == 2 * np.count_nonzero(spoiled) == 2 * 111
    recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    assert np.count_nonzero(~np.isfinite(recorded)) == 0
    start = int(np.argmax(np.abs(recorded[:, 0]) > 0)) - 1  # where it began (y[0] is 0)
    played = recorded[start: start + LIVE_SR, 0]
    expected = np.where(spoiled, 0.0, y)[: played.size]
    assert np.array_equal(played, expected)
    assert any("CheckBadValues" in line or "NaN" in line for line in lines)  # posted
