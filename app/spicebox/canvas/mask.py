"""QMask: a 1-bit image that limits a draw to its set bits (spice-gtk canvas_mask_pixman)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..codecs.pixels import Pixels, to_xrgb
from ..spice import messages as m
from ..spice.constants import BitmapFlags, BitmapFormat
from ..spice.errors import ProtocolError
from .surface import Box

Bits = npt.NDArray[np.bool_]
_ONE_BIT = (BitmapFormat.BIT1_LE, BitmapFormat.BIT1_BE)


def mask_bits(bitmap: m.BitmapData) -> Pixels:
    """A mask bitmap as 0/1 pixels, the form the pixmap cache keeps masks in."""
    if bitmap.format not in _ONE_BIT:
        raise ProtocolError(f"mask bitmap in format {bitmap.format}, not 1 bit per pixel")
    # The bits themselves are the mask; whatever palette rides along does not matter.
    return to_xrgb(bitmap.data, bitmap.format, bitmap.width, bitmap.height, bitmap.stride,
                   bool(bitmap.flags & BitmapFlags.TOP_DOWN), (0, 1))


class Mask:
    """Maps destination pixels to mask bits: dest (x, y) reads mask bit
    (x - box.left + pos.x, y - box.top + pos.y); outside the mask image nothing is drawn."""

    def __init__(self, qmask: m.QMask, bits: Pixels, box: Box) -> None:
        set_bits = bits != 0
        self.bits: Bits = ~set_bits if qmask.flags & 1 else set_bits  # SPICE_MASK_FLAGS_INVERS
        self.dx = qmask.pos.x - box.left
        self.dy = qmask.pos.y - box.top

    def window(self, b: Box) -> Bits:
        """The mask over destination box ``b``."""
        out = np.zeros((b.height, b.width), np.bool_)
        height, width = self.bits.shape
        src = Box(b.left + self.dx, b.top + self.dy, b.right + self.dx, b.bottom + self.dy)
        inside = src.intersect(Box(0, 0, width, height))
        if not inside.empty:
            out[inside.top - src.top:inside.bottom - src.top,
                inside.left - src.left:inside.right - src.left] = \
                self.bits[inside.top:inside.bottom, inside.left:inside.right]
        return out
