"""Live performance with a running scsynth: stream a plan, or style a live input.

- `stream_set` sends a live set (one plan per mode and style; `stream_plan`: one plan)
  to a server: everything starts in one bundle, and the server's audio clock times
  every frame (``st_frames`` plays a ring buffer of frame table rows kept ``latency``
  seconds ahead of the frame the server reports), so a stream never drifts from its
  audio. Live controls (`styletransfer.supercollider.control`) rewrite the rows ahead.
- `style_input` (`styletransfer.supercollider.live_input`): the server analyses a live
  input and gets band gains back every frame.

Both free exactly the nodes and buffers they made, also after Ctrl-C, and close a
recording properly (the recorder is freed, the server synced, then the file closed).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..analysis import Analysis
from ..errors import EngineError, ParameterError
from ..plan import RenderPlan
from ..settings import MODES
from . import osc
from .control import ControlError, ControlListener, FollowUp, not_playing
from .live_input import fft_cuts, frame_gains, style_input
from .score import Ids, PlanScore, check_plan
from .server import ServerClient
from .session import (
    GAIN_BUS_BASE,
    OUTPUT_DC_HZ,
    LiveReport,
    Session,
    connect,
    parse_server,
    trim_wav,
)
from .setscore import SetScore
from .timeline import LiveSet, Timeline

__all__ = ["DEFAULT_LATENCY", "LiveReport", "LiveSet", "connect", "fft_cuts",
           "frame_gains", "parse_server", "stream_plan", "stream_set", "style_input",
           "trim_wav"]

#: Seconds the start is sent ahead, and frames are written ahead of the audio, by default.
DEFAULT_LATENCY = 0.2
#: Frames after the one playing from which a control takes effect: the rows from there
#: on are written again, in time even when the server's frame reports come a frame late.
CONTROL_FRAMES = 3
#: Rows a control writes again before the server is asked to confirm it (the frames it
#: takes effect from); the rows after them follow the confirmation, well before they play.
FIRST_ROWS = 2
#: Rows of the frame table ring beyond those written ahead: room for the frame playing
#: and for replies that arrive late.
RING_SLACK = 8


def stream_plan(plan: RenderPlan, content: Analysis, style: Analysis | None, *,
                server: str | None = None, boot: bool = False,
                latency: float = DEFAULT_LATENCY, record: str | os.PathLike[str] | None = None,
                on_frame: Callable[[int, int], None] | None = None,
                control: ControlListener | None = None) -> LiveReport:
    """Play ``plan`` on a SuperCollider server in real time (`stream_set` of it alone;
    its strength cannot change: `stream_set` a set planned with recipes for that).

    Examples
    --------
    >>> stream_plan(plan, content, None, boot=True, record="take.wav")  # doctest: +SKIP
    """
    return stream_set(LiveSet.single(plan, content, style), server=server, boot=boot,
                      latency=latency, record=record, on_frame=on_frame, control=control)


def stream_set(live: LiveSet, *, server: str | None = None, boot: bool = False,
               latency: float = DEFAULT_LATENCY, record: str | os.PathLike[str] | None = None,
               on_frame: Callable[[int, int], None] | None = None,
               control: ControlListener | None = None,
               ctrl_c_stops: bool = False) -> LiveReport:
    """Play a live set on a SuperCollider server in real time, under live control.

    Everything starts in one bundle; from then on the server's audio clock times every
    frame (``st_frames`` reads them from a ring buffer that this function keeps
    ``latency`` seconds ahead of the audio, as the server reports each frame), so the
    sound is the offline render's, sample for sample, however the sound card's clock
    drifts from the system's.

    Controls from ``control`` (a `ControlListener`) are put on a `Timeline`
    `CONTROL_FRAMES` frames after the frame playing, and the rows already written from
    there on are written again: a change is heard within three frames, and an offline
    render of the timeline (`LiveReport.controls`, `render_set`) is what was played (a
    rewrite that came too late for its frame is counted: `LiveReport.late_controls`).

    Parameters
    ----------
    live : LiveSet
        What to play: one plan per mode and style (mono or stereo; bands finer than an
        octave need the limits of `styletransfer.supercollider.score.check_grid`).
    server : str, optional
        ``HOST:PORT`` of a running scsynth.
    boot : bool
        Start scsynth here instead (with a dummy JACK where there is no audio device).
    latency : float
        Seconds by which the start bundle is sent ahead, and frames are written ahead of
        the audio.
    record : path, optional
        Also record the result to this WAV file (float): from the content's first sample
        to its last (or to ``/st/stop``), as the offline render has it.
    on_frame : callable, optional
        Called with (frames played, frames in all) about once a second.
    control : ControlListener, optional
        Where control messages come from; the stream applies them while it plays.
    ctrl_c_stops : bool
        Ctrl-C ends the stream as ``/st/stop`` does (`LiveReport.interrupted` says so),
        the report is returned; otherwise the interrupt is raised again once all is
        freed. (An endless synthesis ends so; a signal such as SIGTERM is raised.)

    Examples
    --------
    >>> stream_set(LiveSet.single(plan, content, None), boot=True)  # doctest: +SKIP
    """
    for row in live.plans:
        check_plan(row[0])
    plan = live.first
    if not 0.01 <= latency <= 5:
        raise ParameterError(f"--latency {latency} is out of range: use 0.01 to 5 seconds")
    if "mosaic" in live.modes and any(style is None for style in live.styles):
        raise ParameterError("a mosaic plan needs the style's analysis to play")
    if live.content is None and live.source is None:
        raise ParameterError("a live set needs the content's analysis to play")
    report = LiveReport()
    stopped: KeyboardInterrupt | None = None
    ahead = max(2, int(np.ceil(latency / plan.frame_seconds)))
    rows = ahead + RING_SLACK
    with tempfile.TemporaryDirectory(prefix="st-live-") as work, \
            connect(server, boot=boot, sample_rate=plan.sr) as (client, booted):
        session = Session(client, Path(work))
        session.load_defs()
        shape = SetScore(live)
        content_buf = session.load_audio(
            "content", shape.chains[0].content_signal(live.content_signal()), plan.sr)
        style_signal = live.style_signal()
        style_buf = content_buf if style_signal is None else \
            session.load_audio("style", style_signal, plan.sr)
        tables = [session.alloc_table(rows * chain.stride) for chain in shape.chains]
        if tables != list(range(tables[0], tables[0] + len(tables))):
            raise EngineError("the frame tables' buffers are not consecutive: this is a bug")
        score = SetScore(live, Ids(content_buf=content_buf, style_buf=style_buf,
                                   table_buf=tables[0], player=session.node_ids(shape.n_nodes),
                                   gain_bus=GAIN_BUS_BASE))
        timeline = Timeline(live)
        ring = _Ring(client, score.chains, timeline, rows, ahead, report)
        ring.fill(0)
        start_messages = score.start_messages(rows=rows, dc_hz=OUTPUT_DC_HZ)
        if record is not None:  # exactly the score's length, counted in samples
            start_messages.append(session.start_recording(Path(record).resolve(),
                                                          score.end_time))
        client.on("/st/frame", ring.on_frame)
        client.on("/st/late", ring.on_late)
        client.sync()
        end_frame = int(np.ceil(score.end_time / plan.frame_seconds)) + 1
        stop = control.stop_requested if control is not None else threading.Event()
        if control is not None:
            control.apply = _StreamControl(client, live, timeline, ring, report).apply
        try:
            report.started_at = time.time() + latency
            client.send(osc.Bundle(report.started_at, tuple(start_messages)))
            ring.wait(end_frame, timeout=latency + 5.0, on_frame=on_frame, stop=stop)
            if not stop.is_set():
                session.wait_recording(timeout=5.0)
        except KeyboardInterrupt as exc:  # Ctrl-C, or a signal that stops the command
            report.interrupted, stopped = True, exc
        finally:
            if control is not None:
                control.apply = not_playing
            client.off("/st/frame", ring.on_frame)
            client.off("/st/late", ring.on_late)
            report.stopped = stop.is_set()
            report.controls = [(float(f), n, v) for f, n, v in timeline.events]
            report.bad_samples = session.bad_samples(score.count_bus)
            report.replaced = session.replaced
            session.close(score.nodes)
        if record is not None and Path(record).is_file():
            trim_wav(Path(record), score.delay_samples, live.n_samples)
        report.late = ring.late + (booted.late_count if booted is not None else 0)
        report.audio_rate = ring.audio_rate(plan.sr)
    if stopped is not None and not (ctrl_c_stops and type(stopped) is KeyboardInterrupt):
        raise stopped
    return report


class _StreamControl:
    """Applies control messages to a stream: each goes on the timeline `CONTROL_FRAMES`
    after the frame playing, and the rows written from there on are written again."""

    def __init__(self, client: ServerClient, live: LiveSet, timeline: Timeline, ring: _Ring,
                 report: LiveReport) -> None:
        self.client, self.live, self.timeline, self.ring = client, live, timeline, ring
        self.report = report

    def apply(self, name: str, value: float | str) -> FollowUp | None:
        began = time.perf_counter()
        if name == "stop":
            return None
        if name == "mode":
            if value not in self.live.modes:
                raise ControlError("not loaded", f"mode {value} was not planned: start with "
                                   f"--switch-modes to play {' and '.join(MODES)}")
            value = float(self.live.modes.index(str(value)))
        if name == "style" and float(value) >= self.live.n_styles:
            raise ControlError("not loaded", f"style {value:g} is not loaded: "
                               f"{self.live.n_styles} style(s) were given (0 to "
                               f"{self.live.n_styles - 1})")
        with self.ring.lock:
            if self.ring.estimate() + CONTROL_FRAMES >= self.ring.n_frames:
                raise ControlError("not playing", "the content has ended")
            try:
                frame = self.timeline.add(self.ring.estimate() + CONTROL_FRAMES, name,
                                          float(value))
            except ParameterError as error:
                raise ControlError("not playable", str(error)) from error
            self.ring.rewrite(frame, frame + FIRST_ROWS)  # the rows needed first
            self.report.control_frames.append(frame - self.ring.playing)
        self.client.confirm()
        self.report.control_seconds.append(time.perf_counter() - began)
        with self.ring.lock:  # reports arrive in order: one of `frame` means it was read
            if self.ring.playing >= frame:
                self.report.late_controls += 1
        return lambda: self.rewrite_ahead(frame + FIRST_ROWS)

    def rewrite_ahead(self, frame: int) -> None:
        """Write again the rows from ``frame`` on, read a while after the control."""
        with self.ring.lock:
            self.ring.rewrite(frame)


class _Ring:
    """Keeps a ring buffer of frame table rows per chain ``ahead`` frames ahead of the
    frame the server reports playing, from a timeline, and counts the frames it reports
    late."""

    def __init__(self, client: ServerClient, chains: list[PlanScore], timeline: Timeline,
                 rows: int, ahead: int, report: LiveReport) -> None:
        self.client, self.chains, self.timeline = client, chains, timeline
        self.rows, self.ahead, self.report = rows, ahead, report
        self.n_frames = timeline.live.n_frames
        self.frame_seconds = chains[0].frame_seconds
        self.written = 0
        self.playing = -1
        self.seen = time.perf_counter()
        self.first: tuple[int, float] | None = None  # (frame, arrival) of the first report
        self.last: tuple[int, float] = (0, 0.0)
        self.late = 0
        self.lock = threading.Lock()
        self.moved = threading.Condition(self.lock)

    def fill(self, playing: int) -> None:
        """Write the rows up to ``ahead`` frames after ``playing`` (not yet written)."""
        stop = min(self.n_frames, playing + 1 + self.ahead)
        while self.written < stop:
            began = time.perf_counter()
            start = self.written
            end = self._send(start, stop)
            spent = (time.perf_counter() - began) / (end - start)
            self.report.send_seconds.extend([spent] * (end - start))
            self.report.frames += end - start
            self.written = end

    def rewrite(self, frame: int, stop: int | None = None) -> None:
        """Write again the rows from ``frame`` (up to ``stop``) that were written already."""
        start = max(frame, self.playing + 1)
        end = self.written if stop is None else min(stop, self.written)
        while start < end:
            start = self._send(start, end)

    def _send(self, start: int, stop: int) -> int:
        """Send every chain's rows from ``start``, up to ``stop`` or the ring's end;
        returns where they stopped."""
        end = min(stop, start + self.rows - start % self.rows)
        for index, chain in enumerate(self.chains):
            self.client.send(chain.table_message(start, end, self.rows,
                                                 self.timeline.rows(index, start, end)))
        return end

    def estimate(self) -> int:
        """The frame playing now, from the last one reported and the time since."""
        passed = (time.perf_counter() - self.seen) / self.frame_seconds
        return self.playing + max(0, int(passed))

    def on_frame(self, args: tuple[object, ...], arrived: float) -> None:
        playing = int(float(args[2]))  # type: ignore[arg-type]
        with self.lock:
            if playing > self.playing:
                self.playing, self.seen = playing, arrived
                self.first = self.first or (playing, arrived)
                self.last = (playing, arrived)
            self.fill(self.playing)
            self.timeline.forget_before(self.playing)
            self.moved.notify_all()

    def audio_rate(self, sr: int) -> float | None:
        """The audio clock's rate against the system clock, from the frame reports (their
        jitter, a block or so, spread over the whole stream)."""
        if self.first is None or self.last[1] - self.first[1] < 1.0:
            return None
        frames = self.last[0] - self.first[0]
        return frames * self.frame_seconds * sr / (self.last[1] - self.first[1])

    def on_late(self, args: tuple[object, ...], _: float) -> None:
        with self.lock:
            self.late += 1

    def wait(self, end_frame: int, *, timeout: float,
             on_frame: Callable[[int, int], None] | None,
             stop: threading.Event | None = None) -> None:
        """Wait until the server reports ``end_frame`` (or ``stop`` is set); `EngineError`
        if it reports no frame for ``timeout`` seconds."""
        total = self.n_frames
        last_note = moved = time.monotonic()
        with self.lock:
            while self.playing < end_frame and not (stop is not None and stop.is_set()):
                before = self.playing
                self.moved.wait(timeout=0.1)
                now = time.monotonic()
                if self.playing != before:
                    moved = now
                elif now - moved > timeout:
                    raise EngineError("the server stopped playing: no frame was reported for "
                                      f"{timeout:.1f} s; is it still running?")
                if on_frame is not None and now - last_note > 1.0:
                    on_frame(min(total, self.playing + 1), total)
                    last_note = now
