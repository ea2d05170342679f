"""Log a recurring condition once: a server that keeps sending something the client skips
must not flood the journal of a box nobody watches."""

from __future__ import annotations

import logging
from collections.abc import Hashable


class LogOnce:
    def __init__(self, logger: logging.Logger, level: int) -> None:
        self._logger = logger
        self._level = level
        self._seen: set[Hashable] = set()

    def __call__(self, key: Hashable, message: str, *args: object) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self._logger.log(self._level, message, *args)
