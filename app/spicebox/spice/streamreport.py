"""Stream reports: how the client's video playback keeps up, so the server can adapt.

With the STREAM_REPORT capability the server activates reports per stream (window of
frames, timeout); the client counts frames and drops (a frame stamped earlier than the
current multimedia time arrived too late to be on time) and reports when the window is
full, the timeout has passed, or several frames in a row were late, as spice-gtk does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import messages as m
from .mmclock import mm_diff

DROP_RUN_LIMIT = 3  # late frames in a row that are worth telling the server at once
NO_AUDIO = 0xFFFFFFFF  # audio_delay when no audio plays


@dataclass
class StreamReporter:
    stream_id: int
    unique_id: int
    max_window: int
    timeout_ms: int
    monotonic: Callable[[], float] = time.monotonic
    frames: int = 0
    drops: int = 0
    drop_run: int = 0
    start_frame_time: int = 0
    started: float = 0.0

    def frame(self, frame_time: int, mm_now: int) -> m.StreamReport | None:
        """Account one frame stamped ``frame_time`` arriving at ``mm_now``; the report to
        send, if one is due."""
        margin = mm_diff(frame_time, mm_now)
        now = self.monotonic()
        if self.frames == 0:
            self.start_frame_time, self.started = frame_time, now
        self.frames += 1
        if margin < 0:
            self.drops += 1
            self.drop_run += 1
        else:
            self.drop_run = 0
        if (self.frames < self.max_window and (now - self.started) * 1000 < self.timeout_ms
                and self.drop_run < DROP_RUN_LIMIT):
            return None
        report = m.StreamReport(self.stream_id, self.unique_id, self.start_frame_time,
                                frame_time, self.frames, self.drops, margin, NO_AUDIO)
        self.frames = self.drops = self.drop_run = 0
        return report
