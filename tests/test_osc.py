"""OSC encoding, checked byte for byte against packets written by hand from the OSC 1.0 spec.

Reminders from the spec: strings end with at least one NUL and are padded to 4 bytes; the
type tag string starts with ','; int32 and float32 are big-endian; a blob is an int32 size,
the bytes, then NUL padding to 4 bytes; a bundle is '#bundle\\0', a 64-bit timetag and
elements each preceded by their int32 size.
"""

from __future__ import annotations

import numpy as np
import pytest

from styletransfer.errors import ParameterError
from styletransfer.supercollider import osc
from styletransfer.supercollider.osc import AddAction, Bundle, Message, encode_score

NTP_1970 = b"\x83\xaa\x7e\x80"  # 2208988800: seconds from 1900 to 1970


@pytest.mark.parametrize(("message", "expected"), [
    (Message("/a"), b"/a\x00\x00" b",\x00\x00\x00"),
    (Message("/abc"), b"/abc\x00\x00\x00\x00" b",\x00\x00\x00"),
    (Message("/x", (1,)), b"/x\x00\x00" b",i\x00\x00" b"\x00\x00\x00\x01"),
    (Message("/x", (-2,)), b"/x\x00\x00" b",i\x00\x00" b"\xff\xff\xff\xfe"),
    (Message("/x", (0.5,)), b"/x\x00\x00" b",f\x00\x00" b"\x3f\x00\x00\x00"),
    (Message("/x", (-1.0,)), b"/x\x00\x00" b",f\x00\x00" b"\xbf\x80\x00\x00"),
    (Message("/x", ("hi",)), b"/x\x00\x00" b",s\x00\x00" b"hi\x00\x00"),
    (Message("/x", ("four",)), b"/x\x00\x00" b",s\x00\x00" b"four\x00\x00\x00\x00"),
    (Message("/x", (b"\x01\x02\x03",)),
     b"/x\x00\x00" b",b\x00\x00" b"\x00\x00\x00\x03\x01\x02\x03\x00"),
    (Message("/x", (b"abcd",)), b"/x\x00\x00" b",b\x00\x00" b"\x00\x00\x00\x04abcd"),
    (Message("/x", (True, False)),
     b"/x\x00\x00" b",ii\x00" b"\x00\x00\x00\x01" b"\x00\x00\x00\x00"),
    (Message("/mix", (7, "a", 0.25, b"z")),
     b"/mix\x00\x00\x00\x00" b",isfb\x00\x00\x00" b"\x00\x00\x00\x07" b"a\x00\x00\x00"
     b"\x3e\x80\x00\x00" b"\x00\x00\x00\x01z\x00\x00\x00"),
])
def test_message_bytes(message: Message, expected: bytes) -> None:
    assert message.to_osc() == expected


@pytest.mark.parametrize(("value", "expected"), [
    (np.int16(3), 3),
    (np.int64(-7), -7),
    (np.uint8(200), 200),
    (np.float32(0.5), 0.5),
    (np.float64(0.25), 0.25),
    (np.bool_(True), 1),
    (True, 1),
    (bytearray(b"ab"), b"ab"),
])
def test_numpy_and_bool_become_plain_python(value: object, expected: object) -> None:
    message = Message("/x", (value,))  # type: ignore[arg-type]
    assert message.args == (expected,)
    assert type(message.args[0]) is type(expected)


def test_numpy_float_encodes_as_float32() -> None:
    assert Message("/x", (np.float64(0.25),)).to_osc()[-4:] == b"\x3e\x80\x00\x00"


@pytest.mark.parametrize(("address", "args", "match"), [
    ("/x", (2**31,), "does not fit in 32 bits"),
    ("/x", (-(2**31) - 1,), "does not fit in 32 bits"),
    ("/x", (1e39,), "does not fit in 32 bits"),
    ("/x", (None,), "use an int, a float, a str or bytes"),
    ("/x", ([1, 2],), "use an int, a float, a str or bytes"),
    ("x", (), "starts with '/'"),
    ("", (), "starts with '/'"),
])
def test_bad_messages_raise_parameter_error(address: str, args: tuple, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        Message(address, args)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float32("nan"),
                                 np.float64("-inf")])
@pytest.mark.parametrize("make", [
    lambda v: Message("/x", (v,)),
    lambda v: osc.c_setn(900, [1.0, v]),
    lambda v: osc.b_setn(3, 0, [0.0, 1.0, v]),
    lambda v: osc.n_set(1000, {"mix": v}),
    lambda v: osc.n_setn(1000, "edges", [100.0, v]),
    lambda v: osc.s_new("st_play", 1000, AddAction.HEAD, 0, {"amp": v}),
])
def test_non_finite_floats_never_reach_a_server(make: object, bad: float) -> None:
    """Every command that carries floats refuses NaN and infinity when it is made, so no
    path (gains, frame table rows, controls, scores) can send one."""
    with pytest.raises(ParameterError, match="is not finite"):
        make(bad)  # type: ignore[operator]


def test_empty_blob_is_refused() -> None:
    with pytest.raises(ParameterError, match="empty blob"):
        Message("/x", (b"",)).to_osc()
    with pytest.raises(ParameterError, match="SynthDef data is empty"):
        osc.d_recv(b"")


def test_int32_limits_encode() -> None:
    assert Message("/x", (2**31 - 1, -(2**31))).to_osc()[-8:] == b"\x7f\xff\xff\xff\x80\x00\x00\x00"


# Timetags


@pytest.mark.parametrize(("time", "nrt", "expected"), [
    (0.0, True, b"\x00\x00\x00\x00\x00\x00\x00\x00"),
    (1.5, True, b"\x00\x00\x00\x01\x80\x00\x00\x00"),
    (0.25, True, b"\x00\x00\x00\x00\x40\x00\x00\x00"),
    (0.1, True, b"\x00\x00\x00\x00\x19\x99\x99\x9a"),
    (3600.75, True, b"\x00\x00\x0e\x10\xc0\x00\x00\x00"),
    (0.0, False, NTP_1970 + b"\x00\x00\x00\x00"),
    (1.5, False, b"\x83\xaa\x7e\x81\x80\x00\x00\x00"),
    (1_700_000_000.25, False, (1_700_000_000 + 2_208_988_800).to_bytes(4, "big")
     + b"\x40\x00\x00\x00"),
    (None, False, b"\x00\x00\x00\x00\x00\x00\x00\x01"),
])
def test_bundle_timetags(time: float | None, nrt: bool, expected: bytes) -> None:
    assert Bundle(time, ()).to_osc(nrt=nrt) == b"#bundle\x00" + expected


def test_fraction_that_rounds_up_carries_into_seconds() -> None:
    assert osc.timetag(1 - 2**-40, nrt=True) == 1 << 32


@pytest.mark.parametrize(("time", "nrt", "match"), [
    (-0.5, True, "at least 0"),
    (float("nan"), True, "at least 0"),
    (float("inf"), False, "at least 0"),
    (2.0**32, True, "too late"),
    (None, True, "has no time"),
])
def test_bad_times_raise(time: float | None, nrt: bool, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        Bundle(time, ()).to_osc(nrt=nrt)


def test_bundle_bytes_with_two_messages() -> None:
    bundle = Bundle(2.0, (Message("/a"), Message("/n_free", (1000,))))
    expected = (b"#bundle\x00" b"\x00\x00\x00\x02\x00\x00\x00\x00"
                b"\x00\x00\x00\x08" b"/a\x00\x00,\x00\x00\x00"
                b"\x00\x00\x00\x10" b"/n_free\x00,i\x00\x00\x00\x00\x03\xe8")
    assert bundle.to_osc(nrt=True) == expected
    live = bundle.to_osc()
    assert live[8:16] == b"\x83\xaa\x7e\x82\x00\x00\x00\x00"
    assert live[16:] == expected[16:]


def test_bundle_now_and_message_checks() -> None:
    assert Bundle.now([Message("/a")]) == Bundle(None, (Message("/a"),))
    with pytest.raises(ParameterError, match="is not a Message"):
        Bundle(0.0, ("/a",))  # type: ignore[arg-type]


# Scores


def test_score_framing() -> None:
    first = Bundle(0.0, (Message("/a"),))
    last = Bundle(0.5, ())
    first_bytes = b"#bundle\x00" + bytes(8) + b"\x00\x00\x00\x08/a\x00\x00,\x00\x00\x00"
    last_bytes = b"#bundle\x00" + b"\x00\x00\x00\x00\x80\x00\x00\x00"
    assert encode_score([first, last]) == (b"\x00\x00\x00\x1c" + first_bytes
                                           + b"\x00\x00\x00\x10" + last_bytes)


def test_score_accepts_equal_times_and_generators() -> None:
    bundles = (Bundle(1.0, (Message("/a"),)) for _ in range(3))
    assert len(encode_score(bundles)) == 3 * (4 + 28)
    assert encode_score([]) == b""


@pytest.mark.parametrize("times", [(1.0, 0.5), (0.0, 2.0, 1.999)])
def test_score_refuses_unsorted_bundles(times: tuple[float, ...]) -> None:
    with pytest.raises(ParameterError, match="sort the bundles by time"):
        encode_score([Bundle(t, ()) for t in times])


def test_score_refuses_immediate_bundle() -> None:
    with pytest.raises(ParameterError, match="has no time"):
        encode_score([Bundle.now([])])


# Server commands


@pytest.mark.parametrize(("message", "address", "args"), [
    (osc.notify(), "/notify", (1,)),
    (osc.notify(False), "/notify", (0,)),
    (osc.notify(True, 4), "/notify", (1, 4)),
    (osc.status(), "/status", ()),
    (osc.sync(12), "/sync", (12,)),
    (osc.d_recv(b"SCgf"), "/d_recv", (b"SCgf",)),
    (osc.d_load_dir("/defs"), "/d_loadDir", ("/defs",)),
    (osc.b_alloc_read(3, "/a.wav"), "/b_allocRead", (3, "/a.wav", 0, 0)),
    (osc.b_alloc_read(3, "/a.wav", 10, 100), "/b_allocRead", (3, "/a.wav", 10, 100)),
    (osc.b_alloc(2, 1024), "/b_alloc", (2, 1024, 1)),
    (osc.b_alloc(2, 1024, 2), "/b_alloc", (2, 1024, 2)),
    (osc.b_write(1, "/o.wav"), "/b_write", (1, "/o.wav", "wav", "float", -1, 0, 0)),
    (osc.b_write(1, "/o.aif", "aiff", "int24", 0, 0, True), "/b_write",
     (1, "/o.aif", "aiff", "int24", 0, 0, 1)),
    (osc.b_close(1), "/b_close", (1,)),
    (osc.b_free(1), "/b_free", (1,)),
    (osc.s_new("st_a", 1000), "/s_new", ("st_a", 1000, 0, 0)),
    (osc.s_new("st_a", 1000, AddAction.AFTER, 999, {"amp": 0.5, "out": 2}), "/s_new",
     ("st_a", 1000, 3, 999, "amp", 0.5, "out", 2.0)),
    (osc.n_set(1000, {"amp": 0.25}), "/n_set", (1000, "amp", 0.25)),
    (osc.n_setn(1000, "gains", np.array([0.5, 1.0, 2.0])), "/n_setn",
     (1000, "gains", 3, 0.5, 1.0, 2.0)),
    (osc.n_free(1000), "/n_free", (1000,)),
    (osc.n_free(1000, 1001), "/n_free", (1000, 1001)),
    (osc.g_new(2000), "/g_new", (2000, 0, 0)),
    (osc.g_free_all(1), "/g_freeAll", (1,)),
    (osc.quit(), "/quit", ()),
])
def test_command_arguments(message: Message, address: str, args: tuple) -> None:
    assert message == Message(address, args)


def test_s_new_bytes() -> None:
    expected = (b"/s_new\x00\x00" b",siiisf\x00" b"st_a\x00\x00\x00\x00"
                b"\x00\x00\x03\xe8" b"\x00\x00\x00\x01" b"\x00\x00\x00\x01"
                b"amp\x00" b"\x3f\x00\x00\x00")
    assert osc.s_new("st_a", 1000, AddAction.TAIL, 1, {"amp": 0.5}).to_osc() == expected


def test_n_setn_bytes() -> None:
    expected = (b"/n_setn\x00" b",isiff\x00\x00" b"\x00\x00\x03\xe8" b"g\x00\x00\x00"
                b"\x00\x00\x00\x02" b"\x3f\x80\x00\x00" b"\x40\x00\x00\x00")
    assert osc.n_setn(1000, "g", [1, 2]).to_osc() == expected


def test_b_write_bytes() -> None:
    expected = (b"/b_write\x00\x00\x00\x00" b",isssiii\x00\x00\x00\x00"
                b"\x00\x00\x00\x05" b"/o.wav\x00\x00" b"wav\x00" b"float\x00\x00\x00"
                b"\xff\xff\xff\xff" b"\x00\x00\x00\x00" b"\x00\x00\x00\x01")
    assert osc.b_write(5, "/o.wav", leave_open=True).to_osc() == expected


@pytest.mark.parametrize("make", [osc.n_free, osc.g_free_all])
def test_free_commands_need_ids(make: object) -> None:
    with pytest.raises(ParameterError, match="at least one"):
        make()  # type: ignore[operator]


def test_add_action_values() -> None:
    assert [int(action) for action in AddAction] == [0, 1, 2, 3, 4]
