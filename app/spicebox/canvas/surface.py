"""A drawing surface: a (height, width) uint32 XRGB numpy array, and damage boxes on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..codecs.pixels import Pixels
from ..spice.messages import Rect


class Box(NamedTuple):
    """Half-open pixel rectangle: columns [left, right), rows [top, bottom)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def empty(self) -> bool:
        return self.right <= self.left or self.bottom <= self.top

    def intersect(self, other: Box) -> Box:
        return Box(max(self.left, other.left), max(self.top, other.top),
                   min(self.right, other.right), min(self.bottom, other.bottom))

    @classmethod
    def of(cls, rect: Rect) -> Box:
        """The box of a wire rectangle (which orders its fields top, left, bottom, right)."""
        return cls(rect.left, rect.top, rect.right, rect.bottom)

    def contains(self, x: int, y: int) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def union(self, other: Box) -> Box:
        return Box(min(self.left, other.left), min(self.top, other.top),
                   max(self.right, other.right), max(self.bottom, other.bottom))


@dataclass(eq=False)
class Surface:
    id: int
    width: int
    height: int
    format: int
    primary: bool
    pixels: Pixels = field(init=False)

    def __post_init__(self) -> None:
        self.pixels = np.zeros((self.height, self.width), np.uint32)

    @property
    def bounds(self) -> Box:
        return Box(0, 0, self.width, self.height)
