"""OSC encoding for SuperCollider: messages, timed bundles, NRT scores and server commands.

Every command is small, immutable data with a ``to_osc()`` method, so it can be checked
byte for byte without a server. Live bundles carry NTP timetags (seconds since 1900);
bundles in a non-real-time score carry seconds from the start of the score.

Nothing non-finite is ever encoded: a `Message` refuses a NaN or infinite float argument
with a `ParameterError` when it is made, whatever builds it (``/c_setn`` gains, ``/b_setn``
rows of a frame table, ``/n_set`` controls, a score). A value is refused rather than
replaced, because no replacement is right for every control (0 is silence for a gain, but
a crossover at 0 Hz for a frequency); the sources make finite values, and this is the last
guard before a server, where NaN on a bus silences everything downstream until a restart.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from pythonosc.osc_message_builder import BuildError
from pythonosc.parsing import osc_types

from ..errors import ParameterError

Arg = int | float | str | bytes

NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (the NTP epoch) to 1970-01-01 (the Unix epoch)."""

IMMEDIATELY = 1
"""The special timetag that means "run now" (all zeros but the last bit)."""

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BUNDLE_HEADER = b"#bundle\x00"


class AddAction(IntEnum):
    """Where ``/s_new`` and ``/g_new`` put the new node, relative to the target node.

    Examples
    --------
    >>> int(AddAction.TAIL)
    1
    """

    HEAD = 0
    TAIL = 1
    BEFORE = 2
    AFTER = 3
    REPLACE = 4


def _check_float(value: float) -> float:
    """``value`` if it is finite and fits in a float32, else `ParameterError`."""
    if not math.isfinite(value):
        raise ParameterError(f"OSC float {value} is not finite: a server must never get NaN "
                             "or infinity; give a finite number")
    if abs(value) > _FLOAT32_MAX:
        raise ParameterError(f"OSC float {value} does not fit in 32 bits: "
                             f"use a value of at most {_FLOAT32_MAX:.3e} in size")
    return value


def _normalise_arg(value: object) -> Arg:
    """Turn a Python or numpy scalar into one of the four OSC argument types."""
    if type(value) is float:  # most arguments (band gains): checked without the chain below
        if -_FLOAT32_MAX <= value <= _FLOAT32_MAX:  # false for NaN and infinity too
            return value
        return _check_float(value)
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        number = int(value)
        if not _INT32_MIN <= number <= _INT32_MAX:
            raise ParameterError(f"OSC integer {number} does not fit in 32 bits: "
                                 f"use a value from {_INT32_MIN} to {_INT32_MAX}")
        return number
    if isinstance(value, float | np.floating):
        return _check_float(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ParameterError(f"OSC argument {value!r} has type {type(value).__name__}: "
                         "use an int, a float, a str or bytes")


@dataclass(frozen=True)
class Message:
    """One OSC message: an address and its arguments.

    Arguments are stored as plain Python values: bools and numpy integers become ``int``
    (OSC ``i``, int32), numpy floats become ``float`` (OSC ``f``, float32), ``str`` is
    OSC ``s`` and ``bytes`` is OSC ``b`` (blob). A NaN or infinite float is refused
    (`ParameterError`): nothing non-finite reaches a server.

    Examples
    --------
    >>> Message("/n_free", (1000,)).to_osc()
    b'/n_free\\x00,i\\x00\\x00\\x00\\x00\\x03\\xe8'
    >>> Message("/n_set", (np.int64(5), "amp", np.float32(0.5))).args
    (5, 'amp', 0.5)
    >>> Message("/c_setn", (900, 2, 1.0, float("nan")))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: OSC float nan is not finite: ...
    """

    address: str
    args: tuple[Arg, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address.startswith("/"):
            raise ParameterError(f"OSC address {self.address!r} is not valid: "
                                 "use a string that starts with '/'")
        object.__setattr__(self, "args", tuple(_normalise_arg(arg) for arg in self.args))

    def to_osc(self) -> bytes:
        """Encode the message as an OSC packet.

        Examples
        --------
        >>> Message("/status").to_osc()
        b'/status\\x00,\\x00\\x00\\x00'
        """
        tags, data = [","], []
        try:
            for arg in self.args:
                if isinstance(arg, bytes):
                    if not arg:
                        raise ParameterError(f"{self.address}: an empty blob cannot be sent: "
                                             "give at least one byte")
                    tags.append("b")
                    data.append(osc_types.write_blob(arg))
                elif isinstance(arg, str):
                    tags.append("s")
                    data.append(osc_types.write_string(arg))
                elif isinstance(arg, int):
                    tags.append("i")
                    data.append(osc_types.write_int(arg))
                else:
                    tags.append("f")
                    data.append(osc_types.write_float(arg))
            head = osc_types.write_string(self.address) + osc_types.write_string("".join(tags))
        except BuildError as error:
            raise ParameterError(f"{self.address}: cannot encode {self.args!r} ({error}): "
                                 "check the arguments") from error
        return head + b"".join(data)


def timetag(time: float | None, *, nrt: bool = False) -> int:
    """The 64-bit OSC timetag (32.32 fixed point) for a bundle time.

    Live (``nrt=False``): ``time`` is Unix seconds, written as NTP seconds since 1900.
    Non-real-time: ``time`` is seconds from the start of the score, with no epoch offset.
    ``None`` means "immediately" (live only).

    Examples
    --------
    >>> hex(timetag(1.5, nrt=True))
    '0x180000000'
    >>> timetag(0.0) >> 32
    2208988800
    >>> timetag(None)
    1
    """
    if time is None:
        if nrt:
            raise ParameterError("an NRT score bundle has no time: give seconds from 0")
        return IMMEDIATELY
    if not math.isfinite(time) or time < 0:
        raise ParameterError(f"bundle time {time} is not valid: use seconds of at least 0")
    seconds = math.floor(time)
    fraction = round((time - seconds) * 2**32)
    if fraction == 2**32:
        seconds, fraction = seconds + 1, 0
    if not nrt:
        seconds += NTP_EPOCH_OFFSET
    if seconds >= 2**32:
        raise ParameterError(f"bundle time {time} is too late for an OSC timetag: "
                             "use an earlier time")
    return (seconds << 32) | fraction


@dataclass(frozen=True)
class Bundle:
    """Messages to be run together at one time.

    ``time`` is Unix seconds for a live server, seconds from 0 in an NRT score, or
    ``None`` for "immediately".

    Examples
    --------
    >>> bundle = Bundle(0.25, (Message("/n_free", (1000,)),))
    >>> bundle.to_osc(nrt=True)[8:16].hex()
    '0000000040000000'
    >>> len(bundle.to_osc())
    36
    """

    time: float | None
    messages: tuple[Message, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(self.messages))
        for message in self.messages:
            if not isinstance(message, Message):
                raise ParameterError(f"bundle element {message!r} is not a Message: "
                                     "build it with osc.Message or a command function")

    @classmethod
    def now(cls, messages: Iterable[Message]) -> Bundle:
        """A bundle that the server runs as soon as it arrives.

        Examples
        --------
        >>> Bundle.now([Message("/status")]).to_osc()[8:16].hex()
        '0000000000000001'
        """
        return cls(None, tuple(messages))

    def to_osc(self, *, nrt: bool = False) -> bytes:
        """Encode the bundle: ``#bundle``, the timetag, then each message with its size.

        Examples
        --------
        >>> Bundle(2.0, ()).to_osc(nrt=True)
        b'#bundle\\x00\\x00\\x00\\x00\\x02\\x00\\x00\\x00\\x00'
        """
        parts = [_BUNDLE_HEADER, struct.pack(">Q", timetag(self.time, nrt=nrt))]
        for message in self.messages:
            packet = message.to_osc()
            parts += [struct.pack(">i", len(packet)), packet]
        return b"".join(parts)


def encode_score(bundles: Iterable[Bundle]) -> bytes:
    """Encode bundles as a non-real-time score file for ``scsynth -N``.

    Each bundle is written as its int32 big-endian size followed by the bundle with
    a score-relative timetag. Bundles must come in non-decreasing time order.

    Examples
    --------
    >>> score = encode_score([Bundle(0.0, (Message("/status"),)), Bundle(1.0, ())])
    >>> len(score), score[:4].hex()
    (56, '00000020')
    """
    parts: list[bytes] = []
    previous = 0.0
    for index, bundle in enumerate(bundles):
        if bundle.time is None:
            raise ParameterError(f"score bundle {index} has no time: give seconds from 0")
        if bundle.time < previous:
            raise ParameterError(f"score bundle {index} at {bundle.time} s comes after one at "
                                 f"{previous} s: sort the bundles by time")
        packet = bundle.to_osc(nrt=True)
        parts += [struct.pack(">i", len(packet)), packet]
        previous = bundle.time
    return b"".join(parts)


# Server commands (SuperCollider's Server Command Reference), one function per command.


def notify(on: bool = True, client_id: int | None = None) -> Message:
    """``/notify``: ask for (or stop) notifications; replies ``/done /notify id maxLogins``.

    Examples
    --------
    >>> notify().args, notify(False).args, notify(True, 3).args
    ((1,), (0,), (1, 3))
    """
    args: tuple[Arg, ...] = (int(on),) if client_id is None else (int(on), client_id)
    return Message("/notify", args)


def status() -> Message:
    """``/status``: replies ``/status.reply`` with counts, CPU use and sample rates.

    Examples
    --------
    >>> status()
    Message(address='/status', args=())
    """
    return Message("/status")


def sync(sync_id: int) -> Message:
    """``/sync``: replies ``/synced sync_id`` once earlier asynchronous commands are done.

    Examples
    --------
    >>> sync(7).args
    (7,)
    """
    return Message("/sync", (sync_id,))


def d_recv(data: bytes) -> Message:
    """``/d_recv``: load compiled SynthDef file content; replies ``/done /d_recv``.

    Examples
    --------
    >>> d_recv(b"SCgf").to_osc()[-8:]
    b'\\x00\\x00\\x00\\x04SCgf'
    """
    if not data:
        raise ParameterError("SynthDef data is empty: give the content of a .scsyndef file")
    return Message("/d_recv", (bytes(data),))


def d_load_dir(path: str) -> Message:
    """``/d_loadDir``: load every SynthDef file in a folder; replies ``/done /d_loadDir``.

    Examples
    --------
    >>> d_load_dir("/tmp/defs").args
    ('/tmp/defs',)
    """
    return Message("/d_loadDir", (str(path),))


def b_alloc_read(bufnum: int, path: str, start_frame: int = 0, n_frames: int = 0) -> Message:
    """``/b_allocRead``: allocate a buffer and read a sound file into it (``n_frames`` 0 =
    whole file); replies ``/done /b_allocRead bufnum``.

    Examples
    --------
    >>> b_alloc_read(2, "/tmp/a.wav").args
    (2, '/tmp/a.wav', 0, 0)
    """
    return Message("/b_allocRead", (bufnum, str(path), start_frame, n_frames))


def b_alloc(bufnum: int, n_frames: int, n_channels: int = 1) -> Message:
    """``/b_alloc``: allocate a zero-filled buffer; replies ``/done /b_alloc bufnum``.

    Examples
    --------
    >>> b_alloc(0, 65536, 2).args
    (0, 65536, 2)
    """
    return Message("/b_alloc", (bufnum, n_frames, n_channels))


def b_write(bufnum: int, path: str, header: str = "wav", sample: str = "float",
            n_frames: int = -1, start_frame: int = 0, leave_open: bool = False) -> Message:
    """``/b_write``: write a buffer to a sound file (``leave_open`` for DiskOut);
    replies ``/done /b_write bufnum``.

    Examples
    --------
    >>> b_write(1, "/tmp/out.wav", leave_open=True).args
    (1, '/tmp/out.wav', 'wav', 'float', -1, 0, 1)
    """
    return Message("/b_write", (bufnum, str(path), header, sample, n_frames, start_frame,
                                int(leave_open)))


def b_close(bufnum: int) -> Message:
    """``/b_close``: close the sound file left open by ``/b_write``; replies ``/done``.

    Examples
    --------
    >>> b_close(1).args
    (1,)
    """
    return Message("/b_close", (bufnum,))


def b_free(bufnum: int) -> Message:
    """``/b_free``: free a buffer; replies ``/done /b_free bufnum``.

    Examples
    --------
    >>> b_free(1).args
    (1,)
    """
    return Message("/b_free", (bufnum,))


def _pairs(controls: Mapping[str, float]) -> tuple[Arg, ...]:
    args: list[Arg] = []
    for name, value in controls.items():
        args += [str(name), float(value)]
    return tuple(args)


def s_new(name: str, node_id: int, add_action: AddAction | int = AddAction.HEAD,
          target: int = 0, controls: Mapping[str, float] | None = None) -> Message:
    """``/s_new``: start a synth from a SynthDef, with controls as name/value pairs.

    Examples
    --------
    >>> s_new("st_grain", 1000, AddAction.TAIL, 1, {"amp": 0.5}).args
    ('st_grain', 1000, 1, 1, 'amp', 0.5)
    """
    return Message("/s_new", (name, node_id, int(add_action), target,
                              *_pairs(controls or {})))


def n_set(node_id: int, controls: Mapping[str, float]) -> Message:
    """``/n_set``: set scalar controls of a node.

    Examples
    --------
    >>> n_set(1000, {"freq": 220, "amp": 0.1}).args
    (1000, 'freq', 220.0, 'amp', 0.1)
    """
    return Message("/n_set", (node_id, *_pairs(controls)))


def n_setn(node_id: int, name: str, values: Iterable[float]) -> Message:
    """``/n_setn``: set consecutive controls, one per value, starting at ``name``.

    Examples
    --------
    >>> n_setn(1000, "gains", [0.5, 1]).args
    (1000, 'gains', 2, 0.5, 1.0)
    """
    numbers = [float(value) for value in values]
    return Message("/n_setn", (node_id, name, len(numbers), *numbers))


def n_free(*node_ids: int) -> Message:
    """``/n_free``: free nodes at once.

    Examples
    --------
    >>> n_free(1000, 1001).args
    (1000, 1001)
    """
    if not node_ids:
        raise ParameterError("/n_free needs at least one node id")
    return Message("/n_free", node_ids)


def b_setn(bufnum: int, start: int, values: Sequence[float]) -> Message:
    """``/b_setn``: set ``len(values)`` consecutive samples of buffer ``bufnum`` from ``start``.

    Examples
    --------
    >>> b_setn(3, 10, [0.5, 1]).args
    (3, 10, 2, 0.5, 1.0)
    """
    numbers = [float(value) for value in values]
    return Message("/b_setn", (bufnum, start, len(numbers), *numbers))


def c_setn(bus: int, values: Sequence[float]) -> Message:
    """``/c_setn``: set ``len(values)`` consecutive control buses, starting at ``bus``.

    Examples
    --------
    >>> c_setn(4, [0.5, 1]).args
    (4, 2, 0.5, 1.0)
    """
    numbers = [float(value) for value in values]
    return Message("/c_setn", (bus, len(numbers), *numbers))


def c_getn(bus: int, count: int) -> Message:
    """``/c_getn``: ask for ``count`` control bus values from ``bus``; replies ``/c_setn``.

    Examples
    --------
    >>> c_getn(900, 3).args
    (900, 3)
    """
    return Message("/c_getn", (bus, count))


def g_new(group_id: int, add_action: AddAction | int = AddAction.HEAD,
          target: int = 0) -> Message:
    """``/g_new``: create a group.

    Examples
    --------
    >>> g_new(2000, AddAction.TAIL, 1).args
    (2000, 1, 1)
    """
    return Message("/g_new", (group_id, int(add_action), target))


def g_free_all(*group_ids: int) -> Message:
    """``/g_freeAll``: free every node inside the groups (the groups stay).

    Examples
    --------
    >>> g_free_all(1).args
    (1,)
    """
    if not group_ids:
        raise ParameterError("/g_freeAll needs at least one group id")
    return Message("/g_freeAll", group_ids)


def quit() -> Message:
    """``/quit``: stop the server; replies ``/done /quit``.

    Examples
    --------
    >>> quit().to_osc()
    b'/quit\\x00\\x00\\x00,\\x00\\x00\\x00'
    """
    return Message("/quit")
