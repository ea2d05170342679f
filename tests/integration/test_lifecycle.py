"""Starting and stopping sessions at awkward moments, against real sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from spicebox.config.target import Target, parse_uri
from spicebox.net import transport
from spicebox.net.transport import CannotConnect
from tests.rig.client import ClientThread
from tests.rig.qemu import VGA_DEVICES, QemuServer


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word, like a wedged server."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join(5)
            for conn in held:
                conn.close()


def test_stop_right_after_start_ends_cleanly() -> None:
    with QemuServer(VGA_DEVICES["std"]) as qemu:
        started = time.monotonic()
        with ClientThread(parse_uri(qemu.uri())) as client:
            pass
        assert client.error() is None
        assert time.monotonic() - started < 10


def test_stop_while_the_link_hangs() -> None:
    with silent_server() as port, ClientThread(Target("127.0.0.1", port)) as client:
        time.sleep(0.5)
    assert client.error() is None


def test_a_server_that_never_answers_the_link_is_given_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "LINK_TIMEOUT", 1.0)
    with silent_server() as port, ClientThread(Target("127.0.0.1", port)) as client:
        error = client.wait_done(20)
    assert isinstance(error, CannotConnect) and "never answered the link" in str(error)


def test_server_quitting_mid_session_is_reported() -> None:
    with QemuServer(VGA_DEVICES["std"]) as qemu, ClientThread(parse_uri(qemu.uri())) as client:
        deadline = time.monotonic() + 30
        while client.session.session_id is None and time.monotonic() < deadline:
            time.sleep(0.1)
        qemu.stop()
        error = client.wait_done(20)
    assert isinstance(error, CannotConnect), error
