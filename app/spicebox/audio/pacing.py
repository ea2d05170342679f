"""Keeps a device loop at real time when the device itself does not block: ALSA's null and
file plugins (tests, headless boxes) and WAV files take or give frames instantly."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    def __init__(self, rate: int, slack_frames: int = 0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.slack = rate, slack_frames
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self._frames = 0

    def passed(self, frames: int) -> None:
        """``frames`` went to (or came from) the device; wait while more than the slack
        went by ahead of real time. A device that blocks is never ahead, so never waits;
        one that stalled (an underrun) is behind, and catches up without a burst."""
        self._frames += frames
        now = self._clock()
        ahead = (self._frames - self.slack) / self.rate - (now - self._started)
        if ahead > 0:
            self._sleep(ahead)
        elif ahead < -1.0:
            # Far behind (the device stopped for a while): start counting afresh.
            self._started, self._frames = now, 0
