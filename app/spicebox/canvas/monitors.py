"""Monitors: the parts of the display channels' primary surfaces that the user sees.

A server describes monitors in two ways: one primary surface with several heads
(MONITORS_CONFIG, as a Linux QXL guest does), or one display channel per monitor (as
Windows guests do). Either way a monitor is a box on a primary surface, and the session's
monitor list is every channel's heads in channel order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..codecs.pixels import Pixels
from .surface import Box, Surface

MAX_MONITORS = 4


@dataclass(frozen=True)
class Monitor:
    surface: Surface
    area: Box

    @property
    def width(self) -> int:
        return self.area.width

    @property
    def height(self) -> int:
        return self.area.height

    @property
    def pixels(self) -> Pixels:
        a = self.area
        return self.surface.pixels[a.top:a.bottom, a.left:a.right]

    def damage(self, boxes: Iterable[Box]) -> list[Box]:
        """Surface damage that falls on this monitor, in the monitor's coordinates."""
        a = self.area
        out = []
        for b in boxes:
            c = b.intersect(a)
            if not c.empty:
                out.append(Box(c.left - a.left, c.top - a.top, c.right - a.left,
                               c.bottom - a.top))
        return out

