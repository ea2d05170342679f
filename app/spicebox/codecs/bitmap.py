"""BITMAP images: uncompressed pixels, optionally with a palette."""

from __future__ import annotations

from collections.abc import Sequence

from ..spice.constants import BitmapFlags
from ..spice.messages import BitmapData
from .pixels import Pixels, to_xrgb


def decode_bitmap(bitmap: BitmapData, palette: Sequence[int] | None) -> Pixels:
    return to_xrgb(bitmap.data, bitmap.format, bitmap.width, bitmap.height, bitmap.stride,
                   bool(bitmap.flags & BitmapFlags.TOP_DOWN), palette)
