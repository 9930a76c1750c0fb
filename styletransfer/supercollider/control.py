"""Live control over OSC: a performer's controller (an sclang patch mapping a MIDI
controller, TouchOSC, a script) drives a running ``live`` with UDP messages.

`ControlListener` receives them on its own thread, bound to 127.0.0.1 by default (open it
to other machines deliberately with another host). Every message is checked first
(`parse_control`); what is malformed, out of range or not playable in this run is
ignored and counted by reason, never raised, and the sender is told either way:

======================  =====================================================
``/st/strength f``      0..1: how far the band shapes move towards the style
``/st/mix f``           0 (dry: the content, or the live input) .. 1 (wet)
``/st/freeze i``        1 holds the current state (gains, grains), 0 lets go
``/st/style i``         switch, with a crossfade, to style ``i`` (0: the first
                        ``--style``; one per style given)
``/st/mode s``          ``timbre`` or ``mosaic``, when both were planned
``/st/stop``            end the run (as at the end of the content); a number
                        argument of 0 (a button's release) does nothing
======================  =====================================================

Replies to the sender: ``/st/done ADDRESS VALUE`` once the server has the change (after
`ServerClient.confirm`), or ``/st/ignored ADDRESS REASON``. Bundles are taken apart and their
messages applied on arrival (time tags are not waited for).
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np
from pythonosc.osc_packet import OscPacket, ParseError

from ..errors import ParameterError
from . import osc

_log = logging.getLogger(__name__)

#: The control addresses, by name.
ADDRESSES = {"strength": "/st/strength", "mix": "/st/mix", "freeze": "/st/freeze",
             "style": "/st/style", "mode": "/st/mode", "stop": "/st/stop"}
#: The default control port (close to scsynth's 57110 and sclang's 57120).
DEFAULT_PORT = 57130

Value = float | str
#: Work of a control left for after its reply (``/st/done``) has been sent.
FollowUp = Callable[[], None]
Apply = Callable[[str, Value], FollowUp | None]


class ControlError(ParameterError):
    """A control message that is ignored: ``kind`` says why (for the counts), the message
    how."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def parse_control(address: str, args: tuple[Any, ...]) -> tuple[str, Value]:
    """The control (name, value) a message asks for, or `ControlError`.

    Examples
    --------
    >>> parse_control("/st/strength", (0.30000001192092896,)), parse_control("/st/freeze", (True,))
    (('strength', 0.3), ('freeze', 1.0))
    >>> parse_control("/st/style", (2.0,)), parse_control("/st/stop", ())
    (('style', 2.0), ('stop', 1.0))
    >>> parse_control("/st/mix", (1.5,))
    Traceback (most recent call last):
    ...
    styletransfer.supercollider.control.ControlError: /st/mix 1.5 is out of range: use 0 to 1
    """
    names = {value: key for key, value in ADDRESSES.items()}
    name = names.get(address)
    if name is None:
        raise ControlError("unknown address", f"{address} is not a control: use one of "
                           + ", ".join(ADDRESSES.values()))
    if name == "stop":
        if not args:
            return name, 1.0
        return name, float(_number(address, args) > 0)
    if name == "mode":
        if len(args) != 1 or not isinstance(args[0], str):
            raise ControlError("malformed", f"{address} takes one string: timbre or mosaic")
        return name, args[0]
    value = _number(address, args)
    if name in ("strength", "mix") and not 0.0 <= value <= 1.0:
        raise ControlError("out of range", f"{address} {value:g} is out of range: use 0 to 1")
    if name == "freeze" and value not in (0.0, 1.0):
        raise ControlError("out of range", f"{address} {value:g} is not 0 or 1")
    if name == "style" and (value != int(value) or value < 0):
        raise ControlError("out of range", f"{address} {value:g} is not a style number: "
                           "use 0, 1, ...")
    return name, value


def _number(address: str, args: tuple[Any, ...]) -> float:
    """The one finite number of ``args`` (an int, a float or a bool), as the shortest
    decimal its float32 shows (OSC floats are float32: 0.3 arrives as 0.30000001192...,
    and is taken as the 0.3 it was sent as)."""
    if len(args) != 1 or not isinstance(args[0], int | float):
        raise ControlError("malformed", f"{address} takes one number")
    value = float(args[0])
    if not math.isfinite(value):
        raise ControlError("out of range", f"{address} {value} is not finite")
    return float(str(np.float32(value))) if abs(value) < 1e30 else value


def not_playing(name: str, value: Value) -> None:
    """The ``apply`` of a listener whose stream does not play (yet, or any more)."""
    raise ControlError("not playing", "nothing is playing")


class ControlListener:
    """Receive control messages on UDP ``host:port`` and hand each checked control to
    ``apply(name, value)``, on a thread of its own, until `close`.

    ``apply`` raises `ParameterError` (or `ControlError`) to refuse a control this run
    cannot play; anything else it raises is counted as a failure, never passed on. It may
    return a `FollowUp`: work that the change does not wait for, run once the sender has
    its reply.
    ``/st/stop`` sets `stop_requested` (``apply`` is called first). Without ``apply``
    (until a stream sets one) every control is refused as "not playing".

    Examples
    --------
    >>> seen = []
    >>> with ControlListener(lambda name, value: seen.append((name, value))) as listener:
    ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
    ...         for packet in (osc.Message("/st/mix", (0.5,)).to_osc(), b"not osc",
    ...                        osc.Message("/st/mix", (7.0,)).to_osc()):
    ...             _ = sender.sendto(packet, listener.address)
    ...         _ = listener.wait_for(3)
    >>> seen, listener.applied, dict(listener.ignored)
    ([('mix', 0.5)], 1, {'not OSC': 1, 'out of range': 1})
    """

    def __init__(self, apply: Apply | None = None, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise ParameterError(f"--control-port {port} is not a port: use 1 to 65535 "
                                 "(0: any free port)")
        self.apply: Apply = apply or not_playing
        self.applied = 0
        self.ignored: Counter[str] = Counter()
        self.stop_requested = threading.Event()
        self._received = 0
        self._lock = threading.Condition()
        self._closed = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except (OSError, OverflowError) as error:
            self._sock.close()
            raise ParameterError(f"cannot listen for control on {host}:{port} ({error}): "
                                 "choose another --control-port (0: any free port) or "
                                 "--control-host") from error
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="st-control")
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port listened on."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def __enter__(self) -> ControlListener:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening; safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._sock.close()

    def wait_for(self, count: int, timeout: float = 2.0) -> bool:
        """Wait until ``count`` messages (or datagrams that are not OSC) were handled."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._received < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def summary(self) -> str:
        """``N applied, M ignored (reasons)``, for the end of a run.

        Examples
        --------
        >>> listener = ControlListener(lambda name, value: None)
        >>> listener.ignored.update({"out of range": 2})
        >>> listener.summary()
        'control messages: 0 applied, 2 ignored (2 out of range)'
        >>> listener.close()
        """
        ignored = sum(self.ignored.values())
        reasons = ", ".join(f"{count} {kind}" for kind, count in sorted(self.ignored.items()))
        return (f"control messages: {self.applied} applied, {ignored} ignored"
                + (f" ({reasons})" if reasons else ""))

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                data, sender = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                continue
            try:
                messages = [(m.message.address, tuple(m.message.params))
                            for m in OscPacket(data).messages]
            except (ParseError, Exception):  # anything a datagram can break in the parser
                self._count("not OSC")
                continue
            for address, args in messages:
                self._handle(address, args, sender)

    def _handle(self, address: str, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        try:
            name, value = parse_control(address, args)
            follow_up = self.apply(name, value)
        except ControlError as error:
            self._reply(sender, "/st/ignored", address, str(error))
            self._count(error.kind)
            return
        except ParameterError as error:
            self._reply(sender, "/st/ignored", address, str(error))
            self._count("not playable")
            return
        except Exception as error:  # never let a control stop the run
            self._reply(sender, "/st/ignored", address, f"failed: {error}")
            self._count("failed")
            return
        if name == "stop" and value:
            self.stop_requested.set()
        self._reply(sender, "/st/done", address, value)
        with self._lock:
            self.applied += 1
        try:
            if follow_up is not None:
                follow_up()
        except Exception:  # the change is made; what follows it must not stop the run
            _log.exception("the work after %s failed", address)
        self._count(None)

    def _count(self, kind: str | None) -> None:
        with self._lock:
            if kind is not None:
                self.ignored[kind] += 1
            self._received += 1
            self._lock.notify_all()

    def _reply(self, sender: tuple[str, int], address: str, *args: Value) -> None:
        try:
            self._sock.sendto(osc.Message(address, tuple(args)).to_osc(), sender)
        except (OSError, ParameterError):
            pass  # a sender that does not listen, or a reason that cannot be encoded
