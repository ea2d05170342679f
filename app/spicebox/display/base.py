"""The small interface every presenter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..canvas.monitors import Monitor
from ..canvas.surface import Box


class Presenter(Protocol):
    name: str
    # Descriptors that turn readable when the window system has events for us, and
    # whether events can only be found by asking every so often instead (an SDL driver
    # that offers nothing to watch); either way, quit_requested reads them.
    event_fds: tuple[int, ...]
    polled: bool

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        """Show every monitor; ``damage[i]`` are the changed boxes of monitor i in its own
        coordinates (disjoint, possibly none). Called at most once per refresh, always
        with the whole current layout, which may differ from the last one."""

    def quit_requested(self) -> bool:
        """Whether the user closed the window (dev backends); reads pending window-system
        events as a side effect."""

    def close(self) -> None: ...
