"""pygame (SDL 2) presenter: X11 windows for development, KMS/DRM outputs on devices.

Monitor 0 is SDL's display-module window, updated box by box; each further monitor gets
a window of its own (on KMS: fullscreen on the next output).

When monitor 0 is a whole surface shown at its own size (one monitor: the usual case), the
window's own memory becomes that surface's pixels, and the canvas draws straight into the
window: presenting a damaged box is then only telling SDL to show it. Otherwise the
canvas's numpy buffers are wrapped as pygame surfaces without copying, and presenting a
damaged box is one blit of that box.

SDL frees a window's memory when the window changes size, in whichever call next asks
for the window's surface. pygame's automatic resizing does that while it reads events
(and SDL reads events while it waits for the clipboard), so it is turned off: the window's
memory then goes only in this presenter's own calls, each of which first gives the surface
memory of its own back.
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import sdl_loader
from ..canvas.monitors import Monitor
from ..canvas.surface import Box, Surface
from ..codecs.cursor import CursorShape
from ..codecs.pixels import Pixels
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
# The canvas's pixel layout, B, G, R, X in memory, as a window surface's colour masks.
_XRGB_MASKS = (0xFF0000, 0xFF00, 0xFF)


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
        # See the module's docstring. pygame-ce (2.5.8) keeps the switch private: without
        # it, nothing is drawn in the window's memory.
        set_autoresize = getattr(pygame.display, "_set_autoresize", None)
        self._draws_in_window = set_autoresize is not None
        if set_autoresize is not None:
            set_autoresize(False)
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
        # The surface whose pixels are the window's memory, if any (weakly: one that the
        # canvas has let go of needs no memory of its own back).
        self._drawn_in_window: weakref.ref[Surface] | None = None
        self._window_size = (0, 0)  # monitor 0's, as its surface was last fetched
        self._unshown = LogOnce(log, logging.WARNING)

    def _attach(self, monitors: Sequence[Monitor]) -> None:
        pg = self._pg
        self._layout = []  # its surfaces may have no other holder left
        self._give_back()  # set_mode may free the window's memory
        for window in self._windows:
            window.destroy()
        self._windows, self._targets, self._sources = [], [], {}
        outputs = len(pg.display.get_desktop_sizes()) if self._fullscreen else len(monitors)
        for index, monitor in enumerate(monitors[:outputs]):
            size = (monitor.width, monitor.height)
            if index == 0:
                # A window may be resized: the guest then follows (through its agent).
                flags = pg.FULLSCREEN if self._fullscreen else pg.RESIZABLE
                target = pg.display.set_mode(size, flags)
                self._targets.append(target)
                self._window_size = pg.display.get_window_size()
                pg.display.set_caption(self._title)
                pg.mouse.set_visible(not self._fullscreen)
                if self._draws_in_window and monitor.area == monitor.surface.bounds:
                    self._draw_in_window(monitor.surface, target)
            else:
                window = pg.Window(f"{self._title} (monitor {index + 1})", size,
                                   (_ON_DISPLAY | index, _ON_DISPLAY | index),
                                   fullscreen_desktop=self._fullscreen)
                self._windows.append(window)
                self._targets.append(window.get_surface())
            if monitor.surface is not self._in_window():
                self._sources.setdefault(id(monitor.surface), self._wrap(monitor.surface))
        if len(monitors) > outputs:
            self._unshown(outputs, "the server shows %d monitors, this device has %d "
                          "outputs; the others are not shown", len(monitors), outputs)
        self._layout = list(monitors)

    def _draw_in_window(self, surface: Surface, target: Any) -> None:
        """Make the window's memory ``surface``'s pixels, where its layout is the
        canvas's (SDL's X11 and KMS window surfaces are)."""
        width, height = target.get_size()
        if (width, height) != (surface.width, surface.height) \
                or target.get_bytesize() != 4 or target.get_pitch() != width * 4 \
                or target.get_masks()[:3] != _XRGB_MASKS:
            return
        # pygame's own views of a surface lock it, and a locked surface takes no blits:
        # SDL's pixel address, which stays valid until the window's memory goes.
        memory = (ctypes.c_uint32 * (width * height)).from_address(target._pixels_address)
        window: Pixels = np.ctypeslib.as_array(memory).reshape(height, width)
        window[:] = surface.pixels
        surface.pixels = window
        self._drawn_in_window = weakref.ref(surface)

    def _in_window(self) -> Surface | None:
        return None if self._drawn_in_window is None else self._drawn_in_window()

    def _give_back(self) -> None:
        """Before the window's memory goes: the surface drawn in it gets its own copy."""
        surface = self._in_window()
        self._drawn_in_window = None
        if surface is not None:
            surface.pixels = surface.pixels.copy()
            self._sources[id(surface)] = self._wrap(surface)

    def _window_changed(self) -> None:
        """SDL said the window changed size. That may be set_mode's own doing, already
        taken care of; otherwise (the user, the window manager, fullscreen) SDL has
        dropped the window's memory, and all of monitor 0 must be shown in the new."""
        pg = self._pg
        if pg.display.get_window_size() == self._window_size:
            # The same size, unless it went and came back: then SDL refuses updates.
            pg.set_error("")
            pg.display.update((0, 0, 1, 1))
            if not pg.get_error():
                return
        self._show_again()

    def _show_again(self) -> None:
        """Monitor 0 whole, in the window's surface as SDL has it now."""
        pg = self._pg
        self._give_back()
        self._targets[0] = target = pg.display.get_surface()  # the old memory goes here
        self._window_size = pg.display.get_window_size()
        monitor, area = self._layout[0], self._layout[0].area
        target.blit(self._sources[id(monitor.surface)], (0, 0),
                    (area.left, area.top, area.width, area.height))
        pg.display.update()

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
        in_window = self._in_window()
        for index, target in enumerate(self._targets):
            monitor, boxes = monitors[index], damage[index]
            if not boxes:
                continue
            if monitor.surface is not in_window:
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
            self._give_back()  # pygame takes the window's new memory itself
            self._pg.display.toggle_fullscreen()
            self._show_again()

    def screen_size(self, width: int, height: int) -> tuple[int, int]:
        return width, height  # shown upright

    def from_screen(self, event: InputEvent) -> InputEvent:
        return event

    def events(self) -> list[InputEvent]:
        pg = self._pg
        found: list[InputEvent] = []
        resized = False
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
            elif kind == pg.WINDOWSIZECHANGED and self._monitor_of(event) == 0:
                resized = True
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
        if resized and self._layout:
            self._window_changed()
        return found

    def _monitor_of(self, event: Any) -> int:
        window = getattr(event, "window", None)
        return self._windows.index(window) + 1 if window in self._windows else 0

    def close(self) -> None:
        self._give_back()
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
