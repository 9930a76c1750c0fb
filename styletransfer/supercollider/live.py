"""Live performance with a running scsynth: stream a plan, or style a live input.

- `stream_plan` sends a RenderPlan (any bands per octave) to a server as bundles timed
  ``latency`` seconds ahead of the clock. Every time is counted from one start time, so
  a long track never drifts, however late Python wakes up; each bundle leaves as soon as
  it is within ``latency`` of its time.
- `style_input`: ``st_analyser`` measures the input's band powers every frame and sends
  them back (SendReply); each frame is mapped to a style state here and its band gains go
  straight back to the equaliser on the input. The loop time of each frame is measured.
  The analyser measures octave bands only, so the style must be learnt with one band per
  octave (`check_input_bands`).

Both free exactly the nodes and buffers they made, also after Ctrl-C, and close a
recording properly (the recorder is freed, the server synced, then the file closed).
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..analysis import Analysis
from ..audio import read
from ..errors import EngineError, ParameterError
from ..model import StyleModel
from ..plan import RenderPlan
from . import osc
from .compile import synthdef_bytes
from .process import BootedServer
from .score import (
    CONTENT_BUS,
    MAX_BANDS,
    ROW_EXTRA,
    SC_CHANNELS,
    SYNTHDEFS,
    Ids,
    PlanScore,
    check_plan,
    crossover_edges,
    write_stereo,
)
from .server import ServerClient

#: Seconds the start is sent ahead, and frames are written ahead of the audio, by default.
DEFAULT_LATENCY = 0.2
#: Rows of the frame table ring beyond those written ahead: room for the frame playing
#: and for replies that arrive late.
RING_SLACK = 8
#: Frames of recording buffered in memory before the disk thread writes them.
RECORD_FRAMES = 65536
#: Where this tool's nodes, buffers and gain buses start on a shared server.
NODE_BASE, BUFFER_BASE, GAIN_BUS_BASE = 20000, 900, 900


@dataclass
class LiveReport:
    """What a live run measured.

    Attributes
    ----------
    frames : int
        Frames sent.
    send_seconds : list of float
        Python time to build, encode and send each frame (its row of the frame table,
        or live input's gains).
    loop_seconds : list of float
        Live input: from a frame's analysis arriving to the server confirming its gains.
    late : int or None
        Streams: frames the server reported late (rows not written in time, held
        instead), plus the late bundles of a server started here. Live input: late
        bundles (None: a server not started by us, unknown).
    interrupted : bool
        Stopped by Ctrl-C.
    """

    frames: int = 0
    send_seconds: list[float] = field(default_factory=list)
    loop_seconds: list[float] = field(default_factory=list)
    late: int | None = None
    interrupted: bool = False

    @staticmethod
    def percentile_ms(values: list[float], q: float) -> float:
        """The ``q``-th percentile of ``values`` in milliseconds (NaN if empty).

        Examples
        --------
        >>> LiveReport.percentile_ms([0.001, 0.002, 0.003], 50)
        2.0
        """
        return float(np.percentile(values, q) * 1000) if values else float("nan")


def parse_server(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``) as a host and a port.

    Examples
    --------
    >>> parse_server("127.0.0.1:57110"), parse_server("57120")
    (('127.0.0.1', 57110), ('127.0.0.1', 57120))
    """
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 1 <= number <= 65535:
        raise ParameterError(f"--server {text!r} is not HOST:PORT: use e.g. 127.0.0.1:57110")
    return host or "127.0.0.1", number


@contextmanager
def connect(server: str | None, *, boot: bool, sample_rate: int,
            ) -> Iterator[tuple[ServerClient, BootedServer | None]]:
    """A client for ``server`` (``HOST:PORT``) or for a server booted here (``boot``).

    A booted server (and its dummy JACK, where there is no audio device) is stopped on
    exit; a server given by address is left running.
    """
    if (server is None) == (not boot):
        raise ParameterError("give either --server HOST:PORT or --boot")
    with ExitStack() as stack:
        booted = None
        if boot:
            booted = stack.enter_context(BootedServer(sample_rate=sample_rate))
            host, port = booted.host, booted.port
        else:
            assert server is not None
            host, port = parse_server(server)
        client = stack.enter_context(ServerClient(host, port, node_base=NODE_BASE,
                                                  buffer_base=BUFFER_BASE))
        client.status()
        client.notify(True)
        yield client, booted


class _Session:
    """Defs, buffers and a recording on a server, undone exactly by `close`."""

    def __init__(self, client: ServerClient, folder: Path) -> None:
        self.client, self.folder = client, folder
        self.buffers: list[int] = []
        self.nodes: list[int] = []
        self.recording: tuple[int, int] | None = None  # (buffer, node)
        self.recorder_done = threading.Event()

    def load_defs(self) -> None:
        for name in SYNTHDEFS:
            self.client.send_def(synthdef_bytes(name))
        self.client.sync()

    def load_audio(self, name: str, signal: np.ndarray, sr: int) -> int:
        path = self.folder / f"{name}.wav"
        write_stereo(path, signal, sr)
        bufnum = self.client.next_bufnum()
        self.client.alloc_read(bufnum, str(path))
        self.buffers.append(bufnum)
        return bufnum

    def alloc_table(self, size: int) -> int:
        """A mono buffer of ``size`` samples for a frame table ring."""
        bufnum = self.client.next_bufnum()
        self.client.alloc(bufnum, size, 1)
        self.buffers.append(bufnum)
        return bufnum

    def start_recording(self, path: Path, seconds: float = 0.0) -> osc.Message:
        """Open ``path`` for recording; returns the ``/s_new`` that starts the recorder.

        With ``seconds`` the recorder stops itself after that much audio (see
        `wait_recording`); otherwise it records until `close`.
        """
        bufnum, node = self.client.next_bufnum(), self.client.next_node_id()
        self.client.alloc(bufnum, RECORD_FRAMES, SC_CHANNELS)
        self.client.request(osc.b_write(bufnum, str(path), "wav", "float", 0, 0,
                                        leave_open=True), "/done", match=("/b_write",))
        self.recording = (bufnum, node)
        self.recorder_done = threading.Event()

        def ended(args: tuple[object, ...], _: float) -> None:
            if args and args[0] == node:
                self.recorder_done.set()

        self.client.on("/n_end", ended)
        return osc.s_new("st_recorder", node, osc.AddAction.TAIL, 0,
                         {"buf": bufnum, "in_bus": 0, "dur": seconds})

    def wait_recording(self, timeout: float) -> None:
        """Wait until a recorder started with ``seconds`` has stopped itself."""
        if self.recording is not None:
            self.recorder_done.wait(timeout)

    def close(self, nodes: list[int]) -> None:
        """Free ``nodes``, stop the recording (sync before closing) and free the buffers."""
        client = self.client
        freed = [*nodes, *([self.recording[1]] if self.recording else [])]
        try:
            if freed:
                client.send(osc.Bundle.now([osc.n_free(*freed)]))
            client.sync()
            if self.recording is not None:
                client.request(osc.b_close(self.recording[0]), "/done", match=("/b_close",))
                self.buffers.append(self.recording[0])
                self.recording = None
            for bufnum in self.buffers:
                client.free_buffer(bufnum)
            self.buffers = []
        except EngineError:
            raise
        finally:
            self.buffers = []


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
        session = _Session(client, Path(work))
        session.load_defs()
        content_buf = session.load_audio("content",
                                         PlanScore(plan).content_signal(content.signal), plan.sr)
        style_buf = content_buf
        if style is not None and plan.mode == "mosaic":
            style_buf = session.load_audio("style", style.signal, plan.sr)
        first = client.next_node_id()
        for _ in range(plan.n_bands + 4):
            client.next_node_id()
        ids = Ids(content_buf=content_buf, style_buf=style_buf,
                  table_buf=session.alloc_table(rows * (plan.n_bands + ROW_EXTRA)),
                  player=first, group=first + 1, first_node=first + 2,
                  gain_bus=GAIN_BUS_BASE)
        score = PlanScore(plan, ids)
        ring = _Ring(client, score, rows, ahead, report)
        ring.fill(0)
        start_messages = score.start_messages(rows=rows)
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
            session.close([ids.player, ids.group])
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


def trim_wav(path: Path, start: int, length: int) -> None:
    """Keep frames ``start`` to ``start + length`` of a WAV file, in place, in constant time.

    The frames before ``start`` become a ``JUNK`` chunk (which every WAV reader skips) and
    the file is cut after the last frame kept: nothing is copied, however long the file.

    Examples
    --------
    >>> import soundfile as sf
    >>> sf.write("/tmp/take.wav", np.arange(8.0)[:, None] * [1, 1], 8000, subtype="FLOAT")
    >>> trim_wav(Path("/tmp/take.wav"), 3, 4)
    >>> sf.read("/tmp/take.wav")[0][:, 0].tolist()
    [3.0, 4.0, 5.0, 6.0]
    """
    with open(path, "r+b") as handle:
        riff = handle.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise EngineError(f"{path}: the recording is not a RIFF WAV file")
        position, frame_bytes = 12, 0
        while True:
            handle.seek(position)
            header = handle.read(8)
            if len(header) < 8:
                raise EngineError(f"{path}: the recording has no data chunk")
            name, size = header[:4], struct.unpack("<I", header[4:])[0]
            if name == b"fmt ":
                frame_bytes = struct.unpack("<H", handle.read(14)[12:14])[0]
            if name == b"data":
                break
            position += 8 + size + (size & 1)
        available = size // max(frame_bytes, 1)
        start = min(start, available)
        length = min(length, available - start)
        skip = start * frame_bytes
        if 0 < skip < 8:
            raise EngineError(f"{path}: frames of {frame_bytes} bytes are too small to trim")
        if skip:
            handle.seek(position)
            handle.write(b"JUNK" + struct.pack("<I", skip - 8))
            position += skip
        data = length * frame_bytes
        handle.seek(position)
        handle.write(b"data" + struct.pack("<I", data))
        end = position + 8 + data
        handle.seek(end)
        handle.truncate()
        if data & 1:
            handle.write(b"\0")
            end += 1
        handle.seek(4)
        handle.write(struct.pack("<I", end - 8))


def frame_gains(powers: np.ndarray, model: StyleModel, strength: float,
                max_boost_db: float, previous: np.ndarray | None = None,
                smoothing: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Band gains for one live frame: its band shape moved towards the nearest style state.

    ``powers`` are the frame's band powers (lowest first); the state whose mean band
    shape is nearest the frame's (after exponential smoothing of the shape with weight
    ``smoothing`` on the ``previous`` one) gives the target. Returns (gains, smoothed
    shape).

    The gains are finite whatever the powers: a silent frame (digital zero, denormal
    powers) or one holding a NaN or infinite power says nothing about the sound, so it
    gets gains of 1 and leaves the smoothed shape as it was.

    Examples
    --------
    >>> from styletransfer.model import StyleModel
    >>> rng = np.random.default_rng(0)
    >>> from styletransfer.analysis import analyse
    >>> model = StyleModel(2).fit([analyse(rng.standard_normal((1, 8192)), 22050, level=3)])
    >>> gains, shape = frame_gains(np.array([1.0, 1.0, 1.0, 1.0]), model, 1.0, 24.0)
    >>> gains.shape, bool(np.all(gains > 0))
    ((4,), True)
    >>> gains, same = frame_gains(np.array([0.0, np.nan, 1e-310, 0.0]), model, 1.0, 24.0, shape)
    >>> gains.tolist(), same is shape
    ([1.0, 1.0, 1.0, 1.0], True)
    """
    from ..transfer import SILENT_ENERGY, band_gains

    energy = np.asarray(powers, dtype=np.float64)
    finite = bool(np.all(np.isfinite(energy)))
    energy = np.maximum(energy, 0.0)[None, :] if finite else energy[None, :]
    total = float(energy.sum()) if finite else 0.0
    if total <= SILENT_ENERGY * energy.size:
        kept = previous if previous is not None else np.full(energy.size, -np.log(energy.size))
        return np.ones(energy.size, dtype=np.float32), kept
    floor = max(total, 1e-20) * 1e-8
    shape = np.log(energy[0] + floor / energy.shape[1]) - np.log(total + floor)
    if previous is not None:
        shape = smoothing * previous + (1 - smoothing) * shape
    state = int(np.argmin(((model.shape_mean_ - shape) ** 2).sum(axis=1)))
    wanted = (1 - strength) * shape + strength * model.shape_mean_[state]
    gains = band_gains(energy, wanted[None, :], np.array([total]),
                       max_boost_db=max_boost_db)[0]
    return gains, shape


def check_input_bands(bands_per_octave: int) -> None:
    """Raise `ParameterError` unless ``bands_per_octave`` is 1: ``st_analyser`` measures a
    live input in octave bands only (plans with finer bands stream with `stream_plan`).

    Examples
    --------
    >>> check_input_bands(1)
    >>> check_input_bands(4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: live input is measured in octave bands only, not 4 ...
    """
    if bands_per_octave != 1:
        raise ParameterError(f"live input is measured in octave bands only, not "
                             f"{bands_per_octave} bands per octave: learn the style with "
                             "--bands-per-octave 1")


def style_input(model: StyleModel, *, server: str | None = None, boot: bool = False,
                strength: float = 0.8, max_boost_db: float = 24.0,
                input_file: str | os.PathLike[str] | None = None,
                seconds: float | None = None, record: str | os.PathLike[str] | None = None,
                ) -> LiveReport:
    """Style a live input after ``model``, on a SuperCollider server, until stopped.

    The input is the server's first two hardware inputs, or ``input_file`` played into
    the chain instead (for rehearsal without an interface). Runs for ``seconds``, to the
    end of ``input_file``, or until Ctrl-C. Each frame's loop time (analysis arriving ->
    gains confirmed by the server) goes into the report. ``model`` must have one band
    per octave (a `ParameterError` otherwise).

    Examples
    --------
    >>> style_input(model, boot=True, input_file="take.wav")  # doctest: +SKIP
    """
    sr, level, hop = model.sr_, model.level_, model.hop_
    check_input_bands(model.bands_per_octave_)
    n_bands = model.n_bands_
    stopped: KeyboardInterrupt | None = None
    if seconds is not None and not 0 < seconds <= 1e6:
        raise ParameterError(f"--seconds {seconds} is out of range: use a number of seconds "
                             "above 0")
    if n_bands > MAX_BANDS:
        raise ParameterError(f"the style has {n_bands} bands; live input measures at most "
                             f"{MAX_BANDS}: learn it with --levels {MAX_BANDS - 1} or fewer")
    report = LiveReport()
    with tempfile.TemporaryDirectory(prefix="st-input-") as work, \
            connect(server, boot=boot, sample_rate=sr) as (client, booted):
        session = _Session(client, Path(work))
        session.load_defs()
        status = client.status()
        hardware_in = SC_CHANNELS  # the first input bus follows the output buses
        in_bus, duration = hardware_in, seconds
        start: list[osc.Message] = []
        first = client.next_node_id()
        for _ in range(n_bands + 3):
            client.next_node_id()
        player, analyser = first, first + 1
        if input_file is not None:
            signal, file_sr = read(input_file)
            buf = session.load_audio("input", signal[:SC_CHANNELS], file_sr)
            start.append(osc.s_new("st_play", player, osc.AddAction.HEAD, 0,
                                   {"buf": buf, "out_bus": CONTENT_BUS}))
            in_bus = CONTENT_BUS
            length = signal.shape[1] / file_sr
            duration = length if duration is None else min(duration, length)
        plan = RenderPlan.identity(sr=int(status.nominal_sr or sr), n_samples=hop,
                                   n_channels=SC_CHANNELS, wavelet=model.wavelet_,
                                   level=level, hop=hop)
        ids = Ids(player=player, group=first + 2, first_node=first + 3,
                  gain_bus=GAIN_BUS_BASE)
        score = PlanScore(plan, ids)
        edges = crossover_edges(plan)
        padded = edges + [edges[-1]] * (MAX_BANDS - 1 - len(edges))
        start += [score.gain_message(0), *score.equaliser_messages(in_bus=in_bus)]
        start += [osc.s_new("st_analyser", analyser, osc.AddAction.BEFORE, ids.group,
                            {"in_bus": in_bus, "frame": hop}),
                  osc.n_setn(analyser, "edges", padded)]
        if record is not None:
            start.append(session.start_recording(Path(record).resolve()))
        loop = _InputLoop(client, model, score, strength, max_boost_db, n_bands, report)
        client.on("/st/bands", loop.on_bands)
        client.on("/synced", loop.on_synced)
        client.send(osc.Bundle.now(start))
        try:
            began = time.monotonic()
            while duration is None or time.monotonic() - began < duration:
                time.sleep(0.05)
        except KeyboardInterrupt as exc:  # Ctrl-C, or a signal that stops the command
            report.interrupted, stopped = True, exc
        finally:
            client.off("/st/bands", loop.on_bands)
            session.close([player, analyser, ids.group])
        if booted is not None:
            report.late = booted.late_count
    if stopped is not None:
        raise stopped
    return report


class _InputLoop:
    """Answers each ``/st/bands`` with the frame's gains and measures the loop time."""

    SYNC_BASE = 1_000_000

    def __init__(self, client: ServerClient, model: StyleModel, score: PlanScore,
                 strength: float, max_boost_db: float, n_bands: int,
                 report: LiveReport) -> None:
        self.client, self.model, self.score = client, model, score
        self.strength, self.max_boost_db, self.n_bands = strength, max_boost_db, n_bands
        self.report = report
        self.shape: np.ndarray | None = None
        self.pending: dict[int, float] = {}
        self.lock = threading.Lock()
        self.count = 0

    def on_bands(self, args: tuple[object, ...], arrived: float) -> None:
        powers = np.array([float(v) for v in args[2: 2 + self.n_bands]  # type: ignore[arg-type]
                           ])
        gains, self.shape = frame_gains(powers, self.model, self.strength, self.max_boost_db,
                                        self.shape)
        with self.lock:
            self.count += 1
            sync_id = self.SYNC_BASE + self.count
            self.pending[sync_id] = arrived
        self.client.send(osc.Bundle.now([osc.c_setn(self.score.ids.gain_bus,
                                                    [float(g) for g in gains]),
                                         osc.sync(sync_id)]))
        self.report.frames += 1
        self.report.send_seconds.append(time.perf_counter() - arrived)

    def on_synced(self, args: tuple[object, ...], arrived: float) -> None:
        if not args or not isinstance(args[0], int):
            return
        with self.lock:
            sent = self.pending.pop(args[0], None)
        if sent is not None:
            self.report.loop_seconds.append(arrived - sent)
