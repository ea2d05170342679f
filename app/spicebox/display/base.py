"""The small interface every presenter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..canvas.monitors import Monitor
from ..canvas.surface import Box
from ..codecs.cursor import CursorShape
from ..input.events import InputEvent
from ..spice.agent import ClipboardType


class WindowClipboard(Protocol):
    """The clipboard other local applications share (a window system's)."""

    async def put(self, kind: ClipboardType, data: bytes) -> None:
        """Hold what the guest copied, for other applications to paste."""

    async def get(self) -> tuple[ClipboardType, bytes] | None:
        """What another application copied, in a form the guest takes; None for nothing
        new (including what the guest copied itself)."""


class Presenter(Protocol):
    name: str
    # Descriptors that turn readable when the window system has events for us, and
    # whether events can only be found by asking every so often instead (an SDL driver
    # that offers nothing to watch); either way, events() reads them.
    event_fds: tuple[int, ...]
    polled: bool
    # Whether its pointer is the window system's, to be captured for server mouse mode
    # (a window), or read from evdev beside it (devices, tests).
    captures_pointer: bool

    @property
    def clipboard(self) -> WindowClipboard | None:
        """None where no other application could copy or paste: the session's own record
        of the guest's last copy is the only clipboard then."""

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        """Show every monitor; ``damage[i]`` are the changed boxes of monitor i in its own
        coordinates (disjoint, possibly none). Called at most once per refresh, always
        with the whole current layout, which may differ from the last one.

        A presenter may give a monitor's surface other memory for its pixels (the
        window's own, with the same picture): whoever draws takes ``surface.pixels``
        afresh each time, and keeps no array of it between steps of the event loop."""

    def set_cursor(self, shape: CursorShape | None, visible: bool) -> None:
        """Show the guest's pointer shape at the local pointer (None or not visible:
        no pointer)."""

    def output_sizes(self) -> list[tuple[int, int]] | None:
        """The sizes of the screens this presenter fills, left to right, for the guest
        to take (dynamic resolution); None where the guest's size is shown as it is (a
        window, or no screen)."""

    def move_pointer(self, x: int, y: int) -> None:
        """The guest pointer's hot spot is now at (x, y) of monitor 0 (where the local
        pointer is, or where the server says in server mouse mode). Window systems with
        a pointer of their own show it there already."""

    def capture_pointer(self, captured: bool) -> None:
        """Server mouse mode in a window: keep the local pointer inside it, hidden, and
        report relative motion (True), or give it back (False). Devices read relative
        motion from evdev already: nothing to do there."""

    def toggle_fullscreen(self) -> None:
        """Switch the development window between windowed and fullscreen (devices are
        always fullscreen: nothing to do there)."""

    def screen_size(self, width: int, height: int) -> tuple[int, int]:
        """A picture's size as the screen holds it (turned, for a rotated screen): the
        space pointers and touch screens read beside the presenter (evdev) move in."""

    def from_screen(self, event: InputEvent) -> InputEvent:
        """An event read beside the presenter (evdev), in the picture's coordinates."""

    def events(self) -> list[InputEvent]:
        """What the window system reported since the last call (keys, pointer, focus,
        close); empty for presenters without one."""

    def close(self) -> None: ...
