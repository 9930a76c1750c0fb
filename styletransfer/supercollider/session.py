"""What every live run on a SuperCollider server shares: the connection, the SynthDefs,
buffers and recording it makes (`Session`, undone exactly), trimming a recording, and
the report of what was measured.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EngineError, ParameterError
from . import osc
from .compile import synthdef_bytes
from .process import BootedServer
from .score import SC_CHANNELS, SYNTHDEFS, write_stereo
from .server import ServerClient

#: Per-frame timings a report keeps (the latest): memory stays bounded however long a
#: stream runs (about 6 minutes of frames at 48 kHz).
TIMINGS_KEPT = 16384
#: Frames of recording buffered in memory before the disk thread writes them.
RECORD_FRAMES = 65536
#: Where this tool's nodes, buffers and gain buses start on a shared server.
NODE_BASE, BUFFER_BASE, GAIN_BUS_BASE = 20000, 900, 900
#: Cutoff (Hz) of the DC filter in the safety stage every live output ends in: a
#: first-order high-pass, -0.1 dB at 20 Hz (offline renders have none, as the numpy
#: engine has none; `render_nrt` takes it to render what a live run plays).
OUTPUT_DC_HZ = 3.0


@dataclass
class LiveReport:
    """What a live run measured.

    Attributes
    ----------
    frames : int
        Frames sent.
    held : int
        Live input: frames whose analysis arrived while frozen (``/st/freeze``), so no
        gains were sent for them.
    analysed : int
        Live input: analysis frames that arrived with finite powers.
    band_powers : ndarray or None
        Live input: each band's mean power over those frames (lowest band first).
    send_seconds : deque of float
        Python time to build, encode and send each frame (its row of the frame table,
        or live input's gains): the latest `TIMINGS_KEPT` frames.
    loop_seconds : list of float
        Live input: from a frame's analysis arriving to the server confirming its gains.
    late : int or None
        Streams: frames the server reported late (rows not written in time, held
        instead), plus the late bundles of a server started here. Live input: late
        bundles (None: a server not started by us, unknown).
    interrupted : bool
        Stopped by Ctrl-C.
    bad_samples : int or None
        Non-finite samples the output's safety stage met and silenced (None: unread).
    input_bad_samples : int or None
        Live input: non-finite samples the input's safety stage met and silenced.
    replaced : int
        Samples of the audio loaded into buffers that were not finite and were loaded
        as silence (a live input file holding NaN, say).
    controls : list of tuple
        The controls applied: streams, (frame it took effect from, name, value), the
        timeline an offline render reproduces (`render_set`); live input, (seconds from
        the start, name, value).
    control_seconds : list of float
        Per control applied, from its arrival to the server confirming the change.
    control_frames : list of int
        Streams: per control applied, the frames from the last one the server reported
        playing to the one the control took effect from (its delay, in frames).
    late_controls : int
        Streams: controls whose rows were written again too late for their first frame
        (the server had read it): what played differs from the timeline there.
    stopped : bool
        Ended by ``/st/stop``.
    started_at : float or None
        Streams: the Unix time the start bundle was timed for (frame 0's start).
    audio_rate : float or None
        Streams: the audio clock's rate measured against the system clock, in samples
        per second, from the server's frame reports (the nominal rate: a sound card's
        clock that keeps time with the computer's).
    """

    frames: int = 0
    held: int = 0
    analysed: int = 0
    band_powers: np.ndarray | None = None
    send_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=TIMINGS_KEPT))
    loop_seconds: list[float] = field(default_factory=list)
    late: int | None = None
    interrupted: bool = False
    bad_samples: int | None = None
    input_bad_samples: int | None = None
    replaced: int = 0
    controls: list[tuple[float, str, float | str]] = field(default_factory=list)
    control_seconds: list[float] = field(default_factory=list)
    control_frames: list[int] = field(default_factory=list)
    late_controls: int = 0
    stopped: bool = False
    started_at: float | None = None
    audio_rate: float | None = None

    @staticmethod
    def percentile_ms(values: Sequence[float], q: float) -> float:
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


def check_server(server: str | None) -> None:
    """Ask the server at ``server`` (``HOST:PORT``) for its status, so that a command fails
    before its work when none answers (`EngineError`); nothing for None (``--boot``).

    Examples
    --------
    >>> check_server("127.0.0.1:57110")  # doctest: +SKIP
    """
    if server is None:
        return
    host, port = parse_server(server)
    with ServerClient(host, port) as client:
        client.status()


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


class Session:
    """Defs, buffers and a recording on a server, undone exactly by `close`.

    Nodes that end by themselves (a player at the end of its buffer, a recorder given a
    length) are seen ending (``/n_end``), so `close` frees only those still running.
    """

    def __init__(self, client: ServerClient, folder: Path) -> None:
        self.client, self.folder = client, folder
        self.buffers: list[int] = []
        self.recording: tuple[int, int] | None = None  # (buffer, node)
        self.recorder_done = threading.Event()
        self.replaced = 0
        self._ended: set[int] = set()
        self._lock = threading.Lock()
        client.on("/n_end", self._on_end)

    def _on_end(self, args: tuple[object, ...], _: float) -> None:
        if args and isinstance(args[0], int):
            with self._lock:
                self._ended.add(args[0])
            if self.recording is not None and args[0] == self.recording[1]:
                self.recorder_done.set()

    def ended(self, node: int) -> bool:
        """Whether the server reported ``node`` ending."""
        with self._lock:
            return node in self._ended

    def node_ids(self, count: int) -> int:
        """The first of ``count`` consecutive node ids for this run."""
        first = self.client.next_node_id()
        for _ in range(count - 1):
            self.client.next_node_id()
        return first

    def bad_samples(self, bus: int) -> int | None:
        """The count a safety stage keeps on control bus ``bus`` (None if unreadable)."""
        try:
            return round(self.client.get_controls(bus)[0])
        except EngineError:
            return None

    def load_defs(self) -> None:
        for name in SYNTHDEFS:
            self.client.send_def(synthdef_bytes(name))
        self.client.sync()

    def load_audio(self, name: str, signal: np.ndarray, sr: int) -> int:
        """A buffer holding ``signal`` (stereo); NaN and infinite samples become silence
        (counted in `replaced`), so no buffer on the server holds one."""
        path = self.folder / f"{name}.wav"
        self.replaced += write_stereo(path, signal, sr)
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
        return osc.s_new("st_recorder", node, osc.AddAction.TAIL, 0,
                         {"buf": bufnum, "in_bus": 0, "dur": seconds})

    def wait_recording(self, timeout: float) -> None:
        """Wait until a recorder started with ``seconds`` has stopped itself."""
        if self.recording is not None:
            self.recorder_done.wait(timeout)

    def close(self, nodes: list[int]) -> None:
        """Free ``nodes`` still running, stop the recording (sync before closing: the
        recorder writes what it holds as it is freed) and free the buffers."""
        client = self.client
        freed = [*nodes, *([self.recording[1]] if self.recording else [])]
        freed = [node for node in freed if not self.ended(node)]
        try:
            if freed:  # one /n_free each: a node that ended meanwhile fails alone
                client.send(osc.Bundle.now([osc.n_free(node) for node in freed]))
            client.sync()
            if self.recording is not None:
                client.request(osc.b_close(self.recording[0]), "/done", match=("/b_close",))
                self.buffers.append(self.recording[0])
                self.recording = None
            for bufnum in self.buffers:
                client.free_buffer(bufnum)
        finally:
            self.buffers = []
            client.off("/n_end", self._on_end)


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
