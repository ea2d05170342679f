"""The server's multimedia clock: milliseconds in a wrapping u32, which video frames and
audio packets are stamped with. MAIN's INIT and MULTI_MEDIA_TIME set it; between them it
runs on the local monotonic clock (as in spice-gtk's spice_session_get_mm_time)."""

from __future__ import annotations

import time
from collections.abc import Callable


class MediaClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._offset_ms: float | None = None

    def set(self, mm_time: int) -> None:
        self._offset_ms = self._monotonic() * 1000 - mm_time

    def now(self) -> int | None:
        """The server's current multimedia time, or None before the server gave it."""
        if self._offset_ms is None:
            return None
        return int(self._monotonic() * 1000 - self._offset_ms) & 0xFFFFFFFF


def mm_diff(a: int, b: int) -> int:
    """a - b for wrapping u32 times, as a signed 32-bit number of milliseconds."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d
