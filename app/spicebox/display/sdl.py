"""pygame (SDL 2) presenter: X11 windows for development, KMS/DRM outputs on devices.

Monitor 0 is SDL's display-module window, updated box by box; each further monitor gets
a window of its own (on KMS: fullscreen on the next output). The canvas's numpy buffers
are wrapped as pygame surfaces without copying, so presenting a damaged box is one blit
of that box.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from .. import sdl_loader
from ..canvas.monitors import Monitor
from ..canvas.surface import Box, Surface
from ..codecs.cursor import CursorShape
from ..input.events import (
    Button,
    FocusLost,
    InputEvent,
    Key,
    LocalClipboardChanged,
    Locks,
    OutputResized,
    PointerMotion,
    QuitRequested,
)
from ..input.scancodes import linux_from_sdl
from ..logonce import LogOnce
from ..spice.constants import KeyModifiers, MouseButton
from .x11clipboard import X11Clipboard

log = logging.getLogger(__name__)

# SDL video driver for each backend name; SDL 2 has no fbdev driver (see fbdev.py).
SDL_DRIVERS = {"x11": "x11", "kmsdrm": "kmsdrm"}
# pygame's button numbers: SDL's, with the wheel as 4 and 5 and X1/X2 moved up to 6/7.
_BUTTONS = {1: MouseButton.LEFT, 2: MouseButton.MIDDLE, 3: MouseButton.RIGHT,
            4: MouseButton.UP, 5: MouseButton.DOWN, 6: MouseButton.SIDE,
            7: MouseButton.EXTRA}
# SDL_WINDOWPOS_UNDEFINED_DISPLAY(n): let SDL place the window, on display n.
_ON_DISPLAY = 0x1FFF0000


class DisplayUnavailable(Exception):
    """The requested video backend cannot open a display here."""


class SdlPresenter:
    def __init__(self, backend: str, title: str) -> None:
        os.environ["SDL_VIDEODRIVER"] = SDL_DRIVERS[backend]
        if backend == "x11":
            # SDL otherwise backs an X11 window surface with an OpenGL texture, which under
            # a software GL (Xvfb, VMs, remote X) costs ~9 ms of CPU per update however
            # small; the plain X11 framebuffer (MIT-SHM) costs ~0.02 ms. KMS has no plain
            # framebuffer in SDL, so there the texture (on the GPU) stays.
            os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        self._pg = pygame = sdl_loader.pygame()
        try:
            pygame.display.init()
        except pygame.error as exc:
            raise DisplayUnavailable(f"cannot open the {backend} display: {exc}") from None
        self.name = backend
        # On X11, SDL's connections to the X server (the only ones this process makes)
        # say when events arrive. SDL's other drivers (KMS reads evdev and udev itself)
        # give nothing to watch, nor does an X server over TCP; those are polled.
        self.event_fds = _x11_sockets() if backend == "x11" else ()
        self.polled = not self.event_fds
        self.captures_pointer = backend == "x11"  # KMS mice are read from evdev
        self.clipboard = X11Clipboard(pygame.scrap) if backend == "x11" else None
        self._title = title
        self._fullscreen = backend == "kmsdrm"
        self._layout: list[Monitor] = []
        # pygame objects (pygame ships no type information): per monitor, the surface to
        # draw on and how to show it; per canvas surface, its zero-copy wrapper.
        self._targets: list[Any] = []
        self._windows: list[Any] = []
        self._sources: dict[int, Any] = {}
        self._unshown = LogOnce(log, logging.WARNING)

    def _attach(self, monitors: Sequence[Monitor]) -> None:
        pg = self._pg
        for window in self._windows:
            window.destroy()
        self._windows, self._targets, self._sources = [], [], {}
        outputs = len(pg.display.get_desktop_sizes()) if self._fullscreen else len(monitors)
        for index, monitor in enumerate(monitors[:outputs]):
            size = (monitor.width, monitor.height)
            if index == 0:
                # A window may be resized: the guest then follows (through its agent).
                flags = pg.FULLSCREEN if self._fullscreen else pg.RESIZABLE
                self._targets.append(pg.display.set_mode(size, flags))
                pg.display.set_caption(self._title)
                pg.mouse.set_visible(not self._fullscreen)
            else:
                window = pg.Window(f"{self._title} (monitor {index + 1})", size,
                                   (_ON_DISPLAY | index, _ON_DISPLAY | index),
                                   fullscreen_desktop=self._fullscreen)
                self._windows.append(window)
                self._targets.append(window.get_surface())
            self._sources.setdefault(id(monitor.surface), self._wrap(monitor.surface))
        if len(monitors) > outputs:
            self._unshown(outputs, "the server shows %d monitors, this device has %d "
                          "outputs; the others are not shown", len(monitors), outputs)
        self._layout = list(monitors)

    def _wrap(self, surface: Surface) -> Any:
        # Byte order B, G, R, X in memory is SDL's BGRA; blending off makes X irrelevant.
        source = self._pg.image.frombuffer(surface.pixels, (surface.width, surface.height),
                                           "BGRA")
        source.set_alpha(None)
        return source

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        if list(monitors) != self._layout:
            self._attach(monitors)
            damage = [[Box(0, 0, m.width, m.height)] for m in monitors]
        for index, target in enumerate(self._targets):
            monitor, boxes = monitors[index], damage[index]
            if not boxes:
                continue
            source, area = self._sources[id(monitor.surface)], monitor.area
            for b in boxes:
                target.blit(source, (b.left, b.top),
                            (b.left + area.left, b.top + area.top, b.width, b.height))
            if index == 0:
                self._pg.display.update([(b.left, b.top, b.width, b.height) for b in boxes])
            else:
                self._windows[index - 1].flip()

    def set_cursor(self, shape: CursorShape | None, visible: bool) -> None:
        pg = self._pg
        if shape is None or not visible:
            pg.mouse.set_visible(False)
            return
        image = pg.image.frombuffer(shape.pixels, (shape.width, shape.height), "BGRA")
        pg.mouse.set_cursor(pg.cursors.Cursor((shape.hot_x, shape.hot_y), image))
        pg.mouse.set_visible(True)

    def output_sizes(self) -> list[tuple[int, int]] | None:
        if not self._fullscreen:
            return None  # a window shows the guest at its own size
        return [(int(w), int(h)) for w, h in self._pg.display.get_desktop_sizes()]

    def move_pointer(self, x: int, y: int) -> None:
        # On KMS the input is read from evdev, not by SDL: move SDL's (hardware) pointer
        # to where ours is. An X window's pointer is the user's own already.
        if self.name == "kmsdrm" and self._targets:
            self._pg.mouse.set_pos((x, y))

    def capture_pointer(self, captured: bool) -> None:
        # SDL's relative mode: the pointer is hidden and held in the window, motion comes
        # as deltas (X input 2 raw events), as spice-gtk grabs in server mouse mode. On
        # KMS the evdev source reads mice itself.
        if self.name == "x11" and self._targets:
            self._pg.mouse.set_relative_mode(captured)

    def toggle_fullscreen(self) -> None:
        if self.name == "x11" and self._targets:
            self._pg.display.toggle_fullscreen()

    def screen_size(self, width: int, height: int) -> tuple[int, int]:
        return width, height  # shown upright

    def from_screen(self, event: InputEvent) -> InputEvent:
        return event

    def events(self) -> list[InputEvent]:
        pg = self._pg
        found: list[InputEvent] = []
        for event in pg.event.get():
            kind = event.type
            if kind in (pg.QUIT, pg.WINDOWCLOSE):
                found.append(QuitRequested())
            elif kind in (pg.KEYDOWN, pg.KEYUP):
                code = linux_from_sdl(event.scancode)
                if code is not None:
                    found.append(Key(code, kind == pg.KEYDOWN))
            elif kind == pg.MOUSEMOTION:
                x, y = event.pos
                dx, dy = event.rel
                found.append(PointerMotion(self._monitor_of(event), x, y, dx, dy))
            elif kind in (pg.MOUSEBUTTONDOWN, pg.MOUSEBUTTONUP):
                button = _BUTTONS.get(event.button)
                if button is not None:
                    found.append(Button(button, kind == pg.MOUSEBUTTONDOWN))
            elif kind == pg.VIDEORESIZE and self._layout:
                monitor = self._layout[0]
                if (event.w, event.h) != (monitor.width, monitor.height):
                    found.append(OutputResized(event.w, event.h))
            elif kind == pg.CLIPBOARDUPDATE and self.clipboard is not None:
                found.append(LocalClipboardChanged())
            elif kind == pg.WINDOWFOCUSLOST:
                found.append(FocusLost())
            elif kind == pg.WINDOWFOCUSGAINED:
                mods = pg.key.get_mods()
                found.append(Locks(KeyModifiers(
                    (KeyModifiers.CAPS_LOCK if mods & pg.KMOD_CAPS else 0)
                    | (KeyModifiers.NUM_LOCK if mods & pg.KMOD_NUM else 0))))
        return found

    def _monitor_of(self, event: Any) -> int:
        window = getattr(event, "window", None)
        return self._windows.index(window) + 1 if window in self._windows else 0

    def close(self) -> None:
        for window in self._windows:
            window.destroy()
        self._pg.display.quit()


def _x11_sockets() -> tuple[int, ...]:
    """This process's descriptors connected to a local X server's socket.

    Found from the outside because pygame's get_wm_info, the one way to reach SDL's
    Display*, crashes now and then (pygame-ce 2.5.8 stores a NULL capsule in its dict).
    """
    found = []
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        try:
            copy = os.dup(fd)
        except OSError:  # closed since (listdir's own)
            continue
        try:
            # The socket object owns the copy once made; until then it is ours to close.
            sock = socket.socket(fileno=copy)
        except OSError:  # not a socket
            os.close(copy)
            continue
        with sock:
            try:
                peer = sock.getpeername() if sock.family == socket.AF_UNIX else ""
            except OSError:  # not connected
                continue
        name = peer.decode(errors="replace") if isinstance(peer, bytes) else str(peer)
        if "/.X11-unix/X" in name:
            found.append(fd)
    return tuple(found)
