"""DRAW_TEXT's raster glyphs as one coverage mask (spice-gtk's canvas_get_str_mask).

Glyph rows are stored bottom-up at every depth: spice-gtk reads them so whatever
RASTER_TOP_DOWN says (it has a "todo" for that flag), and honouring the flag here would
turn text upside down relative to every other client. Where glyphs overlap the mask
keeps the larger coverage. A4 coverage is the nibble shifted into the high half, so a
full nibble is 240, not 255: spice-gtk never scales it, and A4 text is never quite opaque.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..spice import messages as m
from .surface import Box

Coverage = npt.NDArray[np.uint8]


def glyph_box(g: m.RasterGlyph) -> Box:
    left, top = g.render_pos.x + g.glyph_origin.x, g.render_pos.y + g.glyph_origin.y
    return Box(left, top, left + g.width, top + g.height)


def string_box(string: m.String) -> Box | None:
    """The bounds spice-gtk gives the string's mask: the union of its glyph boxes."""
    if not string.glyphs:
        return None
    bounds = glyph_box(string.glyphs[0])
    for g in string.glyphs[1:]:
        bounds = bounds.union(glyph_box(g))
    return bounds


def _coverage(g: m.RasterGlyph, bpp: int) -> Coverage:
    """A glyph's coverage, top row first."""
    stride = (g.width * bpp + 7) // 8
    rows = np.frombuffer(g.data, np.uint8, stride * g.height).reshape(g.height, stride)[::-1]
    if bpp == 1:
        bits = np.unpackbits(rows, axis=1)[:, :g.width]  # leftmost pixel in the high bit
        a1: Coverage = bits * np.uint8(255)
        return a1
    if bpp == 4:
        nibbles = np.empty((g.height, stride * 2), np.uint8)
        nibbles[:, 0::2], nibbles[:, 1::2] = rows & 0xF0, rows << 4
        a4: Coverage = nibbles[:, :g.width]
        return a4
    a8: Coverage = rows[:, :g.width]
    return a8


def string_mask(string: m.String, bpp: int, window: Box) -> Coverage:
    """The string's coverage over ``window``, which the caller picks inside the bounds:
    a string's glyphs may be strewn over any area, the mask costs only what is seen."""
    mask = np.zeros((max(window.height, 0), max(window.width, 0)), np.uint8)
    for g in string.glyphs:
        box = glyph_box(g)
        part = box.intersect(window)
        if part.empty:
            continue
        cover = _coverage(g, bpp)[part.top - box.top:part.bottom - box.top,
                                  part.left - box.left:part.right - box.left]
        target = mask[part.top - window.top:part.bottom - window.top,
                      part.left - window.left:part.right - window.left]
        np.maximum(target, cover, out=target)
    return mask
