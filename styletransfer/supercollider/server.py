"""A client for a running SuperCollider server (scsynth) over UDP.

`ServerClient` sends OSC commands from `styletransfer.supercollider.osc`, waits for replies,
and hands other incoming messages to handlers. A background thread receives every
datagram; ``/fail`` messages are kept in `ServerClient.failures` and turn a pending
`request` for the same command into an `EngineError`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError

from ..errors import EngineError, ParameterError
from . import osc

Handler = Callable[[tuple[Any, ...], float], None]
"""A callback for incoming messages: ``(args, arrival time from time.perf_counter())``."""

_log = logging.getLogger(__name__)
_POLL_SECONDS = 0.05
#: Control buses `ServerClient.confirm` reads, from bus 0, in turn.
CONFIRM_BUSES = 64


@dataclass(frozen=True)
class ServerStatus:
    """The server's answer to ``/status``.

    Examples
    --------
    >>> ServerStatus(0, 0, 1, 0, 1.5, 2.0, 48000.0, 48000.1).groups
    1
    """

    ugens: int
    synths: int
    groups: int
    synthdefs: int
    avg_cpu: float
    peak_cpu: float
    nominal_sr: float
    actual_sr: float


@dataclass(frozen=True)
class Failure:
    """A ``/fail`` message: the command that failed, the server's reason, extra values.

    Examples
    --------
    >>> Failure("/n_free", "Node 9999 not found", ())
    Failure(command='/n_free', reason='Node 9999 not found', args=())
    """

    command: str
    reason: str
    args: tuple[Any, ...]


class _Waiter:
    """One pending request: what reply it waits for and what arrived."""

    def __init__(self, command: str, address: str, match: tuple[Any, ...]) -> None:
        self.command = command
        self.address = address
        self.match = match
        self.event = threading.Event()
        self.reply: tuple[str, tuple[Any, ...]] | None = None
        self.refused = False


class ServerClient:
    """Talk to a running scsynth over UDP.

    Parameters
    ----------
    host, port
        Where the server listens.
    timeout
        Seconds to wait for each reply.
    node_base, buffer_base
        First ids handed out by `next_node_id` and `next_bufnum`.

    Examples
    --------
    >>> with ServerClient(port=57110, timeout=0.5) as client:  # doctest: +SKIP
    ...     print(client.status().nominal_sr)
    48000.0
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 57110, *, timeout: float = 2.0,
                 node_base: int = 1000, buffer_base: int = 0) -> None:
        if not 0 < port < 65536:
            raise ParameterError(f"server port {port} is not valid: use a port from 1 to 65535")
        if not timeout > 0:
            raise ParameterError(f"timeout {timeout} is not valid: use seconds above 0")
        self.host = host
        self.port = port
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []
        self._handlers: dict[str, list[Handler]] = {}
        self._failures: deque[Failure] = deque(maxlen=1000)
        self._answered = False
        self._closed = threading.Event()
        self._next_node = node_base
        self._next_buffer = buffer_base
        self._next_sync = 1
        self._next_confirm = 0
        self._own = threading.local()
        self._own_sockets: list[socket.socket] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.connect((host, port))
        except OSError as error:
            self._sock.close()
            raise ParameterError(f"server address {host}:{port} is not usable ({error}): "
                                 "check the host name") from error
        self._sock.settimeout(_POLL_SECONDS)
        self._thread = threading.Thread(target=self._receive_loop, daemon=True,
                                        name=f"scsynth-client-{host}:{port}")
        self._thread.start()

    # Life cycle

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the receiver thread and close the socket; safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._sock.close()
        with self._lock:
            for sock in self._own_sockets:
                sock.close()

    @property
    def address(self) -> str:
        """``host:port`` of the server."""
        return f"{self.host}:{self.port}"

    # Ids

    def next_node_id(self) -> int:
        """A node id this client has not handed out before (from ``node_base`` up)."""
        with self._lock:
            node_id, self._next_node = self._next_node, self._next_node + 1
        return node_id

    def next_bufnum(self) -> int:
        """A buffer number this client has not handed out before (from ``buffer_base`` up)."""
        with self._lock:
            bufnum, self._next_buffer = self._next_buffer, self._next_buffer + 1
        return bufnum

    # Receiving

    def on(self, address: str, callback: Handler) -> None:
        """Call ``callback(args, arrival_time)`` for every incoming message at ``address``."""
        with self._lock:
            self._handlers.setdefault(address, []).append(callback)

    def off(self, address: str, callback: Handler) -> None:
        """Stop calling a callback registered with `on`."""
        with self._lock:
            callbacks = self._handlers.get(address, [])
            if callback in callbacks:
                callbacks.remove(callback)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """The ``/fail`` messages received so far (the last 1000), oldest first."""
        with self._lock:
            return tuple(self._failures)

    def _receive_loop(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                self._wake_refused()
                continue
            except OSError:
                if self._closed.is_set():
                    return
                self._wake_refused()
                continue
            arrival = time.perf_counter()
            try:
                packet = OscPacket(data)
            except ParseError:
                _log.warning("ignored a datagram that is not OSC from %s", self.address)
                continue
            self._answered = True
            for timed in packet.messages:
                self._dispatch(timed.message.address, tuple(timed.message.params), arrival)

    def _wake_refused(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.refused = True
            waiter.event.set()

    def _dispatch(self, address: str, args: tuple[Any, ...], arrival: float) -> None:
        failed = ""
        with self._lock:
            if address == "/fail" and args:
                failed = str(args[0])
                reason = str(args[1]).strip() if len(args) > 1 else ""
                self._failures.append(Failure(failed, reason, args[2:]))
            waiters = list(self._waiters)
            handlers = list(self._handlers.get(address, ()))
        for waiter in waiters:
            if waiter.event.is_set():
                continue
            if (failed and failed == waiter.command) or (
                    address == waiter.address and args[:len(waiter.match)] == waiter.match):
                waiter.reply = (address, args)
                waiter.event.set()
        for handler in handlers:
            try:
                handler(args, arrival)
            except Exception:
                _log.exception("a handler for %s failed", address)

    # Sending

    def send(self, item: osc.Message | osc.Bundle) -> None:
        """Send one message or bundle (bundle times are Unix seconds)."""
        if self._closed.is_set():
            raise EngineError(f"the client for {self.address} is closed: open a new one")
        try:
            self._sock.send(item.to_osc())
        except ConnectionRefusedError as error:
            raise EngineError(self._not_running()) from error
        except OSError as error:
            raise EngineError(f"cannot send to {self.address} ({error}): "
                              "check the address and the message size") from error

    def _not_running(self, timeout: float | None = None) -> str:
        within = "" if timeout is None else f" within {timeout:g} s"
        return (f"no SuperCollider server answers at {self.address}{within}: "
                "start scsynth there or use --boot")

    def _exchange(self, message: osc.Message, reply_address: str, match: tuple[Any, ...],
                  timeout: float | None) -> tuple[str, tuple[Any, ...]]:
        """Send and wait for the reply or a ``/fail`` for the same command."""
        seconds = self.timeout if timeout is None else timeout
        waiter = _Waiter(message.address, reply_address, match)
        with self._lock:
            self._waiters.append(waiter)
        try:
            self.send(message)
            waiter.event.wait(seconds)
        finally:
            with self._lock:
                self._waiters.remove(waiter)
        if waiter.reply is not None:
            return waiter.reply
        if waiter.refused:
            raise EngineError(self._not_running())
        if not self._answered:
            raise EngineError(self._not_running(seconds))
        raise EngineError(f"scsynth at {self.address} sent no {reply_address} for "
                          f"{message.address} within {seconds:g} s: check that it still runs")

    def request(self, message: osc.Message, reply_address: str, *,
                match: tuple[Any, ...] | None = None,
                timeout: float | None = None) -> tuple[Any, ...]:
        """Send ``message`` and return the arguments of the reply.

        The reply is the first message at ``reply_address`` whose first arguments equal
        ``match``. Raises `EngineError` when the server reports ``/fail`` for the command,
        when nothing listens, or when no reply comes within ``timeout`` seconds.
        """
        address, args = self._exchange(message, reply_address, match or (), timeout)
        if address == "/fail" and reply_address != "/fail":
            reason = str(args[1]).strip() if len(args) > 1 else ""
            reason = " ".join(reason.split()) or "no reason given"
            raise EngineError(f"scsynth at {self.address} refused {message.address}: {reason}")
        return args

    # Commands

    def status(self, *, timeout: float | None = None) -> ServerStatus:
        """Ask for the server's status (also a connection check)."""
        args = self.request(osc.status(), "/status.reply", timeout=timeout)
        return ServerStatus(int(args[1]), int(args[2]), int(args[3]), int(args[4]),
                            float(args[5]), float(args[6]), float(args[7]), float(args[8]))

    def notify(self, on: bool = True) -> int | None:
        """Ask for (or stop) node notifications; returns the client id the server gave
        (None when turning them off)."""
        address, args = self._exchange(osc.notify(on), "/done", ("/notify",), None)
        if address == "/fail":
            # Asking twice is harmless: "already registered" (with the id) or "not registered".
            reason = str(args[1]).strip() if len(args) > 1 else "no reason given"
            if "registered" not in reason:
                raise EngineError(f"scsynth at {self.address} refused /notify: {reason}")
            return int(args[2]) if on and len(args) > 2 else None
        return int(args[1]) if len(args) > 1 else None

    def sync(self, *, timeout: float | None = None) -> None:
        """Wait until the server has finished every asynchronous command sent before."""
        with self._lock:
            sync_id, self._next_sync = self._next_sync, self._next_sync + 1
        self.request(osc.sync(sync_id), "/synced", match=(sync_id,), timeout=timeout)

    def confirm(self, *, timeout: float | None = None) -> None:
        """Wait until the server has carried out every command sent before that its audio
        thread runs (setting buses, buffer samples, node controls; not buffer reads or
        SynthDef loads, which need `sync`).

        It asks for a control bus (`CONFIRM_BUSES` of them in turn, so that each reply
        answers one call), which the audio thread answers itself after the commands before
        it: about half the round trip of ``/sync``, which goes through the server's
        non-real-time thread. The question goes from a socket of the calling thread's own,
        which reads the answer itself: no other thread has to wake for it.
        """
        seconds = self.timeout if timeout is None else timeout
        with self._lock:
            bus, self._next_confirm = self._next_confirm, (self._next_confirm + 1) % CONFIRM_BUSES
        sock = self._own_socket()
        deadline = time.monotonic() + seconds
        try:
            sock.send(osc.c_getn(bus, 1).to_osc())
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break
                try:
                    messages = OscPacket(data).messages
                except ParseError:
                    continue
                if any(timed.message.address == "/c_setn" and timed.message.params[:1] == [bus]
                       for timed in messages):
                    return
        except ConnectionRefusedError as error:
            raise EngineError(self._not_running()) from error
        raise EngineError(f"scsynth at {self.address} sent no /c_setn for /c_getn within "
                          f"{seconds:g} s: check that it still runs")

    def _own_socket(self) -> socket.socket:
        """A socket of the calling thread's own, connected to the server (made once)."""
        if self._closed.is_set():
            raise EngineError(f"the client for {self.address} is closed: open a new one")
        sock: socket.socket | None = getattr(self._own, "sock", None)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect((self.host, self.port))
            with self._lock:
                self._own_sockets.append(sock)
            self._own.sock = sock
        return sock

    def get_controls(self, bus: int, count: int = 1) -> list[float]:
        """The values of ``count`` control buses from ``bus`` (``/c_getn``)."""
        args = self.request(osc.c_getn(bus, count), "/c_setn", match=(bus,))
        return [float(value) for value in args[2: 2 + count]]

    def load_defs_dir(self, path: str) -> None:
        """Load every compiled SynthDef in a folder on the server's machine."""
        try:
            self.request(osc.d_load_dir(path), "/done", match=("/d_loadDir",))
        except EngineError as error:
            if "refused" not in str(error):
                raise
            raise EngineError(f"scsynth at {self.address} loaded no SynthDefs from {path}: "
                              "the folder is missing or holds no .scsyndef files") from error

    def send_def(self, data: bytes) -> None:
        """Load compiled SynthDef file content (``/d_recv``) and wait until it is loaded."""
        self.request(osc.d_recv(data), "/done", match=("/d_recv",))

    def alloc_read(self, bufnum: int, path: str, start_frame: int = 0,
                   n_frames: int = 0) -> None:
        """Read a sound file (on the server's machine) into a new buffer."""
        self.request(osc.b_alloc_read(bufnum, path, start_frame, n_frames), "/done",
                     match=("/b_allocRead", bufnum))

    def alloc(self, bufnum: int, n_frames: int, n_channels: int = 1) -> None:
        """Allocate a zero-filled buffer and wait until it exists."""
        self.request(osc.b_alloc(bufnum, n_frames, n_channels), "/done",
                     match=("/b_alloc", bufnum))

    def free_buffer(self, bufnum: int) -> None:
        """Free a buffer and wait until it is gone."""
        self.request(osc.b_free(bufnum), "/done", match=("/b_free", bufnum))
