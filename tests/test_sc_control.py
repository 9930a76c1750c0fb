"""Live control over OSC against a real scsynth: every control sent mid-stream changes the
recording from the frame it was placed at, and the recording is the offline render of the
same control timeline; malformed messages are ignored and counted."""

from __future__ import annotations

import socket
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
from styletransfer.supercollider.timeline import LiveSet, Timeline
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

    # each took effect within three frames (and one for the clocks) of being sent
    assert report.started_at is not None
    seconds = live.first.frame_seconds
    wanted = [(address, args) for _, address, args in SCHEDULE if address in GOOD_SENT
              and (address[4:], _first(args)) in GOOD and args not in (("x",), ("granular",))]
    sent = [wall for wall, address, args in controller.sent
            if (address, args) in wanted][-len(GOOD):]
    for (frame, name, _), wall in zip(events, sent, strict=True):
        playing = (wall - report.started_at) / seconds
        assert playing <= frame <= playing + 4, (name, frame, playing)

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
