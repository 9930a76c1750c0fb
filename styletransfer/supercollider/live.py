"""Live performance with a running scsynth: stream a plan, or style a live input.

- `stream_plan` sends a RenderPlan (any bands per octave) to a server: everything starts
  in one bundle, and the server's audio clock times every frame (``st_frames`` plays a
  ring buffer of frame table rows that `stream_plan` keeps ``latency`` seconds ahead of
  the frame the server reports), so a stream never drifts from its audio.
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
from . import osc
from .live_input import check_input_bands, frame_gains, style_input
from .score import ROW_EXTRA, Ids, PlanScore, check_plan
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

__all__ = ["DEFAULT_LATENCY", "LiveReport", "check_input_bands", "connect", "frame_gains",
           "parse_server", "stream_plan", "style_input", "trim_wav"]

#: Seconds the start is sent ahead, and frames are written ahead of the audio, by default.
DEFAULT_LATENCY = 0.2
#: Rows of the frame table ring beyond those written ahead: room for the frame playing
#: and for replies that arrive late.
RING_SLACK = 8


def stream_plan(plan: RenderPlan, content: Analysis, style: Analysis | None, *,
                server: str | None = None, boot: bool = False,
                latency: float = DEFAULT_LATENCY, record: str | os.PathLike[str] | None = None,
                on_frame: Callable[[int, int], None] | None = None) -> LiveReport:
    """Play ``plan`` on a SuperCollider server in real time.

    Everything starts in one bundle; from then on the server's audio clock times every
    frame (``st_frames`` reads them from a ring buffer that this function keeps
    ``latency`` seconds ahead of the audio, as the server reports each frame), so the
    sound is the offline render's, sample for sample, however the sound card's clock
    drifts from the system's.

    Parameters
    ----------
    plan : RenderPlan
        What to play (mono or stereo; bands finer than an octave need the limits of
        `styletransfer.supercollider.score.check_grid`).
    content, style : Analysis
        The analyses the plan was made from (their ``signal`` is loaded into buffers).
    server : str, optional
        ``HOST:PORT`` of a running scsynth.
    boot : bool
        Start scsynth here instead (with a dummy JACK where there is no audio device).
    latency : float
        Seconds by which the start bundle is sent ahead, and frames are written ahead of
        the audio.
    record : path, optional
        Also record the result to this WAV file (float): from the content's first sample
        to its last, as the offline render has it.
    on_frame : callable, optional
        Called with (frames played, frames in all) about once a second.

    Examples
    --------
    >>> stream_plan(plan, content, None, boot=True, record="take.wav")  # doctest: +SKIP
    """
    check_plan(plan)
    if not 0.01 <= latency <= 5:
        raise ParameterError(f"--latency {latency} is out of range: use 0.01 to 5 seconds")
    if plan.mode == "mosaic" and style is None:
        raise ParameterError("a mosaic plan needs the style's analysis to play")
    report = LiveReport()
    stopped: KeyboardInterrupt | None = None
    ahead = max(2, int(np.ceil(latency / plan.frame_seconds)))
    rows = ahead + RING_SLACK
    with tempfile.TemporaryDirectory(prefix="st-live-") as work, \
            connect(server, boot=boot, sample_rate=plan.sr) as (client, booted):
        session = Session(client, Path(work))
        session.load_defs()
        content_buf = session.load_audio("content",
                                         PlanScore(plan).content_signal(content.signal), plan.sr)
        style_buf = content_buf
        if style is not None and plan.mode == "mosaic":
            style_buf = session.load_audio("style", style.signal, plan.sr)
        first = session.node_ids(len(PlanScore(plan).node_ids) + 2)
        ids = Ids(content_buf=content_buf, style_buf=style_buf,
                  table_buf=session.alloc_table(rows * (plan.n_bands + ROW_EXTRA)),
                  player=first, group=first + 1, first_node=first + 2,
                  gain_bus=GAIN_BUS_BASE)
        score = PlanScore(plan, ids)
        ring = _Ring(client, score, rows, ahead, report)
        ring.fill(0)
        start_messages = score.start_messages(rows=rows, dc_hz=OUTPUT_DC_HZ)
        if record is not None:  # exactly the score's length, counted in samples
            start_messages.append(session.start_recording(Path(record).resolve(),
                                                          score.end_time))
        client.on("/st/frame", ring.on_frame)
        client.on("/st/late", ring.on_late)
        client.sync()
        end_frame = int(np.ceil(score.end_time / plan.frame_seconds)) + 1
        try:
            client.send(osc.Bundle(time.time() + latency, tuple(start_messages)))
            ring.wait(end_frame, timeout=latency + 5.0, on_frame=on_frame)
            session.wait_recording(timeout=5.0)
        except KeyboardInterrupt as exc:  # Ctrl-C, or a signal that stops the command
            report.interrupted, stopped = True, exc
        finally:
            client.off("/st/frame", ring.on_frame)
            client.off("/st/late", ring.on_late)
            report.bad_samples = session.bad_samples(score.count_bus)
            report.replaced = session.replaced
            session.close([ids.player, ids.group, *score.node_ids[-2:]])
        if record is not None and Path(record).is_file():
            trim_wav(Path(record), score.delay_samples, plan.n_samples)
        report.late = ring.late + (booted.late_count if booted is not None else 0)
    if stopped is not None:
        raise stopped
    return report


class _Ring:
    """Keeps a ring buffer of frame table rows ``ahead`` frames ahead of the frame the
    server reports playing, and counts the frames it reports late."""

    def __init__(self, client: ServerClient, score: PlanScore, rows: int, ahead: int,
                 report: LiveReport) -> None:
        self.client, self.score, self.rows, self.ahead = client, score, rows, ahead
        self.report = report
        self.written = 0
        self.playing = -1
        self.late = 0
        self.lock = threading.Lock()
        self.moved = threading.Condition(self.lock)

    def fill(self, playing: int) -> None:
        """Write the rows up to ``ahead`` frames after ``playing`` (not yet written)."""
        stop = min(self.score.plan.n_frames, playing + 1 + self.ahead)
        while self.written < stop:
            began = time.perf_counter()
            start = self.written
            end = min(stop, start + self.rows - start % self.rows)  # up to the ring's end
            self.client.send(self.score.table_message(start, end, self.rows))
            spent = (time.perf_counter() - began) / (end - start)
            self.report.send_seconds.extend([spent] * (end - start))
            self.report.frames += end - start
            self.written = end

    def on_frame(self, args: tuple[object, ...], _: float) -> None:
        playing = int(float(args[2]))  # type: ignore[arg-type]
        with self.lock:
            self.playing = max(self.playing, playing)
            self.fill(self.playing)
            self.moved.notify_all()

    def on_late(self, args: tuple[object, ...], _: float) -> None:
        with self.lock:
            self.late += 1

    def wait(self, end_frame: int, *, timeout: float,
             on_frame: Callable[[int, int], None] | None) -> None:
        """Wait until the server reports ``end_frame``; `EngineError` if it reports no
        frame for ``timeout`` seconds."""
        total = self.score.plan.n_frames
        last_note = moved = time.monotonic()
        with self.lock:
            while self.playing < end_frame:
                before = self.playing
                self.moved.wait(timeout=0.5)
                now = time.monotonic()
                if self.playing != before:
                    moved = now
                elif now - moved > timeout:
                    raise EngineError("the server stopped playing: no frame was reported for "
                                      f"{timeout:.1f} s; is it still running?")
                if on_frame is not None and now - last_note > 1.0:
                    on_frame(min(total, self.playing + 1), total)
                    last_note = now
