"""Start and stop the SuperCollider server processes this program owns.

`BootedServer` starts scsynth for real-time work on a free UDP port. When no JACK server
runs, it first starts a private dummy JACK server (no sound card, no realtime
scheduling) named ``styletransfer-1`` to ``styletransfer-4``, so it never touches a JACK
server someone else runs. `BootedServer.stop` ends exactly the processes it started:
scsynth gets ``/quit`` first, so that it leaves no shared memory behind and its JACK
server can stop at once.

JACK keeps at most 8 servers in its registry and reclaims a dead server's entry only
when a server of the same name starts again; a few fixed names keep the registry from
filling up with entries of servers that were killed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import weakref
from collections import deque
from types import TracebackType
from typing import IO

from ..errors import EngineError, ParameterError
from . import osc
from .server import ServerClient

_INSTALL_HINTS = {
    "scsynth": "install SuperCollider (Debian: supercollider-server)",
    "sclang": "install SuperCollider's language (Debian: supercollider-language)",
    "jackd": "install JACK (Debian: jackd2)",
    "jack_wait": "install JACK (Debian: jackd2)",
}
_LATE = re.compile(r"\blate\b")
_JACK_BANNER = re.compile(r"^(jackdmp \d|Copyright |jackdmp comes|This is free software|"
                          r"under certain conditions)")
_JACK_SLOTS = 4
_STOP_SECONDS = 2.0

Process = subprocess.Popen[str]
QuitAddress = tuple[str, int] | None


def find_executable(name: str, *, otherwise: str = " or pass --server HOST:PORT") -> str:
    """The full path of a program on ``PATH``, or `ParameterError` with an install hint.

    ``otherwise`` ends the message: what else the user can do without the program.

    Examples
    --------
    >>> find_executable("sh").endswith("/sh")
    True
    >>> find_executable("zzz")
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: zzz not found: install it or pass --server HOST:PORT
    """
    path = shutil.which(name)
    if path is None:
        hint = _INSTALL_HINTS.get(name, "install it")
        raise ParameterError(f"{name} not found: {hint}{otherwise}")
    return path


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on ``host`` that is free right now.

    Examples
    --------
    >>> 0 < free_udp_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _OutputReader:
    """Keep the last lines a process prints, and count the lines saying "late"."""

    def __init__(self, stream: IO[str], keep: int = 200) -> None:
        self.lines: deque[str] = deque(maxlen=keep)
        self.late_count = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for raw in stream:
                line = raw.rstrip()
                with self._lock:
                    self.lines.append(line)
                    if _LATE.search(line):
                        self.late_count += 1

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def tail(self, count: int = 3) -> str:
        lines = [line for line in self.snapshot()
                 if line.strip() and not _JACK_BANNER.match(line)][-count:]
        return " | ".join(lines) or "no output"

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _end_process(process: Process, quit_at: QuitAddress) -> None:
    """Stop a process: ``/quit`` when it is scsynth, then SIGTERM, then SIGKILL, 2 s apart."""
    if process.poll() is not None:
        return
    if quit_at is not None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(osc.quit().to_osc(), quit_at)
            except OSError:
                pass
        try:
            process.wait(_STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
    process.terminate()
    try:
        process.wait(_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _end_all(processes: list[tuple[Process, QuitAddress]]) -> None:
    """End processes in the reverse order of starting them (scsynth before its JACK)."""
    while processes:
        _end_process(*processes.pop())


def _jack_running(jack_wait: str, env: dict[str, str], name: str | None = None) -> bool:
    command = [jack_wait, "-c"] + (["-s", name] if name else [])
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=5,
                                stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as error:
        raise EngineError("jack_wait -c did not answer within 5 s: check the JACK "
                          "installation") from error
    return any(line.strip() == "running" for line in result.stdout.splitlines())


class BootedServer:
    """A scsynth process for real-time work, started and stopped by this program.

    Parameters
    ----------
    port
        UDP port for scsynth; a free port when None.
    sample_rate, period
        Sample rate and period (frames) of the dummy JACK server, when one is started.
    block_size
        scsynth's control block size (``-z``).
    n_inputs, n_outputs
        Hardware input and output channels (``-i``, ``-o``).
    timeout
        Seconds to wait for JACK and for scsynth's first ``/status`` answer.
    pace
        How fast a dummy JACK started here runs against the system clock (1: real time;
        1.02 runs 2 % fast): a sound card whose clock is off its nominal rate, for tests
        of timing. Other than 1, a private JACK is always started.

    Examples
    --------
    >>> with BootedServer() as server:  # doctest: +SKIP
    ...     with server.client() as client:
    ...         print(client.status().nominal_sr)
    48000.0
    """

    def __init__(self, *, port: int | None = None, sample_rate: int = 48000, period: int = 64,
                 block_size: int = 64, n_inputs: int = 2, n_outputs: int = 2,
                 timeout: float = 10.0, pace: float = 1.0) -> None:
        if not 0.5 <= pace <= 2.0:
            raise EngineError(f"a dummy JACK pace of {pace} is out of range: use 0.5 to 2")
        self.pace = pace
        self.host = "127.0.0.1"
        self.port = free_udp_port(self.host) if port is None else port
        self.sample_rate = sample_rate
        self.period = period
        self.block_size = block_size
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.timeout = timeout
        self.jack_name: str | None = None
        self._started = False
        self._processes: list[tuple[Process, QuitAddress]] = []
        self._scsynth: Process | None = None
        self._jackd: Process | None = None
        self._output: _OutputReader | None = None
        self._jack_output: _OutputReader | None = None
        self._stopper = weakref.finalize(self, _end_all, self._processes)

    # Life cycle

    def __enter__(self) -> BootedServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> BootedServer:
        """Start JACK (when none runs) and scsynth, and wait until scsynth answers."""
        if self._started:
            raise EngineError(f"the server on port {self.port} was already started: "
                              "make a new BootedServer")
        self._started = True
        scsynth = find_executable("scsynth")
        jack_wait = find_executable("jack_wait")
        env = dict(os.environ, JACK_NO_START_SERVER="1")
        deadline = time.monotonic() + self.timeout
        try:
            if self.pace != 1.0 or not _jack_running(jack_wait, env):
                env["JACK_DEFAULT_SERVER"] = self._start_jack(jack_wait, env, deadline)
            self._start_scsynth(scsynth, env, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_jack(self, jack_wait: str, env: dict[str, str], deadline: float) -> str:
        """Start a private dummy JACK server on the first free name; return the name."""
        jackd = find_executable("jackd")
        problem = "no output"
        for slot in range(1, _JACK_SLOTS + 1):
            name = f"styletransfer-{slot}"
            if _jack_running(jack_wait, env, name):
                continue
            # the dummy driver paces itself by -w (microseconds a period): without it, it
            # runs at its default pace whatever the period, slower or faster than real time
            wait = round(1e6 * self.period / self.sample_rate / self.pace)
            command = [jackd, "-s", "-n", name, "-R", "-d", "dummy", "-r",
                       str(self.sample_rate), "-p", str(self.period), "-w", str(wait)]
            process = self._spawn(command, env)
            output = _OutputReader(_stdout(process), keep=50)
            while not _jack_running(jack_wait, env, name):
                if process.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise EngineError(f"jackd did not start within {self.timeout:g} s: "
                                      f"{output.tail()}")
                time.sleep(0.05)
            else:
                self._jackd, self._jack_output, self.jack_name = process, output, name
                return name
            output.join(1.0)  # it exited: perhaps another program took this name just now
            problem = f"exit code {process.returncode}: {output.tail()}"
        raise EngineError(f"could not start a private JACK server ({problem}): stop other "
                          "JACK servers or pass --server HOST:PORT")

    def _start_scsynth(self, scsynth: str, env: dict[str, str], deadline: float) -> None:
        command = [scsynth, "-u", str(self.port), "-i", str(self.n_inputs),
                   "-o", str(self.n_outputs), "-z", str(self.block_size), "-R", "0", "-D", "0"]
        self._scsynth = process = self._spawn(command, env, quit_at=(self.host, self.port))
        self._output = output = _OutputReader(_stdout(process))
        with ServerClient(self.host, self.port, timeout=0.25) as client:
            while True:
                try:
                    client.status()
                    return
                except EngineError:
                    pass
                if process.poll() is not None:
                    output.join(1.0)
                    raise EngineError(f"scsynth exited with code {process.returncode} while "
                                      f"starting on port {self.port}: {output.tail()}")
                if time.monotonic() > deadline:
                    raise EngineError(f"scsynth did not answer on port {self.port} within "
                                      f"{self.timeout:g} s: {output.tail()}")
                time.sleep(0.05)

    def _spawn(self, command: list[str], env: dict[str, str], *,
               quit_at: QuitAddress = None) -> Process:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")
        self._processes.append((process, quit_at))
        return process

    def stop(self) -> None:
        """Stop scsynth, then the JACK server if this object started it; safe to call twice.

        scsynth gets ``/quit``; a process still there 2 s later gets SIGTERM, and SIGKILL
        after 2 s more.
        """
        self._stopper()
        for reader in (self._output, self._jack_output):
            if reader is not None:
                reader.join(1.0)

    # State

    @property
    def running(self) -> bool:
        """Whether the scsynth process runs."""
        return self._scsynth is not None and self._scsynth.poll() is None

    @property
    def pid(self) -> int | None:
        """scsynth's process id (None before `start`)."""
        return None if self._scsynth is None else self._scsynth.pid

    @property
    def jack_pid(self) -> int | None:
        """The process id of the JACK server started here (None when one was running)."""
        return None if self._jackd is None else self._jackd.pid

    @property
    def output_lines(self) -> list[str]:
        """The last 200 lines scsynth printed."""
        return [] if self._output is None else self._output.snapshot()

    @property
    def late_count(self) -> int:
        """How many of scsynth's lines reported a late bundle (``late 0.0123``)."""
        return 0 if self._output is None else self._output.late_count

    def client(self, *, timeout: float = 2.0) -> ServerClient:
        """A new `ServerClient` for this server (close it when done)."""
        return ServerClient(self.host, self.port, timeout=timeout)


def _stdout(process: Process) -> IO[str]:
    if process.stdout is None:
        raise EngineError(f"no output pipe for process {process.pid}: this is a bug")
    return process.stdout
