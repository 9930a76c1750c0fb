"""Live control over OSC against a real scsynth: every control sent mid-stream changes the
recording from the frame it was placed at, and the recording is the offline render of the
same control timeline; malformed messages are ignored and counted. Without a server: the
rows of a control timeline are those of its per-frame formulas, however they are asked."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_packet import OscPacket
from sc_support import require_scsynth

from styletransfer import Settings
from styletransfer.demo import breathy_drone, plucked_melody
from styletransfer.supercollider import osc
from styletransfer.supercollider.control import ControlListener
from styletransfer.supercollider.live import stream_set
from styletransfer.supercollider.nrt import render_set
from styletransfer.supercollider.session import OUTPUT_DC_HZ, LiveReport
from styletransfer.supercollider.timeline import GAIN_BLOCK, LiveSet, Timeline
from styletransfer.transfer import plan_transfer

SR = 48000
Schedule = list[tuple[float, str, tuple[Any, ...]]]


class Controller:
    """A performer's controller: sends messages to a listener at times after the stream
    plays, and keeps the replies."""

    def __init__(self, listener: ControlListener) -> None:
        self.target = listener.address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.02)
        self.replies: list[tuple[float, str, tuple[Any, ...]]] = []
        self.sent: list[tuple[float, str, tuple[Any, ...]]] = []

    def send(self, address: str, args: tuple[Any, ...] = (), raw: bytes | None = None) -> None:
        self.sent.append((time.time(), address, args))
        self.sock.sendto(raw if raw is not None else osc.Message(address, args).to_osc(),
                         self.target)

    def receive(self, until: float) -> None:
        while time.monotonic() < until:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            for timed in OscPacket(data).messages:
                self.replies.append((time.time(), timed.message.address,
                                     tuple(timed.message.params)))

    def play(self, schedule: Schedule) -> None:
        """Probe until the stream answers, then send ``schedule`` ((seconds after that,
        address, args); an address of ``raw`` sends the args' bytes as they are)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.send("/st/mix", (1.0,))
            self.receive(time.monotonic() + 0.05)
            if any(address == "/st/done" for _, address, _ in self.replies):
                break
        began = time.monotonic()
        for at, address, args in schedule:
            self.receive(began + at)
            if address == "raw":
                self.send(address, (), raw=args[0])
            else:
                self.send(address, args)
        self.receive(time.monotonic() + 0.5)

    def close(self) -> None:
        self.sock.close()


def perform(live: LiveSet, schedule: Schedule, take: Path,
            latency: float = 0.2) -> tuple[LiveReport, ControlListener, Controller]:
    """Stream ``live`` with a recording while a controller plays ``schedule``."""
    with ControlListener() as listener:
        controller = Controller(listener)
        sender = threading.Thread(target=controller.play, args=(schedule,), daemon=True)
        sender.start()
        try:
            report = stream_set(live, boot=True, record=take, latency=latency, control=listener)
        finally:
            sender.join(timeout=30)
            controller.close()
    return report, listener, controller


def _first(args: tuple[Any, ...]) -> float:
    """A message's first argument as the number a timeline holds (a mode: 1)."""
    return float(args[0]) if args and not isinstance(args[0], str | bytes) else 1.0


def replay(live: LiveSet, report: LiveReport) -> Timeline:
    """The timeline of the controls the stream applied, at their frames."""
    timeline = Timeline(live)
    for frame, name, value in report.controls:
        timeline.add(int(frame), name, float(value))
    return timeline


@pytest.fixture(scope="module")
def material() -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
    notes = tuple(int(n) for n in np.random.default_rng(5).integers(55, 80, 60))
    content = plucked_melody(SR, notes=notes)[:, : 10 * SR].astype(np.float32)
    bright = plucked_melody(SR, notes=(84, 88, 91, 96, 93, 89)).astype(np.float32)
    styles = [[(breathy_drone(SR, seconds=6.0).astype(np.float32), SR)], [(bright, SR)]]
    return content, styles


#: What the test sends (seconds after the stream answers, address, arguments): the good
#: controls, and among them messages that are malformed or ask for what was not loaded.
SCHEDULE: Schedule = [
    (1.0, "/st/strength", (0.3,)), (1.5, "/st/nope", (1,)),
    (2.0, "/st/mix", (0.4,)), (2.5, "/st/mix", (2.0,)), (3.0, "/st/mix", (1,)),
    (3.5, "/st/style", (1,)), (3.7, "/st/style", (5,)), (4.0, "raw", (b"\x00garbage",)),
    (4.5, "/st/freeze", (1,)), (5.5, "/st/freeze", (0,)), (5.7, "/st/freeze", ("x",)),
    (6.0, "/st/mode", ("mosaic",)), (6.2, "/st/mode", ("granular",)),
    (7.0, "/st/strength", (1.0,)), (8.0, "/st/stop", ())]
GOOD_SENT = ("/st/strength", "/st/mix", "/st/style", "/st/freeze", "/st/mode")
GOOD = [("strength", 0.3), ("mix", 0.4), ("mix", 1.0), ("style", 1.0), ("freeze", 1.0),
        ("freeze", 0.0), ("mode", 1.0), ("strength", 1.0)]


def test_every_control_changes_the_recording_at_its_frame(
        tmp_path: Path, material: tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]],
        ) -> None:
    """Strength, dry/wet, style, freeze, mode and stop, sent mid-stream to a stream of two
    styles in two modes, with malformed messages among them: each good one is placed
    within two frames of the frame playing when it was sent and acknowledged, the others
    are counted by reason; the recording is the offline render of the same control
    timeline (to 1e-4), and its rows are those of plans made for the new settings."""
    require_scsynth(realtime=True)
    content, styles = material
    settings = Settings(clusters=4, strength=0.8)
    live = LiveSet.plan(content, SR, styles, settings=settings, modes=["timbre", "mosaic"])
    take = tmp_path / "take.wav"
    report, listener, controller = perform(live, SCHEDULE, take)
    assert report.stopped and report.late == 0 and report.bad_samples == 0
    assert report.late_controls == 0

    # the probes (mix 1 until the stream answered), then the good controls in order
    events = report.controls
    while events[0][1:] == ("mix", 1.0) and events[1][1:] != ("strength", 0.3):
        events = events[1:]
    events = events[1:] if events[0][1:] == ("mix", 1.0) else events
    assert [(name, value) for _, name, value in events] == GOOD
    ignored = dict(listener.ignored)
    ignored.pop("not playing", None)  # probes sent before the stream played
    assert ignored == {"unknown address": 1, "out of range": 1, "malformed": 1,
                       "not loaded": 2, "not OSC": 1}
    done = [args[0] for _, address, args in controller.replies if address == "/st/done"]
    assert done.count("/st/strength") == 2 and "/st/stop" in done

    # each took effect within latency + 2 frames of the last frame reported, and of the
    # frame playing when it was sent, counted on the audio clock (which a loaded machine
    # slows)
    assert report.started_at is not None and report.audio_rate is not None
    bound = 0.2 / live.first.frame_seconds + 2
    assert all(0 < frames <= bound for frames in report.control_frames), report.control_frames
    seconds = live.first.frame_seconds * SR / report.audio_rate
    wanted = [(address, args) for _, address, args in SCHEDULE if address in GOOD_SENT
              and (address[4:], _first(args)) in GOOD and args not in (("x",), ("granular",))]
    sent = [wall for wall, address, args in controller.sent
            if (address, args) in wanted][-len(GOOD):]
    for (frame, name, _), wall in zip(events, sent, strict=True):
        playing = (wall - report.started_at) / seconds
        assert playing - 1 <= frame <= playing + bound, (name, frame, playing)

    # the recording (up to the stop) is the offline render of the timeline
    timeline = replay(live, report)
    offline = render_set(live, timeline, dc_hz=OUTPUT_DC_HZ)
    recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    assert np.count_nonzero(~np.isfinite(recorded)) == 0
    stop = next(wall for wall, address, _ in controller.sent if address == "/st/stop")
    assert recorded.shape[0] < (stop - report.started_at + 0.5) * SR < offline.shape[1]
    length = recorded.shape[0]
    assert length > 7.5 * SR
    live_audio, expected = recorded[:length, 0], offline[0, :length]
    assert np.linalg.norm(live_audio - expected) <= 1e-4 * np.linalg.norm(expected)

    # the rows are those of plans made for the new settings
    at = {f"{name} {value:g}": int(frame) for frame, name, value in events}
    n, fade = live.first.n_bands, live.crossfade
    timbre, mosaic = timeline.table(0), timeline.table(1)

    def planned(style: int, mode: str, strength: float) -> np.ndarray:
        plan, _, _ = plan_transfer(content, SR, styles[style], settings=settings.updated(
            {"mode": mode, "strength": strength}))
        return plan.gains

    span = slice(at["strength 0.3"], at["style 1"])
    assert np.array_equal(timbre[span, 1:n + 1], planned(0, "timbre", 0.3)[span])
    assert np.all(timbre[at["mix 0.4"]: at["mix 1"], n + 2] == np.float32(0.4))
    span = slice(at["style 1"] + fade - 1, at["freeze 1"])
    assert np.array_equal(timbre[span, 1:n + 1], planned(1, "timbre", 0.3)[span])
    for table in (timbre, mosaic):
        held = table[at["freeze 1"]: at["freeze 0"], 1:n + 2]
        assert np.all(held == table[at["freeze 1"] - 1, 1:n + 2])
    mode = timbre[at["mode 1"] - 1: at["mode 1"] + fade, n + 3]
    assert mode[0] == 0.0 and mode[-1] == 1.0 and np.all(np.diff(mode) > 0)
    span = slice(at["strength 1"], live.n_frames)
    assert np.array_equal(mosaic[span, 1:n + 1], planned(1, "mosaic", 1.0)[span])
    segments = live.plans[1][1].segments[span] + live.offsets[1]
    hop = live.first.hop
    assert np.array_equal(mosaic[span, n + 1], np.maximum(0, segments * hop - hop // 2))


class PerFrame(Timeline):
    """A timeline whose rows are made with the per-frame formulas (one frame's style and
    mode weights at a time) and the gains of a whole `GAIN_BLOCK` at a time: what
    `Timeline` makes in one numpy expression per run, and a few frames at a time."""

    def weights(self, frame: int) -> np.ndarray:
        state = self.state(frame)
        start = np.asarray(state.style_from, dtype=np.float64)
        target = np.eye(self.live.n_styles)[state.style]
        ramp = np.clip((frame - state.style_at + 1) / self.live.crossfade, 0.0, 1.0)
        return start + (target - start) * ramp if ramp < 1 else target

    def mode_weight(self, frame: int) -> float:
        state = self.state(frame)
        ramp = np.clip((frame - state.mode_at + 1) / self.live.crossfade, 0.0, 1.0)
        return float(state.mode_from + (float(state.mode) - state.mode_from) * ramp)

    def _weights(self, low: int, high: int, state: Any) -> np.ndarray:
        return np.array([self.weights(f) for f in range(low, high)])

    def _values(self, chain: int, low: int, high: int, state: Any) -> np.ndarray:
        live = self.live
        if live.modes[chain] == "mosaic":
            gains = self._gains(chain, state.style, low, high, state.strength)
            hop = live.first.hop
            frames = live.segments(chain, state.style, low, high) + live.offsets[state.style]
            return np.column_stack([gains, np.maximum(0, frames * hop - hop // 2)])
        weights = np.array([self.weights(f) for f in range(low, high)])
        used = np.flatnonzero(weights.max(axis=0) > 0)
        if used.size == 1:
            gains = self._gains(chain, int(used[0]), low, high, state.strength)
        else:
            logs = [weights[:, k, None] * np.log(np.maximum(
                self._gains(chain, int(k), low, high, state.strength), 1e-12)) for k in used]
            gains = np.exp(np.sum(logs, axis=0))
            whole = weights.max(axis=1) == 1.0
            if whole.any():
                for k in used:
                    only = whole & (weights[:, k] == 1.0)
                    gains[only] = self._gains(chain, int(k), low, high, state.strength)[only]
        return np.column_stack([gains, np.zeros(high - low)])

    def _mode_weights(self, low: int, high: int, state: Any) -> np.ndarray:
        return np.array([self.mode_weight(f) for f in range(low, high)])

    def _gains(self, chain: int, style: int, low: int, high: int,
               strength: float) -> np.ndarray:
        recipe = self.live.recipes[chain][style]
        if strength == self.live.strength or recipe is None or high <= low:
            return self.live.gains(chain, style, low, high)
        first, last = low // GAIN_BLOCK, (high - 1) // GAIN_BLOCK
        made = np.concatenate([recipe.gains(strength, block * GAIN_BLOCK,
                                            (block + 1) * GAIN_BLOCK)
                               for block in range(first, last + 1)])
        start = low - first * GAIN_BLOCK
        return made[start: start + high - low].astype(np.float64)


def _random_controls(live: LiveSet, rng: np.random.Generator,
                     count: int) -> list[tuple[int, str, float]]:
    """Up to ``count`` controls of every kind with random values, in order at random
    frames, some at the same frame or a few frames apart (within a crossfade)."""
    controls: list[tuple[int, str, float]] = []
    frame = int(rng.integers(1, 20))
    while frame < live.n_frames and len(controls) < count:
        name = str(rng.choice(["strength", "mix", "freeze", "style", "mode"]))
        if name in ("strength", "mix"):
            value = float(np.float32(rng.choice([live.strength, rng.uniform(), 0.0, 1.0])))
        elif name == "freeze":
            value = float(rng.integers(0, 2))
        else:
            value = float(rng.integers(0, live.n_styles if name == "style"
                                       else len(live.modes)))
        controls.append((frame, name, value))
        frame += int(rng.choice([0, 1, 2, 3, 5, 8, 13, 40]))
    return controls


@pytest.mark.parametrize("modes, n_styles, extra", [
    (["timbre", "mosaic"], 2, {}),
    (["mosaic", "timbre"], 2, {"bands_per_octave": 2, "crossfade_seconds": 0.1}),
    (["timbre"], 1, {})])
def test_rows_of_a_run_are_the_per_frame_rows(
        material: tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]],
        modes: list[str], n_styles: int, extra: dict[str, Any]) -> None:
    """Over random control timelines, the rows made a run of frames at a time (weights in
    one expression, gains of only the frames asked) are the rows of the per-frame formulas,
    bit for bit: whole (the offline table) and made a few frames at a time as a stream
    asks for them, controls coming in between."""
    content, styles = material
    fade = extra.pop("crossfade_seconds", 0.5)
    live = LiveSet.plan(content[:, : 4 * SR], SR, styles[:n_styles], modes=modes,
                        settings=Settings(clusters=3, strength=0.8, **extra),
                        crossfade_seconds=fade)
    rng = np.random.default_rng(len(modes) + n_styles)
    for _ in range(8):
        controls = _random_controls(live, rng, int(rng.integers(4, 30)))
        expected, whole, streamed = PerFrame(live), Timeline(live), Timeline(live)
        made: list[list[np.ndarray]] = [[] for _ in modes]
        done = 0
        for frame, name, value in [*controls, (live.n_frames, "", 0.0)]:
            while done < frame:  # rows a few at a time up to the control's frame
                stop = min(frame, done + int(rng.integers(1, 6)))
                for chain in range(len(modes)):
                    made[chain].append(streamed.rows(chain, done, stop))
                done = stop
            if name:
                at = [timeline.add(frame, name, value)
                      for timeline in (expected, whole, streamed)]
                assert at == [frame] * 3
        for chain in range(len(modes)):
            table = expected.table(chain)
            assert np.array_equal(whole.table(chain), table), controls
            assert np.array_equal(np.concatenate(made[chain]), table), controls


def _probe_then(target: tuple[str, int], schedule: Schedule,
                replies: list[tuple[str, str]]) -> None:
    """A controller for a command in a child process: probe (``/st/mix 1`` every 50 ms)
    until it answers, then send ``schedule`` and keep the replies (address, the address
    they answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.05)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            sock.sendto(osc.Message("/st/mix", (1.0,)).to_osc(), target)
            try:
                if OscPacket(sock.recv(65536)).messages[0].message.address == "/st/done":
                    break
            except (TimeoutError, ConnectionRefusedError):
                continue
            time.sleep(0.05)  # "not playing" yet
        began = time.monotonic()
        for at, address, args in schedule:
            time.sleep(max(0.0, began + at - time.monotonic()))
            data = args[0] if address == "raw" else osc.Message(address, args).to_osc()
            sock.sendto(data, target)
            _collect(sock, replies, 0.05)
        _collect(sock, replies, 0.5)


def _collect(sock: socket.socket, replies: list[tuple[str, str]], seconds: float) -> None:
    """Keep the replies that arrive within ``seconds``."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            reply = OscPacket(sock.recv(65536)).messages[0].message
            replies.append((reply.address, str(reply.params[0])))
        except (TimeoutError, ConnectionRefusedError):
            continue


def test_command_listens_on_its_control_port(tmp_path: Path) -> None:
    """``live CONTENT --style A --style B --switch-modes --control-port P``: the controls
    are applied, a malformed one and one out of range are answered and counted, the
    counts are printed at the end, and ``/st/stop`` ends the run (exit 0) with a
    recording that holds nothing non-finite."""
    require_scsynth(realtime=True)
    from styletransfer.supercollider.process import free_udp_port

    sr = 22050
    content, style_a, style_b = (tmp_path / f"{n}.wav" for n in ("content", "a", "b"))
    sf.write(content, plucked_melody(sr, notes=(60, 64, 67, 72) * 4).T, sr)
    sf.write(style_a, breathy_drone(sr, seconds=3.0).T, sr)
    sf.write(style_b, plucked_melody(sr, notes=(84, 88, 91, 96)).T, sr)
    take, port = tmp_path / "take.wav", free_udp_port()
    replies: list[tuple[str, str]] = []
    schedule: Schedule = [(0.2, "/st/style", (1,)), (0.4, "/st/mode", ("mosaic",)),
                          (0.6, "/st/strength", (3.0,)), (0.8, "raw", (b"junk",)),
                          (1.0, "/st/stop", ())]
    sender = threading.Thread(target=_probe_then, args=(("127.0.0.1", port), schedule, replies),
                              daemon=True)
    sender.start()
    done = subprocess.run([sys.executable, "-m", "styletransfer", "live", str(content),
                           "--style", str(style_a), "--style", str(style_b), "--switch-modes",
                           "--clusters", "3", "--boot", "--control-port", str(port),
                           "--record", str(take)], capture_output=True, text=True,
                          check=False, timeout=180)
    sender.join(timeout=10)
    assert done.returncode == 0, done.stderr
    assert f"listening for control messages on 127.0.0.1:{port}" in done.stderr
    assert "played until /st/stop" in done.stderr
    counts = done.stderr.strip().splitlines()[-1]
    assert counts.startswith("styletransfer: control messages: ") and " applied, " in counts
    assert "1 not OSC" in counts and "1 out of range" in counts
    for reply in (("/st/done", "/st/style"), ("/st/done", "/st/mode"),
                  ("/st/ignored", "/st/strength")):
        assert reply in replies, replies
    recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    assert 0 < recorded.shape[0] < 16 * 0.5 * sr  # stopped before the end of the content
    assert np.count_nonzero(~np.isfinite(recorded)) == 0


def test_live_input_takes_controls(tmp_path: Path) -> None:
    """Live input under control, against a real scsynth: strength, style (two models),
    freeze (no gains are sent while frozen) and mix 0 (from then on the recording is the
    input itself) are applied, ``/st/mode`` is refused (live input plays timbre),
    ``/st/stop`` ends the run early."""
    require_scsynth(realtime=True)
    from styletransfer.supercollider.live_input import style_input
    from styletransfer.transfer import learn

    source, take = tmp_path / "input.wav", tmp_path / "take.wav"
    notes = tuple(int(n) for n in np.random.default_rng(2).integers(55, 80, 40))
    y = plucked_melody(SR, notes=notes)[:, : 12 * SR].astype(np.float32)
    sf.write(source, y.T, SR, subtype="FLOAT")
    settings = Settings(clusters=3)
    models = [learn([(breathy_drone(SR, seconds=4.0), SR)], sr=SR, n_channels=1,
                    settings=settings),
              learn([(plucked_melody(SR, notes=(84, 88, 91, 96)), SR)], sr=SR, n_channels=1,
                    settings=settings)]
    schedule: Schedule = [(0.5, "/st/strength", (0.2,)), (1.0, "/st/style", (1,)),
                          (1.5, "/st/mode", ("mosaic",)), (2.0, "/st/freeze", (1,)),
                          (3.0, "/st/freeze", (0,)), (3.5, "/st/mix", (0.0,)),
                          (6.0, "/st/stop", ())]
    with ControlListener() as listener:
        replies: list[tuple[str, str]] = []
        sender = threading.Thread(target=_probe_then, args=(listener.address, schedule,
                                                             replies), daemon=True)
        sender.start()
        report = style_input(models[0], styles=models[1:], boot=True, input_file=source,
                             record=take, control=listener)
        sender.join(timeout=10)
    assert report.stopped and report.bad_samples == 0
    names = [name for _, name, _ in report.controls]
    assert names[-6:] == ["strength", "style", "freeze", "freeze", "mix", "stop"]
    assert listener.ignored["not loaded"] == 1 and ("/st/ignored", "/st/mode") in replies
    seconds = {name: at for at, name, _ in report.controls[-6:]}
    frames_per_second = SR / models[0].hop_
    # a second frozen: the analyses that arrived then (about a second's) got no gains
    frozen = [at for at, name, _ in report.controls[-6:] if name == "freeze"]
    expected = (frozen[1] - frozen[0]) * frames_per_second
    assert 0.6 * expected < report.held < 1.4 * expected + 3, (report.held, expected)
    assert report.frames > 3 * frames_per_second  # sent before and after the freeze
    # after mix 0 (and a frame's ramp) the recording is the input, delayed a little
    recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    assert recorded.shape[0] < 10 * SR and np.count_nonzero(~np.isfinite(recorded)) == 0
    heard, n, most = recorded[:, 0], SR // 2, 2048
    at = int((seconds["mix"] + 0.3) * SR)
    shift = int(np.argmax(np.correlate(y[0, at - most: at + n + most], heard[at: at + n],
                                       "valid"))) - most

    def error(part: slice) -> float:
        source_part = y[0, part.start + shift: part.stop + shift]
        return float(np.linalg.norm(heard[part] - source_part) / np.linalg.norm(source_part))

    wet = slice(int(0.1 * SR), int(seconds["strength"] * SR))  # strength 0.8, style 0
    # the recording may start a little after the clock the controls are timed on
    end = min(seconds["stop"], heard.size / SR) - 0.3
    dry = slice(int((seconds["mix"] + 0.2) * SR), int(end * SR))
    assert dry.stop - dry.start > SR, (dry, heard.size)
    assert error(dry) < 0.02 < error(wet), (error(dry), error(wet), shift)


def test_work_after_a_control_runs_once_its_sender_has_the_reply() -> None:
    replied: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        sender.setblocking(False)

        def after() -> None:
            replied.append(OscPacket(sender.recv(65536)).messages[0].message.address)
            raise RuntimeError("a follow-up that fails is logged, not counted")

        with ControlListener(lambda name, value: after) as listener:
            sender.sendto(osc.Message("/st/mix", (0.5,)).to_osc(), listener.address)
            assert listener.wait_for(1, timeout=3)
    assert replied == ["/st/done"]
    assert listener.applied == 1 and not listener.ignored
