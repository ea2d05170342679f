"""systemd notifications as a real datagram socket receives them."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from spicebox.notify import keep_alive, notify, ping_interval


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    return listener


def test_not_run_by_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert not notify("READY=1")
    assert ping_interval() is None


def test_ready_then_pings_at_half_the_watchdog_timeout(
        systemd: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert ping_interval() == 0.5

    async def run() -> None:
        task = asyncio.create_task(keep_alive())
        await asyncio.sleep(1.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    asyncio.run(run())
    received = []
    systemd.settimeout(0.1)
    while True:
        try:
            received.append(systemd.recv(64).decode())
        except TimeoutError:
            break
    assert received[0] == "READY=1"
    assert received[1:] == ["WATCHDOG=1"] * 3  # at 0, 0.5 and 1.0 s


def test_a_watchdog_meant_for_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert ping_interval() is None
