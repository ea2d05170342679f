"""The small interface every presenter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..canvas.monitors import Monitor
from ..canvas.surface import Box


class Presenter(Protocol):
    name: str
    # Whether window-system events can only be found by asking every so often (an SDL
    # driver that offers no descriptor to watch); the session then polls quit_requested.
    polled: bool

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        """Show every monitor; ``damage[i]`` are the changed boxes of monitor i in its own
        coordinates (disjoint, possibly none). Called at most once per refresh, always
        with the whole current layout, which may differ from the last one."""

    def event_fd(self) -> int | None:
        """A descriptor that turns readable when the window system has events for us, or
        None (no window yet, or nothing to watch)."""

    def quit_requested(self) -> bool:
        """Whether the user closed the window (dev backends); reads pending window-system
        events as a side effect."""

    def close(self) -> None: ...
