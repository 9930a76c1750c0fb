"""The scsynth client and process control, against real scsynth processes on free ports."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from sc_support import booted_server, require_scsynth

from styletransfer.errors import EngineError, ParameterError
from styletransfer.supercollider import osc
from styletransfer.supercollider.process import BootedServer, find_executable, free_udp_port
from styletransfer.supercollider.server import Failure, ServerClient


@pytest.fixture(scope="module")
def server() -> Iterator[BootedServer]:
    with booted_server() as booted:
        yield booted


@pytest.fixture()
def client(server: BootedServer) -> Iterator[ServerClient]:
    with server.client() as opened:
        yield opened


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# Without a server


def test_nothing_listening_fails_fast() -> None:
    port = free_udp_port()
    start = time.perf_counter()
    with ServerClient(port=port) as client, pytest.raises(EngineError) as caught:
        client.status()
    assert time.perf_counter() - start < 2.5
    assert str(caught.value) == (f"no SuperCollider server answers at 127.0.0.1:{port}: "
                                 "start scsynth there or use --boot")


def test_port_that_never_answers_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        start = time.perf_counter()
        with ServerClient(port=port, timeout=0.3) as client, \
                pytest.raises(EngineError, match=r"no SuperCollider server answers at "
                              rf"127\.0\.0\.1:{port} within 0\.3 s: start scsynth"):
            client.status()
        assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize(("port", "timeout"), [(0, 1.0), (70000, 1.0), (57110, 0.0)])
def test_bad_client_options(port: int, timeout: float) -> None:
    with pytest.raises(ParameterError):
        ServerClient(port=port, timeout=timeout)


def test_missing_program_names_the_package() -> None:
    with pytest.raises(ParameterError, match="not found: install it or pass --server"):
        find_executable("no-such-scsynth")


def test_ids_are_counted_from_their_bases() -> None:
    with ServerClient(port=free_udp_port(), node_base=2000, buffer_base=10) as client:
        assert [client.next_node_id() for _ in range(3)] == [2000, 2001, 2002]
        assert [client.next_bufnum() for _ in range(2)] == [10, 11]
    client.close()


# With a booted server


def test_status_round_trip(server: BootedServer, client: ServerClient) -> None:
    status = client.status()
    assert status.nominal_sr == 48000.0
    assert status.synths == 0
    assert status.groups >= 1
    assert status.actual_sr > 0
    assert server.running


def test_handlers_get_args_and_arrival_time(client: ServerClient) -> None:
    seen: list[tuple[tuple[Any, ...], float]] = []
    client.on("/status.reply", lambda args, at: seen.append((args, at)))
    before = time.perf_counter()
    client.status()
    assert wait_for(lambda: len(seen) == 1)
    args, arrival = seen[0]
    assert args[0] == 1 and len(args) == 9
    assert before <= arrival <= time.perf_counter()


def test_notify_on_twice_and_off(client: ServerClient) -> None:
    client_id = client.notify(True)
    assert isinstance(client_id, int)
    assert client.notify(True) == client_id  # "already registered" is not an error
    assert client.notify(False) is None
    assert client.notify(False) is None  # "not registered" is not an error either


def test_sync_uses_fresh_ids(client: ServerClient) -> None:
    replies: list[tuple[Any, ...]] = []
    client.on("/synced", lambda args, _: replies.append(args))
    client.sync()
    client.sync()
    assert wait_for(lambda: len(replies) == 2)
    assert replies[0] != replies[1]


def test_buffer_alloc_read_query_and_free(client: ServerClient, tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    sf.write(path, np.zeros((100, 2), dtype=np.float32), 44100, subtype="FLOAT")
    bufnum = client.next_bufnum()
    client.alloc_read(bufnum, str(path))
    info = client.request(osc.Message("/b_query", (bufnum,)), "/b_info", match=(bufnum,))
    assert info == (bufnum, 100, 2, 44100.0)
    client.free_buffer(bufnum)
    other = client.next_bufnum()
    client.alloc(other, 1024, 2)
    assert client.request(osc.Message("/b_query", (other,)), "/b_info")[1:3] == (1024, 2)
    client.free_buffer(other)


def test_missing_sound_file_is_an_engine_error(client: ServerClient, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"refused /b_allocRead: File '.*' could not be opened"):
        client.alloc_read(client.next_bufnum(), str(tmp_path / "missing.wav"))


def test_empty_defs_folder_is_an_engine_error(client: ServerClient, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="loaded no SynthDefs from"):
        client.load_defs_dir(str(tmp_path))


def test_fail_messages_are_kept_and_raised(client: ServerClient) -> None:
    client.send(osc.n_free(999998))
    expected = Failure("/n_free", "Node 999998 not found", ())
    assert wait_for(lambda: expected in client.failures)
    start = time.perf_counter()
    with pytest.raises(EngineError, match="refused /s_new: SynthDef not found"):
        client.request(osc.s_new("st_missing", client.next_node_id()), "/n_go")
    assert time.perf_counter() - start < 1.0  # the /fail ends the wait, not the timeout


def test_missing_reply_from_a_live_server(client: ServerClient) -> None:
    client.status()
    with pytest.raises(EngineError, match=r"sent no /never for /status within 0\.2 s"):
        client.request(osc.status(), "/never", timeout=0.2)


def test_idle_server_has_no_late_bundles(server: BootedServer, client: ServerClient) -> None:
    client.sync()
    assert server.late_count == 0
    assert any("server ready" in line for line in server.output_lines)


def test_late_bundles_are_counted() -> None:
    with booted_server() as other, other.client() as client:
        client.send(osc.Bundle(time.time() - 0.5, (osc.status(),)))
        client.send(osc.Bundle(time.time() + 0.05, (osc.status(),)))
        client.sync()
        assert wait_for(lambda: other.late_count == 1)
        time.sleep(0.1)
        assert other.late_count == 1


def test_stop_ends_only_our_processes(server: BootedServer) -> None:
    require_scsynth(realtime=True)
    other = BootedServer().start()
    try:
        assert other.port != server.port
        assert other.jack_name is None or other.jack_name != server.jack_name
        pids = [other.pid, other.jack_pid]
        assert alive(other.pid)
    finally:
        other.stop()
    assert not any(alive(pid) for pid in pids)
    assert not other.running
    shared = Path("/dev/shm")  # scsynth quit cleanly: its shared memory is gone
    assert not (shared / f"SuperColliderServer_{other.port}").exists() or not shared.is_dir()
    other.stop()  # a second stop is harmless
    assert alive(server.pid) and server.running
    with server.client() as client:
        assert client.status().nominal_sr == 48000.0


def test_port_in_use_fails_with_scsynth_output() -> None:
    require_scsynth(realtime=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        booted = BootedServer(port=port, timeout=5.0)
        with pytest.raises(EngineError, match=rf"scsynth exited with code \d+ .* port {port}"):
            booted.start()
    assert not alive(booted.pid) and not alive(booted.jack_pid)


def test_confirm_reads_its_answer_on_each_thread_and_closes_with_the_client(
        server: BootedServer) -> None:
    client = server.client()
    errors: list[BaseException] = []

    def set_and_confirm(bus: int) -> None:
        try:
            for value in range(40):
                client.send(osc.c_setn(100 + bus, [float(value)]))
                client.confirm()
                assert client.get_controls(100 + bus) == [float(value)]
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=set_and_confirm, args=(bus,)) for bus in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    client.confirm()  # and one of this thread's, which is closed with the client too
    own = list(client._own_sockets)
    client.close()
    assert errors == []
    assert len(own) == 3 and all(sock.fileno() == -1 for sock in own)
    with pytest.raises(EngineError, match="is closed"):
        client.confirm()


def test_confirm_without_a_server_names_the_fix() -> None:
    port = free_udp_port()
    with ServerClient(port=port) as client, pytest.raises(EngineError) as caught:
        client.confirm()
    assert str(caught.value).endswith("start scsynth there or use --boot")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        with ServerClient(port=silent.getsockname()[1]) as client, \
                pytest.raises(EngineError, match=r"sent no /c_setn for /c_getn within 0\.2 s"):
            client.confirm(timeout=0.2)
