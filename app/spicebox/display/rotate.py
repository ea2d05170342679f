"""Rotation: a screen mounted turned (a touch screen upside down in its case, a monitor
on its side) shows the picture turned back.

``Rotated`` wraps any presenter. The session and setup keep drawing the upright picture;
damaged boxes are turned into a shadow copy of the screen (numpy views, so only what
changed is copied), and pointer and touch positions are turned back into the picture's
coordinates. Angles are clockwise: how far the picture must turn to look upright.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..canvas.monitors import Monitor
from ..canvas.surface import Box, Surface
from ..codecs.cursor import CursorShape
from ..input.events import InputEvent, OutputResized, PointerMotion
from .base import Presenter

ROTATIONS = (0, 90, 180, 270)


class Rotation:
    """Picture (upright, what is drawn) <-> screen (as mounted) coordinates."""

    def __init__(self, degrees: int) -> None:
        if degrees not in ROTATIONS:
            raise ValueError(f"rotation {degrees}: one of {ROTATIONS} is expected")
        self.quarter = degrees // 90

    def turned(self, width: int, height: int) -> tuple[int, int]:
        """A size on the other side: picture <-> screen."""
        return (height, width) if self.quarter % 2 else (width, height)

    def box_to_screen(self, box: Box, width: int, height: int) -> Box:
        """``box`` of a ``width`` x ``height`` picture, on the screen."""
        q, (left, top, right, bottom) = self.quarter, box
        if q == 1:
            return Box(height - bottom, left, height - top, right)
        if q == 2:
            return Box(width - right, height - bottom, width - left, height - top)
        if q == 3:
            return Box(top, width - right, bottom, width - left)
        return box

    def point_to_picture(self, x: int, y: int, width: int, height: int) -> tuple[int, int]:
        """A screen pixel as a pixel of the ``width`` x ``height`` picture."""
        q = self.quarter
        if q == 1:
            return y, height - 1 - x
        if q == 2:
            return width - 1 - x, height - 1 - y
        if q == 3:
            return width - 1 - y, x
        return x, y

    def point_to_screen(self, x: int, y: int, width: int, height: int) -> tuple[int, int]:
        q = self.quarter
        if q == 1:
            return height - 1 - y, x
        if q == 2:
            return width - 1 - x, height - 1 - y
        if q == 3:
            return y, width - 1 - x
        return x, y

    def delta_to_picture(self, dx: int, dy: int) -> tuple[int, int]:
        q = self.quarter
        return ((dy, -dx), (-dx, -dy), (-dy, dx))[q - 1] if q else (dx, dy)

    def pixels_to_screen(self, pixels: np.ndarray) -> np.ndarray:
        rotated: np.ndarray = np.rot90(pixels, -self.quarter)
        return rotated


class Rotated:
    """A presenter whose screen shows the picture turned by ``rotation``."""

    def __init__(self, inner: Presenter, rotation: Rotation) -> None:
        self.inner, self.rotation = inner, rotation
        self.name = inner.name
        self.event_fds = inner.event_fds
        self.polled = inner.polled
        self.captures_pointer = inner.captures_pointer
        self.clipboard = inner.clipboard
        self._layout: list[Monitor] = []
        self._screens: list[Surface] = []

    def present(self, monitors: Sequence[Monitor], damage: Sequence[Sequence[Box]]) -> None:
        rotation = self.rotation
        if list(monitors) != self._layout:
            self._layout = list(monitors)
            self._screens = [Surface(i, *rotation.turned(m.width, m.height), 32, True)
                             for i, m in enumerate(monitors)]
            damage = [[Box(0, 0, m.width, m.height)] for m in monitors]
        turned: list[list[Box]] = []
        for monitor, screen, boxes in zip(monitors, self._screens, damage, strict=True):
            out = []
            for b in boxes:
                s = rotation.box_to_screen(b, monitor.width, monitor.height)
                screen.pixels[s.top:s.bottom, s.left:s.right] = rotation.pixels_to_screen(
                    monitor.pixels[b.top:b.bottom, b.left:b.right])
                out.append(s)
            turned.append(out)
        self.inner.present([Monitor(s, s.bounds) for s in self._screens], turned)

    def _picture_size(self, monitor: int = 0) -> tuple[int, int] | None:
        if monitor >= len(self._layout):
            return None  # nothing shown there (yet)
        return self._layout[monitor].width, self._layout[monitor].height

    def set_cursor(self, shape: CursorShape | None, visible: bool) -> None:
        if shape is not None:
            hot = self.rotation.point_to_screen(shape.hot_x, shape.hot_y, shape.width,
                                                shape.height)
            pixels = np.ascontiguousarray(self.rotation.pixels_to_screen(shape.pixels))
            shape = CursorShape(pixels, *hot)
        self.inner.set_cursor(shape, visible)

    def output_sizes(self) -> list[tuple[int, int]] | None:
        sizes = self.inner.output_sizes()
        return None if sizes is None else [self.rotation.turned(w, h) for w, h in sizes]

    def screen_size(self, width: int, height: int) -> tuple[int, int]:
        return self.rotation.turned(width, height)

    def move_pointer(self, x: int, y: int) -> None:
        size = self._picture_size()
        if size is not None:
            self.inner.move_pointer(*self.rotation.point_to_screen(x, y, *size))

    def capture_pointer(self, captured: bool) -> None:
        self.inner.capture_pointer(captured)

    def toggle_fullscreen(self) -> None:
        self.inner.toggle_fullscreen()

    def from_screen(self, event: InputEvent) -> InputEvent:
        if isinstance(event, PointerMotion):
            size = self._picture_size(event.monitor)
            dx, dy = self.rotation.delta_to_picture(event.dx, event.dy)
            x, y = (event.x, event.y) if size is None else self.rotation.point_to_picture(
                event.x, event.y, *size)
            return replace(event, x=x, y=y, dx=dx, dy=dy)
        if isinstance(event, OutputResized):
            return OutputResized(*self.rotation.turned(event.width, event.height))
        return event

    def events(self) -> list[InputEvent]:
        return [self.from_screen(event) for event in self.inner.events()]

    def close(self) -> None:
        self.inner.close()
