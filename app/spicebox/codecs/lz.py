"""SPICE LZ images (LZ_RGB, LZ_PLT): spice-common's LZ77 variant, per lz.c.

The stream is a header (big-endian u32s: magic, version, type, width, height, stride,
top_down) then tokens over *units*: a palette byte, an RGB16 pixel (2 bytes, high first),
or an RGB24/32 pixel (3 bytes: b, g, r). RGBA images add a second pass of alpha bytes;
XXXA streams (JPEG_ALPHA's alpha plane) are that pass alone.
A token is a literal run or a back-reference; the decoder works token by token with byte
slices (never per pixel), and numpy turns the units into XRGB at the end.

This is the slow path: the client asks for LZ4 or raw bitmaps. spice-server still sends
LZ for indexed images whatever the client prefers, and older servers may ignore the wish.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from ..spice.constants import BitmapFormat
from ..spice.errors import ProtocolError
from .pixels import Pixels, from_rgb555, to_xrgb

_HEADER = struct.Struct(">7I")
LZ_MAGIC = 0x20205A4C
LZ_VERSION = 0x00010001
_MAX_COPY = 32
_MAX_DISTANCE = 8191

# LzImageType (lz_common.h)
PLT1_LE, PLT1_BE, PLT4_LE, PLT4_BE, PLT8, RGB16, RGB24, RGB32, RGBA, XXXA = range(1, 11)
_PLT_FORMATS = {PLT1_LE: BitmapFormat.BIT1_LE, PLT1_BE: BitmapFormat.BIT1_BE,
                PLT4_LE: BitmapFormat.BIT4_LE, PLT4_BE: BitmapFormat.BIT4_BE,
                PLT8: BitmapFormat.BIT8}
_PLT_PIXELS_PER_BYTE = {PLT1_LE: 8, PLT1_BE: 8, PLT4_LE: 2, PLT4_BE: 2, PLT8: 1}


def stream_kind(data: memoryview) -> tuple[int, bool] | None:
    """The LzImageType and top-down flag a stream's header announces, or None when it is
    too short to have one (decoding says what else is wrong)."""
    if len(data) < _HEADER.size:
        return None
    *_, kind, _width, _height, _stride, top_down = _HEADER.unpack_from(data)
    return kind, bool(top_down)


def decode_lz(data: memoryview, width: int, height: int,
              palette: Sequence[int] | None = None) -> Pixels:
    """Decode an LZ_RGB image, or an LZ_PLT one with its ``palette``."""
    if len(data) < _HEADER.size:
        raise ProtocolError("LZ image shorter than its header")
    magic, version, kind, lz_width, lz_height, stride, top_down = _HEADER.unpack_from(data)
    if magic != LZ_MAGIC or version != LZ_VERSION:
        raise ProtocolError(f"LZ image with magic {magic:#x} version {version:#x}")
    if (lz_width, lz_height) != (width, height):
        raise ProtocolError(f"LZ image of {lz_width}x{lz_height} in an image of "
                            f"{width}x{height}")
    stream = _Tokens(data, _HEADER.size)
    if kind in _PLT_FORMATS:
        if palette is None:
            raise ProtocolError("LZ palette image without a palette")
        min_stride = (width + _PLT_PIXELS_PER_BYTE[kind] - 1) // _PLT_PIXELS_PER_BYTE[kind]
        if not min_stride <= stride <= 4 * min_stride + 4:
            raise ProtocolError(f"LZ palette image stride {stride} for width {width}")
        indices = stream.decode(stride * height, unit=1, min_match=3)
        return to_xrgb(indices, _PLT_FORMATS[kind], width, height, stride, bool(top_down),
                       palette)
    pixels = width * height
    if kind == RGB16:
        units = np.frombuffer(stream.decode(pixels, unit=2, min_match=2), ">u2")
        xrgb = from_rgb555(units.astype(np.uint32))
    elif kind in (RGB24, RGB32, RGBA):
        bgr = np.frombuffer(stream.decode(pixels, unit=3, min_match=1), np.uint8)
        channels = bgr.reshape(pixels, 3).astype(np.uint32)
        if kind == RGBA:
            alpha = np.frombuffer(stream.decode(pixels, unit=1, min_match=3), np.uint8)
        else:
            alpha = np.zeros(pixels, np.uint8)
        xrgb = (channels[:, 0] | channels[:, 1] << 8 | channels[:, 2] << 16
                | alpha.astype(np.uint32) << 24).astype(np.uint32, copy=False)
    elif kind == XXXA:  # JPEG_ALPHA's alpha plane alone: pixels with only their top byte
        alpha = np.frombuffer(stream.decode(pixels, unit=1, min_match=3), np.uint8)
        xrgb = (alpha.astype(np.uint32) << 24).astype(np.uint32, copy=False)
    else:
        raise ProtocolError(f"LZ image of unknown type {kind}")
    rows: Pixels = xrgb.reshape(height, width)
    return rows if top_down else rows[::-1]


class _Tokens:
    """The token reader; positions are checked so a corrupt stream is a ProtocolError."""

    def __init__(self, data: memoryview, pos: int) -> None:
        self.data = data
        self.pos = pos

    def _byte(self) -> int:
        try:
            value = self.data[self.pos]
        except IndexError:
            raise ProtocolError("LZ image truncated") from None
        self.pos += 1
        return value

    def decode(self, count: int, unit: int, min_match: int) -> bytearray:
        """``count`` units of ``unit`` bytes; back-references are at least ``min_match``."""
        out = bytearray(count * unit)
        op = 0  # in units
        data = self.data
        while op < count:
            ctrl = self._byte()
            if ctrl < _MAX_COPY:  # literal run of ctrl + 1 units
                n = (ctrl + 1) * unit
                if self.pos + n > len(data) or op + ctrl + 1 > count:
                    raise ProtocolError("LZ literal run past the end of its image")
                out[op * unit:op * unit + n] = data[self.pos:self.pos + n]
                self.pos += n
                op += ctrl + 1
                continue
            length = (ctrl >> 5) - 1
            if length == 6:  # longer matches continue in 255-steps
                while True:
                    code = self._byte()
                    length += code
                    if code != 255:
                        break
            code = self._byte()
            distance = ((ctrl & 31) << 8) + code
            if code == 255 and ctrl & 31 == 31:  # a far match: 16 more bits of distance
                distance = (self._byte() << 8) + self._byte() + _MAX_DISTANCE
            length += min_match
            distance += 1
            ref = op - distance
            if ref < 0 or op + length > count:
                raise ProtocolError("LZ reference outside its image")
            start, end = ref * unit, (ref + length) * unit
            if distance >= length:
                out[op * unit:(op + length) * unit] = out[start:end]
            else:  # overlapping: the last `distance` units repeat (a run when distance is 1)
                pattern = bytes(out[start:op * unit])
                repeats = -(-length // distance)
                out[op * unit:(op + length) * unit] = (pattern * repeats)[:length * unit]
            op += length
        return out
