"""A presenter with no screen: the session's screenshots are the only output."""

from __future__ import annotations

from collections.abc import Sequence

from ..canvas.monitors import Monitor
from ..canvas.surface import Box
from ..codecs.cursor import CursorShape
from ..input.events import InputEvent


class HeadlessPresenter:
    name = "headless"
    event_fds: tuple[int, ...] = ()
    polled = False
    captures_pointer = False
    clipboard = None

    def __init__(self) -> None:
        self.frames = 0
        self.cursor: CursorShape | None = None  # what a screen would show
        self.pointer = (0, 0)
        self.pointer_captured = False

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        self.frames += 1

    def set_cursor(self, shape: CursorShape | None, visible: bool) -> None:
        self.cursor = shape if visible else None

    def output_sizes(self) -> list[tuple[int, int]] | None:
        return None

    def move_pointer(self, x: int, y: int) -> None:
        self.pointer = (x, y)

    def capture_pointer(self, captured: bool) -> None:
        self.pointer_captured = captured  # what a window would do

    def toggle_fullscreen(self) -> None:
        pass  # no window

    def screen_size(self, width: int, height: int) -> tuple[int, int]:
        return width, height  # shown upright

    def from_screen(self, event: InputEvent) -> InputEvent:
        return event

    def events(self) -> list[InputEvent]:
        return []

    def close(self) -> None:
        pass
