"""Cursor shapes of every SPICE cursor type, as ARGB pixels with straight alpha.

ALPHA is ARGB already. MONO is a Windows AND/XOR pair. The COLOR types are a Windows
colour image followed by an AND mask (COLOR4/COLOR8 with their palette in between). A
masked pixel is transparent, unless its colour is white: that means "invert the screen",
which no overlay can do, so it becomes spice-gtk's grey checkerboard, visible on any
background. Mask rows are padded to whole bytes; colour rows are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..spice.constants import CursorType
from ..spice.errors import ProtocolError
from .pixels import Pixels

MAX_CURSOR_SIDE = 512  # Windows and X cursors are at most 256; leave room, refuse absurd

_OPAQUE = np.uint32(0xFF000000)
# spice-gtk's stand-in for inverting pixels: alternating translucent greys.
_INVERT_EVEN, _INVERT_ODD = np.uint32(0x30505050), np.uint32(0xC0303030)


@dataclass(frozen=True, eq=False)
class CursorShape:
    pixels: Pixels  # ARGB, straight alpha
    hot_x: int
    hot_y: int

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def decode_cursor(kind: int, width: int, height: int, data: memoryview) -> Pixels:
    if not (0 < width <= MAX_CURSOR_SIDE and 0 < height <= MAX_CURSOR_SIDE):
        raise ProtocolError(f"cursor of {width}x{height} is out of range")
    buf = np.frombuffer(data, np.uint8)
    mask_stride = (width + 7) // 8
    if kind == CursorType.ALPHA:
        return _take(buf, 0, width * height * 4).view("<u4").reshape(height, width).copy()
    if kind == CursorType.MONO:
        and_mask = _bits(buf, 0, mask_stride, width, height)
        xor_mask = _bits(buf, mask_stride * height, mask_stride, width, height)
        color = np.where(xor_mask, np.uint32(0xFFFFFF), np.uint32(0))
        return _apply_mask(color, and_mask)
    if kind in (CursorType.COLOR4, CursorType.COLOR8):
        bits = 4 if kind == CursorType.COLOR4 else 8
        stride = (width * bits + 7) // 8
        indices = _take(buf, 0, stride * height).reshape(height, stride)
        if bits == 4:
            indices = np.stack((indices >> 4, indices & 0x0F), axis=-1).reshape(height, -1)
        palette_at = stride * height
        palette = _take(buf, palette_at, 4 << bits).view("<u4") & np.uint32(0xFFFFFF)
        color = palette[indices[:, :width]]
        mask_at = palette_at + (4 << bits)
    elif kind == CursorType.COLOR16:
        pix = _take(buf, 0, width * height * 2).view("<u2").reshape(height, width)
        pix32 = pix.astype(np.uint32)
        color = ((pix32 & 0x1F) << 3) | ((pix32 & 0x3E0) << 6) | ((pix32 & 0x7C00) << 9)
        mask_at = width * height * 2
    elif kind == CursorType.COLOR24:
        bgr = _take(buf, 0, width * height * 3).reshape(height, width, 3).astype(np.uint32)
        color = bgr[..., 0] | bgr[..., 1] << 8 | bgr[..., 2] << 16
        mask_at = width * height * 3
    elif kind == CursorType.COLOR32:
        color = _take(buf, 0, width * height * 4).view("<u4").reshape(height, width)
        color = color & np.uint32(0xFFFFFF)
        mask_at = width * height * 4
    else:
        raise ProtocolError(f"unknown cursor type {kind}")
    return _apply_mask(color, _bits(buf, mask_at, mask_stride, width, height))


def _take(buf: npt.NDArray[np.uint8], offset: int, size: int) -> npt.NDArray[np.uint8]:
    if offset + size > len(buf):
        raise ProtocolError(f"cursor data truncated: {len(buf)} bytes, the shape needs "
                            f"{offset + size}")
    return buf[offset:offset + size]


def _bits(buf: npt.NDArray[np.uint8], offset: int, stride: int, width: int,
          height: int) -> npt.NDArray[np.bool_]:
    rows = _take(buf, offset, stride * height).reshape(height, stride)
    return np.unpackbits(rows, axis=1)[:, :width].astype(bool)


def _apply_mask(color: npt.NDArray[Any], masked: npt.NDArray[np.bool_]) -> Pixels:
    color = color.astype(np.uint32, copy=False)
    height, width = color.shape
    ys, xs = np.indices((height, width))
    invert = np.where((xs ^ ys) & 1, _INVERT_ODD, _INVERT_EVEN)
    out = np.where(masked, np.uint32(0), color | _OPAQUE)
    out = np.where(masked & (color == 0xFFFFFF), invert, out)
    result: Pixels = out.astype(np.uint32)
    return result
