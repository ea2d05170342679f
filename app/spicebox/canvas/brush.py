"""Brushes: a solid colour, or a pattern image tiled over the surface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..codecs.pixels import Pixels
from .surface import Box


@dataclass(frozen=True)
class Tile:
    """A pattern repeated across the surface with its pixel (0, 0) at (x, y): spice-gtk
    tiles FILL, OPAQUE, ROP3 and STROKE brushes from the pattern's ``pos`` in surface
    coordinates (TEXT measures from its glyphs instead, see ``canvas._text``)."""

    pixels: Pixels
    x: int
    y: int

    def over(self, box: Box) -> Pixels:
        """The tile's pixels covering ``box``."""
        h, w = self.pixels.shape
        rows = (np.arange(box.top, box.bottom) - self.y) % h
        cols = (np.arange(box.left, box.right) - self.x) % w
        window: Pixels = self.pixels[rows[:, None], cols]
        return window

    def at(self, xs: npt.NDArray[np.int64], ys: npt.NDArray[np.int64]) -> Pixels:
        """The tile's pixels at surface points."""
        h, w = self.pixels.shape
        values: Pixels = self.pixels[(ys - self.y) % h, (xs - self.x) % w]
        return values


Paint = np.uint32 | Tile  # what a brush puts down: one colour, or a tile


def paint_over(paint: Paint, box: Box) -> Pixels | np.uint32:
    return paint.over(box) if isinstance(paint, Tile) else paint
