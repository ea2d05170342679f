"""The last warnings and errors, kept in memory for the diagnostics page: on a box without
a keyboard, the journal is out of reach of the person who calls support."""

from __future__ import annotations

import collections
import logging
import time

KEPT = 20


class RecentProblems(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._records: collections.deque[tuple[float, str]] = collections.deque(maxlen=KEPT)

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append((record.created, record.getMessage()))

    def lines(self) -> list[str]:
        """Newest first, each with its local time."""
        return [f"{time.strftime('%H:%M:%S', time.localtime(at))}  {text}"
                for at, text in reversed(self._records)]


RECENT = RecentProblems()
