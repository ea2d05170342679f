"""BITMAP images: uncompressed pixels, optionally with a palette."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..spice.constants import BitmapFlags
from ..spice.messages import BitmapData
from .pixels import Pixels, to_xrgb


def decode_bitmap(bitmap: BitmapData,
                  cached_palette: Callable[[int], Sequence[int]]) -> Pixels:
    palette: Sequence[int] | None = None
    if bitmap.palette is not None:
        palette = bitmap.palette.entries
    elif bitmap.flags & BitmapFlags.PAL_FROM_CACHE:
        palette = cached_palette(bitmap.palette_id)
    return to_xrgb(bitmap.data, bitmap.format, bitmap.width, bitmap.height, bitmap.stride,
                   bool(bitmap.flags & BitmapFlags.TOP_DOWN), palette)
