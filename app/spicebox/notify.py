"""systemd's service notifications (sd_notify), without libsystemd: READY once the screen
is up, WATCHDOG while the event loop turns. A kiosk whose loop hangs stops pinging and
systemd restarts it (WatchdogSec= in the kiosk's unit)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

_MIN_PING_SECONDS = 0.5


def notify(state: str) -> bool:
    """Send ``state`` (e.g. READY=1) to systemd; False when not run by it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # Linux's abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False
    return True


def ping_interval() -> float | None:
    """How often the watchdog wants a ping (half its timeout), or None without one."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec.isdigit() or (pid is not None and pid != str(os.getpid())):
        return None
    return max(_MIN_PING_SECONDS, int(usec) / 2e6)


async def keep_alive() -> None:
    """Ping the watchdog from the running event loop for as long as it runs (a task of
    the session's and of setup's); READY=1 goes first."""
    notify("READY=1")
    interval = ping_interval()
    if interval is None:
        return
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(interval)
